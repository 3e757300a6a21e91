"""What a model provider returns, and what it is asked for."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch


@dataclass(frozen=True)
class ModelRequest:
    name: str  # a registered model name or a checkpoint path
    arch: str | None = None  # "VISION@TEXT" for checkpoints; each part a config name or JSON path
    cache_dir: Path | None = None  # where named weights are downloaded
    seed: int = 0  # initialisation of configs that have no checkpoint
    device: str = "cpu"
    use_modelscope: bool = False


@dataclass(frozen=True)
class ModelIdentity:
    """What the caches key a model by, known without building it (see ``identify_model``)."""

    weights_id: str  # as LoadedModel.weights_id
    arch: str
    image_size: int


@dataclass
class LoadedModel:
    model_id: str  # the name the user gave (or the checkpoint's file name)
    arch: str  # "ViT-B-16@RoBERTa-wwm-ext-base-chinese"
    module: torch.nn.Module  # cn_clip.clip.model.CLIP, fp32, eval mode, on the device
    image_size: int
    weights_id: str  # sha256 of the checkpoint, or "random:<config sha256>:seed=<n>"
    source: str  # where the weights came from, for provenance
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def identity(self) -> ModelIdentity:
        return ModelIdentity(self.weights_id, self.arch, self.image_size)

    @property
    def weights_sha256(self) -> str | None:
        return None if self.weights_id.startswith("random:") else self.weights_id

    def image_transform(self):
        """CN-CLIP's own preprocessing: squash resize (bicubic), RGB, CLIP mean/std."""
        from cn_clip.clip.utils import image_transform

        return image_transform(self.image_size)

    @property
    def device(self) -> torch.device:
        return next(self.module.parameters()).device
