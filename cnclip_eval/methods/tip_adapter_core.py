"""Tip-Adapter's logits (Zhang et al., ECCV 2022), pure tensors in and out.

logits = 100 * f W^T + alpha * exp(-beta * (1 - f F^T)) L
where f are test image features, W the zero-shot classifier, F the K-shot cache keys (train image
features) and L their one-hot labels. Written by hand because it is three matrix products; the
official repository (gaopengcuhk/Tip-Adapter) is a script, not an importable library.
"""

from __future__ import annotations

import torch


def cache_logits(
    features: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, beta: float
) -> torch.Tensor:
    """features (N, D), keys (M, D), values (M, C) one-hot -> (N, C) cache affinities."""
    affinity = features @ keys.T  # (N, M), cosine for normalized features
    return torch.exp(-beta * (1.0 - affinity)) @ values


def tip_adapter_logits(
    features: torch.Tensor,
    classifier: torch.Tensor,
    keys: torch.Tensor,
    values: torch.Tensor,
    alpha: float,
    beta: float,
    logit_scale: float = 100.0,
) -> torch.Tensor:
    """features (N, D), classifier (C, D), keys (M, D), values (M, C) -> (N, C) logits."""
    zero_shot = logit_scale * features @ classifier.T  # (N, C)
    if alpha == 0.0:
        return zero_shot
    return zero_shot + alpha * cache_logits(features, keys, values, beta)


def one_hot(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """labels (M,) int -> (M, C) float one-hot cache values."""
    return torch.nn.functional.one_hot(labels.long(), num_classes).float()
