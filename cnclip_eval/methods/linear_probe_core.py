"""Linear probe on K-shot features, head initialised from the text classifier (ELEVATER's form).

Full-batch L-BFGS on cross-entropy + weight_decay * ||W||^2, written with torch because the head must
start from the text classifier, which sklearn's LogisticRegression cannot take as its starting point.
"""

from __future__ import annotations

import torch


def train_linear_probe(
    features: torch.Tensor,
    labels: torch.Tensor,
    init: torch.Tensor,
    weight_decay: float,
    logit_scale: float = 100.0,
    steps: int = 200,
) -> torch.Tensor:
    """features (M, D), labels (M,), init (C, D) text classifier -> trained head (C, D)."""
    weight = init.detach().clone().float().requires_grad_(True)
    x = features.float()
    optimizer = torch.optim.LBFGS([weight], max_iter=steps, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(logit_scale * x @ weight.T, labels.long())
        loss = loss + weight_decay * weight.pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return weight.detach()
