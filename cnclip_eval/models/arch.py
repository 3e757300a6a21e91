"""Architecture configs: ``VISION@TEXT``, each part a config name or a path to a JSON file.

Names are looked up in this package's ``configs/`` first (small configs such as ``tiny-vit``), then
in cn_clip's own ``model_configs/``. The files have cn_clip's form: the vision part gives
``embed_dim``, ``image_resolution``, ``vision_*``; the text part gives ``vocab_size`` and ``text_*``.
"""

from __future__ import annotations

import json
from pathlib import Path

from cnclip_eval.errors import UserError

OWN_CONFIGS = Path(__file__).parent / "configs"
VISION_KEYS = {"embed_dim", "image_resolution", "vision_layers", "vision_width", "vision_patch_size"}
TEXT_KEYS = {"vocab_size", "text_hidden_size", "text_num_hidden_layers", "text_num_attention_heads"}


def cn_clip_config_dir() -> Path:
    import cn_clip.clip

    return Path(cn_clip.clip.__file__).parent / "model_configs"


def config_names() -> list[str]:
    names = {p.stem for p in OWN_CONFIGS.glob("*.json")} | {
        p.stem for p in cn_clip_config_dir().glob("*.json")
    }
    return sorted(names)


def _read_part(part: str, role: str, required: set[str]) -> dict:
    candidates = [Path(part)] if part.endswith(".json") or "/" in part else []
    candidates += [OWN_CONFIGS / f"{part}.json", cn_clip_config_dir() / f"{part.replace('/', '-')}.json"]
    path = next((p for p in candidates if p.is_file()), None)
    if path is None:
        raise UserError(
            f"{role} architecture {part!r}: no such config file or name; known names: {', '.join(config_names())}"
        )
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise UserError(f"{path}: not valid JSON ({error})") from None
    missing = required - set(config)
    if missing:
        raise UserError(f"{path}: a {role} config needs the keys {sorted(missing)}")
    return config


def load_arch_config(arch: str) -> dict:
    """The keyword arguments of ``cn_clip.clip.model.CLIP`` for ``VISION@TEXT``."""
    vision, sep, text = arch.partition("@")
    if not sep or not vision or not text:
        raise UserError(f"--arch {arch!r}: expected VISION@TEXT, e.g. ViT-B-16@RoBERTa-wwm-ext-base-chinese")
    config = {**_read_part(vision, "vision", VISION_KEYS), **_read_part(text, "text", TEXT_KEYS)}
    if isinstance(config["vision_layers"], str):  # cn_clip's RN50 config writes "[3, 4, 6, 3]"
        config["vision_layers"] = json.loads(config["vision_layers"])
    return config
