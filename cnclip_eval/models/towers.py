"""Encoders for families whose module already has CLIP's ``encode_image`` / ``encode_text(ids)``
(cn_clip, open_clip): the module derives the text mask from the ids itself (cn_clip from ``[PAD]``,
open_clip from its pad id or causal mask), so the contract's mask is not passed on."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


class ImageTower:
    def __init__(self, module: torch.nn.Module) -> None:
        self.module = module

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        return self.module.encode_image(images)  # (B, D)


class TextTower:
    def __init__(self, module: torch.nn.Module) -> None:
        self.module = module

    def __call__(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.module.encode_text(ids)  # (B, D)
