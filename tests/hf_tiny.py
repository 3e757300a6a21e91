"""Tiny random transformers checkpoints, one per family, built offline from the family's own config,
model, tokenizer and image-processor classes and saved as a checkpoint folder (with processor files).

Tokenizers come from files the installed packages ship (cn_clip's BERT vocabulary for
``chinese_clip``) or are built here from a small vocabulary (a Unigram for XLM-R-style ``altclip``
and ``siglip``, CLIP's byte-level BPE with no merges for ``clip``): what matters for fidelity is
that our pipeline and the reference read the same processor files.
"""

from __future__ import annotations

from pathlib import Path

import torch

from conftest import CLASSNAMES_EN, CLASSNAMES_ZH, TEMPLATES_ZH

KINDS = ("chinese_clip", "altclip", "clip", "siglip")
SIZE = 32  # image side
TOWER = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=37)
EN_TEMPLATES = ["a photo of a {c}.", "a blurry photo of the {c}."]


def _unigram_vocab(specials: list[str]) -> list[tuple[str, float]]:
    """Specials, every character of the test texts (alone and word-initial), and some whole words."""
    texts = [*CLASSNAMES_ZH, *CLASSNAMES_EN, *TEMPLATES_ZH, *EN_TEMPLATES, "一张图片 photo"]
    chars = sorted({ch for text in texts for ch in text if not ch.isspace()})
    words = sorted({w for text in texts for w in text.replace("{c}", " ").split()})
    pieces = [(s, 0.0) for s in specials]
    pieces += [(f"▁{w}", -2.0) for w in words] + [(c, -5.0) for c in chars] + [(f"▁{c}", -6.0) for c in chars]
    return list(dict.fromkeys(pieces))


def _tokenizer(kind: str):
    if kind == "chinese_clip":
        import cn_clip.clip
        from transformers import BertTokenizer

        vocab = Path(cn_clip.clip.__file__).parent / "vocab.txt"
        return BertTokenizer(vocab=str(vocab), model_max_length=52)
    if kind == "clip":
        from transformers import CLIPTokenizer
        from transformers.convert_slow_tokenizer import bytes_to_unicode

        symbols = list(bytes_to_unicode().values())
        tokens = ["<|startoftext|>", "<|endoftext|>", *symbols, *(f"{s}</w>" for s in symbols)]
        return CLIPTokenizer(vocab={t: i for i, t in enumerate(tokens)}, merges=[], model_max_length=77)
    from transformers import XLMRobertaTokenizer

    tokenizer = XLMRobertaTokenizer(vocab=_unigram_vocab(["<s>", "<pad>", "</s>", "<unk>", "<mask>"]))
    tokenizer.model_max_length = 16 if kind == "siglip" else 40
    return tokenizer


def _model_and_image_processor(kind: str, vocab_size: int, pad_id: int):
    import transformers as tf

    vision = dict(TOWER, image_size=SIZE, patch_size=8)
    text = dict(TOWER, vocab_size=vocab_size, pad_token_id=pad_id)
    if kind == "chinese_clip":
        config = tf.ChineseCLIPConfig(
            text_config=dict(text, max_position_embeddings=64), vision_config=vision, projection_dim=16
        )
        processor = tf.ChineseCLIPImageProcessor(size={"height": SIZE, "width": SIZE}, do_center_crop=False)
        return tf.ChineseCLIPModel(config), processor
    if kind == "altclip":
        config = tf.AltCLIPConfig(
            text_config=dict(text, max_position_embeddings=42, project_dim=24),
            vision_config=vision,
            projection_dim=16,
        )
        processor = tf.CLIPImageProcessor(size={"shortest_edge": SIZE}, crop_size=SIZE)
        return tf.AltCLIPModel(config), processor
    if kind == "clip":
        config = tf.CLIPConfig(
            text_config=dict(text, max_position_embeddings=77, bos_token_id=0, eos_token_id=1),
            vision_config=vision,
            projection_dim=16,
        )
        processor = tf.CLIPImageProcessor(size={"shortest_edge": SIZE}, crop_size=SIZE)
        return tf.CLIPModel(config), processor
    config = tf.SiglipConfig(
        text_config=dict(text, max_position_embeddings=16, bos_token_id=0, eos_token_id=2),
        vision_config=vision,
    )
    processor = tf.SiglipImageProcessor(size={"height": SIZE, "width": SIZE})
    return tf.SiglipModel(config), processor


def make_checkpoint(kind: str, folder: Path, seed: int = 0) -> Path:
    """A saved tiny random ``kind`` checkpoint with its processor files, in ``folder``."""
    import transformers as tf

    tokenizer = _tokenizer(kind)
    torch.manual_seed(seed)
    model, image_processor = _model_and_image_processor(kind, len(tokenizer), tokenizer.pad_token_id)
    processor_class = {
        "chinese_clip": tf.ChineseCLIPProcessor,
        "altclip": tf.AltCLIPProcessor,
        "clip": tf.CLIPProcessor,
        "siglip": tf.SiglipProcessor,
    }[kind]
    model.eval().save_pretrained(folder)
    processor_class(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(folder)
    return folder


def hub_offline(monkeypatch) -> None:
    """The Hugging Face hub answers as offline (no network attempt, no retries): huggingface_hub reads
    $HF_HUB_OFFLINE once at import, so the constant it reads is patched."""
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
