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


def cnclip_to_transformers(
    state: dict[str, torch.Tensor], layers: tuple[int, int]
) -> dict[str, torch.Tensor]:
    """A cn_clip ViT ``CLIP`` state dict in ``ChineseCLIPModel``'s layout (the key mapping written out:
    transformers no longer ships its conversion script). ``layers``: (vision, text) layer counts.

    The BERT tower has the same names under ``text_model.``; the ViT's fused ``in_proj`` splits into
    q/k/v, and the projections, applied as ``x @ proj`` by cn_clip, become ``nn.Linear`` weights (transposed).
    """
    out = {"logit_scale": state["logit_scale"], "text_projection.weight": state["text_projection"].T}
    out.update({f"text_model.{k[len('bert.') :]}": v for k, v in state.items() if k.startswith("bert.")})
    visual = {
        "embeddings.class_embedding": "class_embedding",
        "embeddings.patch_embedding.weight": "conv1.weight",
        "embeddings.position_embedding.weight": "positional_embedding",
        "pre_layrnorm.weight": "ln_pre.weight",  # sic: transformers' name
        "pre_layrnorm.bias": "ln_pre.bias",
        "post_layernorm.weight": "ln_post.weight",
        "post_layernorm.bias": "ln_post.bias",
    }
    out.update({f"vision_model.{ours}": state[f"visual.{theirs}"] for ours, theirs in visual.items()})
    out["visual_projection.weight"] = state["visual.proj"].T
    per_layer = {
        "self_attn.out_proj": "attn.out_proj",
        "layer_norm1": "ln_1",
        "layer_norm2": "ln_2",
        "mlp.fc1": "mlp.c_fc",
        "mlp.fc2": "mlp.c_proj",
    }
    for i in range(layers[0]):
        ours, theirs = f"vision_model.encoder.layers.{i}", f"visual.transformer.resblocks.{i}"
        for part in ("weight", "bias"):
            q, k, v = state[f"{theirs}.attn.in_proj_{part}"].chunk(3)
            out.update({f"{ours}.self_attn.q_proj.{part}": q, f"{ours}.self_attn.k_proj.{part}": k})
            out[f"{ours}.self_attn.v_proj.{part}"] = v
            for new, old in per_layer.items():
                out[f"{ours}.{new}.{part}"] = state[f"{theirs}.{old}.{part}"]
    return out


def convert_cnclip_checkpoint(loaded, arch_config: dict, folder: Path) -> Path:
    """A loaded cn_clip ViT model saved as a transformers ``chinese_clip`` checkpoint with a processor
    that does what cn_clip's ``image_transform`` does (PIL bicubic squash, CLIP mean/std) and cn_clip's
    tokenizer (its vocabulary, context 52)."""
    import cn_clip.clip
    import transformers as tf

    c = arch_config
    config = tf.ChineseCLIPConfig(
        text_config=dict(
            vocab_size=c["vocab_size"],
            hidden_size=c["text_hidden_size"],
            num_hidden_layers=c["text_num_hidden_layers"],
            num_attention_heads=c["text_num_attention_heads"],
            intermediate_size=c["text_intermediate_size"],
            max_position_embeddings=c["text_max_position_embeddings"],
            type_vocab_size=c["text_type_vocab_size"],
            hidden_act=c["text_hidden_act"],
        ),
        vision_config=dict(
            hidden_size=c["vision_width"],
            num_hidden_layers=c["vision_layers"],
            num_attention_heads=c["vision_width"] // c["vision_head_width"],
            intermediate_size=4 * c["vision_width"],  # cn_clip's ViT MLP ratio
            image_size=c["image_resolution"],
            patch_size=c["vision_patch_size"],
        ),
        projection_dim=c["embed_dim"],
    )
    model = tf.ChineseCLIPModel(config)
    state = cnclip_to_transformers(
        loaded.module.state_dict(), (c["vision_layers"], c["text_num_hidden_layers"])
    )
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not unexpected and all("position_ids" in k for k in missing), (missing, unexpected)
    model.eval().save_pretrained(folder)
    size = c["image_resolution"]
    image_processor = tf.ChineseCLIPImageProcessorPil(
        size={"height": size, "width": size}, do_center_crop=False
    )
    vocab = Path(cn_clip.clip.__file__).parent / "vocab.txt"
    tokenizer = tf.BertTokenizer(vocab=str(vocab), model_max_length=52)
    tf.ChineseCLIPProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(folder)
    return folder
