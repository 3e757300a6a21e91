"""Model providers: a registry of functions ``ModelRequest -> LoadedModel``.

``--model`` takes a registered name (``ViT-B-16``, ``tiny``, ...) or a checkpoint path (with
``--arch VISION@TEXT``). Third-party providers register under the entry-point group
``cnclip_eval.models``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from cnclip_eval.models.base import LoadedModel, ModelRequest
from cnclip_eval.models.cnclip import load_checkpoint, named_cnclip, small_config
from cnclip_eval.registry import Registry

ModelProvider = Callable[[ModelRequest], LoadedModel]
MODELS: Registry[ModelProvider] = Registry("model")

_PUBLISHED = {
    "RN50": "ResNet-50 + RBT3, 77M parameters",
    "ViT-B-16": "ViT-B/16 + RoBERTa-wwm-ext-base, 188M parameters (default)",
    "ViT-L-14": "ViT-L/14 + RoBERTa-wwm-ext-base, 406M parameters",
    "ViT-L-14-336": "ViT-L/14 at 336px + RoBERTa-wwm-ext-base, 407M parameters",
    "ViT-H-14": "ViT-H/14 + RoBERTa-wwm-ext-large, 958M parameters",
}
for _name, _summary in _PUBLISHED.items():
    MODELS.add(_name, named_cnclip(_name), f"CN-CLIP {_summary}")
MODELS.add(
    "tiny", small_config("tiny-vit@tiny-bert"), "tiny random CN-CLIP (32px ViT, 2-layer BERT) for tests"
)
MODELS.add(
    "demo",
    "cnclip_eval.demo.model:provide",
    "tiny CN-CLIP trained on synthetic shapes, shipped (a demonstration model, not CN-CLIP)",
)
MODELS.add(
    "random", small_config("tiny-vit@tiny-bert"), "random weights for any --arch (default tiny), for timing"
)

DEFAULT_MODEL = "ViT-B-16"


def load_model(request: ModelRequest) -> LoadedModel:
    """Resolve ``request.name`` (a registered name, else a checkpoint path) and load it."""
    looks_like_file = (
        Path(request.name).suffix in {".pt", ".pth", ".bin", ".ckpt"} or Path(request.name).is_file()
    )
    if request.name not in MODELS and looks_like_file:
        return load_checkpoint(request)
    return MODELS.get(request.name)(request)


__all__ = ["MODELS", "DEFAULT_MODEL", "LoadedModel", "ModelRequest", "load_model"]
