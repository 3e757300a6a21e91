"""Tiny random open_clip models, registered offline as open_clip model configs.

``tiny-oc-clip``: open_clip's own vision and text transformers with CLIP's BPE tokenizer (the
vocabulary ships inside open_clip). ``tiny-oc-xlmr``: an XLM-R text tower (transformers' config
class, mean pooling, as the LAION XLM-R models) with an XLM-R tokenizer built from a small
vocabulary (:mod:`hf_tiny`), both saved in a folder the config names.
"""

from __future__ import annotations

import json
from pathlib import Path

KINDS = ("tiny-oc-clip", "tiny-oc-xlmr")
VISION = {"image_size": 32, "layers": 2, "width": 32, "head_width": 16, "patch_size": 8}


def _xlmr_folder(folder: Path) -> Path:
    from transformers import XLMRobertaConfig

    from hf_tiny import _tokenizer

    tokenizer = _tokenizer("altclip")
    tokenizer.save_pretrained(folder)
    XLMRobertaConfig(
        vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=37, max_position_embeddings=42, pad_token_id=tokenizer.pad_token_id,
    ).save_pretrained(folder)  # fmt: skip
    return folder


def register(kind: str, folder: Path) -> str:
    """Writes ``kind``'s config into ``folder`` and adds it to open_clip's model configs; its name."""
    import open_clip

    folder.mkdir(parents=True, exist_ok=True)
    if kind == "tiny-oc-clip":
        text = {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 2}
    else:
        hf = str(_xlmr_folder(folder / "xlm-roberta-tiny"))  # the name says what it reads
        text = {
            "hf_model_name": hf, "hf_tokenizer_name": hf, "hf_pooler_type": "mean_pooler",
            "hf_proj_type": "linear", "context_length": 16,
        }  # fmt: skip
    config = folder / f"{kind}.json"
    config.write_text(json.dumps({"embed_dim": 24, "vision_cfg": VISION, "text_cfg": text}), encoding="utf-8")
    open_clip.add_model_config(config)
    return kind
