"""``tip-adapter`` and ``tip-adapter-f`` (Zhang et al., "Tip-Adapter", ECCV 2022, arXiv 2207.09519).

Tip-Adapter keeps the zero-shot text classifier and adds a cache model built from the K-shot train
features: ``logits = 100 f W^T + alpha * exp(-beta (1 - f F^T)) L`` (:mod:`.tip_adapter_core`).
Tip-Adapter-F also fine-tunes the cache keys ``F`` with cross-entropy on the shots. As in the
official code, alpha and beta are chosen by a grid search (``search_scale`` x ``search_step``) on a
validation set; here it is carved from the train split (:mod:`.shots`), never the test split, and
Tip-F's best epoch is chosen on it too (the official script picks it on the test features).

Departure from the official code, said in every result's provenance: the cache keys and Tip-F's
training use the cached features of the un-augmented shots (the official code averages 10 augmented
views and augments each training epoch); that would need another image pass per view and epoch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cnclip_eval.methods.base import Option
from cnclip_eval.methods.fewshot import SHOT_OPTIONS, FewShotContext, FewShotMethodBase, accuracy

if TYPE_CHECKING:  # `ls methods` reads the registry without importing torch
    import torch

# the official ImageNet config's search ranges (configs/imagenet.yaml: search_scale [7, 3]); the
# steps are fewer than its [200, 20] (a finer beta grid changes the choice by little and costs more)
BETA_RANGE, ALPHA_RANGE = (0.1, 7.0), (0.1, 3.0)
SEARCH_STEPS = (50, 20)  # beta, alpha
SCORE_CHUNK = 4096  # test images scored at a time


def search_grid(low_high: tuple[float, float], steps: int) -> list[float]:
    """The official ``search_hp`` grid: ``low + i * (high - low) / steps`` for i < steps."""
    low, high = low_high
    return [low + i * (high - low) / steps for i in range(steps)]


def search_alpha_beta(
    ctx: FewShotContext, keys: torch.Tensor, alpha: float | None, beta: float | None
) -> tuple[float, float, float]:
    """The (alpha, beta) with the best validation accuracy (given values are kept), and that accuracy."""
    from cnclip_eval.methods.tip_adapter_core import cache_logits, one_hot

    val, values = ctx.validation, one_hot(ctx.shots.labels, ctx.num_classes)
    zero_shot = ctx.logit_scale * val.features @ ctx.zero_shot.T
    betas = [beta] if beta is not None else search_grid(BETA_RANGE, SEARCH_STEPS[0])
    alphas = [alpha] if alpha is not None else search_grid(ALPHA_RANGE, SEARCH_STEPS[1])
    best = (-1.0, 0.0, 0.0)
    for b in betas:
        cache = cache_logits(val.features, keys, values, b)
        for a in alphas:
            found = accuracy(zero_shot + a * cache, val.labels)
            if found > best[0]:  # first best wins: the smallest beta, then alpha, on ties
                best = (found, a, b)
    return best[1], best[2], best[0]


@dataclass
class TipScorer:
    zero_shot: torch.Tensor  # (C, D)
    keys: torch.Tensor  # (M, D) cache keys (trained ones for Tip-F)
    values: torch.Tensor  # (M, C) one-hot
    alpha: float
    beta: float
    logit_scale: float
    provenance: dict[str, Any] = field(default_factory=dict)

    def scores(self, features: torch.Tensor) -> torch.Tensor:
        import torch

        from cnclip_eval.methods.tip_adapter_core import tip_adapter_logits

        # in chunks: the (N, M) affinities of ImageNet's 50k test images and 16k shots would be 3 GB each
        return torch.cat(
            [
                tip_adapter_logits(chunk, self.zero_shot, self.keys, self.values, self.alpha, self.beta,
                                   self.logit_scale)
                for chunk in features.split(SCORE_CHUNK)
            ]
        )  # fmt: skip


TIP_OPTIONS: tuple[Option, ...] = (
    Option("alpha", float, None, "residual ratio of the cache; None: searched on the validation set"),
    Option("beta", float, None, "sharpness of the cache affinities; None: searched on the validation set"),
)

DEPARTURE = "cache keys and training from un-augmented cached shot features (official: augmented views)"


class TipAdapter(FewShotMethodBase):
    name = "tip-adapter"
    summary = (
        "Tip-Adapter: zero-shot logits plus a training-free cache of K-shot train features; alpha, beta "
        "searched on a validation set carved from the train split (arXiv 2207.09519)"
    )
    options: tuple[Option, ...] = SHOT_OPTIONS + TIP_OPTIONS

    def fit(self, ctx: FewShotContext) -> TipScorer:
        from cnclip_eval.methods.tip_adapter_core import one_hot

        keys = ctx.shots.features
        alpha, beta, val_accuracy = search_alpha_beta(ctx, keys, ctx.options["alpha"], ctx.options["beta"])
        return TipScorer(
            ctx.zero_shot, keys, one_hot(ctx.shots.labels, ctx.num_classes), alpha, beta, ctx.logit_scale,
            {"alpha": alpha, "beta": beta, "validation_accuracy": val_accuracy, "departure": DEPARTURE,
             "trainable_params": 0},  # training-free
        )  # fmt: skip


class TipAdapterF(FewShotMethodBase):
    name = "tip-adapter-f"
    summary = (
        "Tip-Adapter-F: Tip-Adapter with its cache keys fine-tuned on the shots (AdamW, cosine schedule); "
        "best epoch, alpha and beta chosen on the validation set (arXiv 2207.09519)"
    )
    options: tuple[Option, ...] = SHOT_OPTIONS + TIP_OPTIONS + (
        Option("epochs", int, 20, "training epochs (official: 20)"),
        Option("lr", float, 0.001, "AdamW learning rate (official: 0.001)"),
        Option("batch_size", int, 256, "training batch size (official: 256)"),
        Option("train_alpha", float, 1.0, "alpha while training (official init_alpha; 1 for most datasets)"),
        Option("train_beta", float, 1.0, "beta while training (official init_beta)"),
    )  # fmt: skip

    def fit(self, ctx: FewShotContext) -> TipScorer:
        from cnclip_eval.methods.tip_adapter_core import one_hot

        options = ctx.options
        keys, log = train_cache_keys(ctx, options)
        alpha, beta, val_accuracy = search_alpha_beta(ctx, keys, options["alpha"], options["beta"])
        return TipScorer(
            ctx.zero_shot, keys, one_hot(ctx.shots.labels, ctx.num_classes), alpha, beta, ctx.logit_scale,
            {"alpha": alpha, "beta": beta, "validation_accuracy": val_accuracy, **log, "departure": DEPARTURE,
             "trainable_params": int(keys.numel())},  # the cache keys
        )  # fmt: skip


def train_cache_keys(ctx: FewShotContext, options: dict) -> tuple[torch.Tensor, dict]:
    """Tip-F's training: the cache keys as a learnable (M, D) matrix, cross-entropy of the Tip logits on
    the shots; the keys of the epoch with the best validation accuracy (first best on ties)."""
    import torch

    from cnclip_eval.methods.tip_adapter_core import one_hot, tip_adapter_logits

    generator = torch.Generator().manual_seed(options["seed"])
    shots, val = ctx.shots, ctx.validation
    values = one_hot(shots.labels, ctx.num_classes)
    keys = torch.nn.Parameter(shots.features.detach().clone())
    optimizer = torch.optim.AdamW([keys], lr=options["lr"], eps=1e-4)
    batches = -(-len(shots.labels) // options["batch_size"])
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, options["epochs"] * batches)
    alpha, beta = options["train_alpha"], options["train_beta"]

    def logits(features: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        return tip_adapter_logits(features, ctx.zero_shot, k, values, alpha, beta, ctx.logit_scale)

    with torch.no_grad():
        best_accuracy, best_epoch = accuracy(logits(val.features, keys), val.labels), 0
    best_keys, losses = keys.detach().clone(), []
    for epoch in range(1, options["epochs"] + 1):
        order = torch.randperm(len(shots.labels), generator=generator)
        total = 0.0
        for batch in order.split(options["batch_size"]):
            loss = torch.nn.functional.cross_entropy(logits(shots.features[batch], keys), shots.labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            total += loss.item() * len(batch)
        losses.append(round(total / len(order), 6))  # the epoch's mean loss
        with torch.no_grad():
            found = accuracy(logits(val.features, keys), val.labels)
        if found > best_accuracy:
            best_accuracy, best_epoch, best_keys = found, epoch, keys.detach().clone()
    return best_keys, {"best_epoch": best_epoch, "losses": losses}
