"""Model providers: a registry of functions ``ModelRequest -> LoadedModel``.

``--model`` takes a registered name (``ViT-B-16``, ``tiny``, ...) or a checkpoint path (with
``--arch VISION@TEXT``). Third-party providers register under the entry-point group
``cnclip_eval.models``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from cnclip_eval.models.base import LoadedModel, ModelIdentity, ModelRequest
from cnclip_eval.models.cnclip import identity_of, load_checkpoint, named_cnclip, small_config
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


def _is_checkpoint(request: ModelRequest) -> bool:
    looks_like_file = (
        Path(request.name).suffix in {".pt", ".pth", ".bin", ".ckpt"} or Path(request.name).is_file()
    )
    return request.name not in MODELS and looks_like_file


def load_model(request: ModelRequest) -> LoadedModel:
    """Resolve ``request.name`` (a registered name, else a checkpoint path) and load it."""
    if _is_checkpoint(request):
        return load_checkpoint(request)
    return MODELS.get(request.name)(request)


def identify_model(request: ModelRequest) -> ModelIdentity | None:
    """The model's cache identity without building it, or None where only loading can tell.

    Weights are identified by the sha256 of their file, as the feature and classifier caches key
    them (not by size and mtime: a checkpoint copied or touched in place is the same weights, and
    one replaced by another file of the same size and second is not). Hashing reads the file once
    per process, which the load that follows needs anyway; published weights are hashed only once
    downloaded. A provider tells its identity through an ``identify(request)`` attribute; one
    without it (a plugin) is loaded first, which costs what the run costs anyway.
    """
    if _is_checkpoint(request):
        if not request.arch or not Path(request.name).is_file():
            return None  # load_checkpoint says what is wrong
        return identity_of(request, request.arch, Path(request.name))
    identify = getattr(MODELS.get(request.name), "identify", None)
    return identify(request) if identify is not None else None


__all__ = [
    "MODELS",
    "DEFAULT_MODEL",
    "LoadedModel",
    "ModelIdentity",
    "ModelRequest",
    "identify_model",
    "load_model",
]
