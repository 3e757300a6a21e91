"""``linear-probe``: logistic regression on the K-shot image features, its head initialised from the
zero-shot text classifier (ELEVATER's language-initialised linear probe, Li et al., arXiv 2204.08790),
the L2 weight chosen on a validation set carved from the train split (ELEVATER searches it on a
validation split of the train data too)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cnclip_eval.methods.base import Option
from cnclip_eval.methods.fewshot import SHOT_OPTIONS, FewShotContext, FewShotMethodBase, accuracy

if TYPE_CHECKING:  # `ls methods` reads the registry without importing torch
    import torch

WEIGHT_DECAYS = (0.0, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1)  # the validation search grid


@dataclass
class LinearScorer:
    head: torch.Tensor  # (C, D)
    logit_scale: float
    provenance: dict[str, Any] = field(default_factory=dict)

    def scores(self, features: torch.Tensor) -> torch.Tensor:
        return self.logit_scale * features @ self.head.T


class LinearProbe(FewShotMethodBase):
    name = "linear-probe"
    summary = (
        "linear probe: logistic regression on K-shot train features, head initialised from the text "
        "classifier, L2 weight chosen on a validation set carved from the train split (ELEVATER)"
    )
    options: tuple[Option, ...] = SHOT_OPTIONS + (
        Option("weight_decay", float, None, "L2 weight; None: the best on the validation set of a grid"),
        Option("steps", int, 200, "L-BFGS iterations"),
    )  # fmt: skip

    def fit(self, ctx: FewShotContext) -> LinearScorer:
        from cnclip_eval.methods.linear_probe_core import train_linear_probe

        options, shots, val = ctx.options, ctx.shots, ctx.validation
        grid = [options["weight_decay"]] if options["weight_decay"] is not None else WEIGHT_DECAYS
        best = None
        for weight_decay in grid:
            head = train_linear_probe(
                shots.features, shots.labels, ctx.zero_shot, weight_decay, ctx.logit_scale, options["steps"]
            )
            found = accuracy(ctx.logit_scale * val.features @ head.T, val.labels)
            if best is None or found > best[0]:  # first best wins: the weakest decay on ties
                best = (found, weight_decay, head)
        val_accuracy, weight_decay, head = best
        train_accuracy = accuracy(ctx.logit_scale * shots.features @ head.T, shots.labels)
        return LinearScorer(
            head,
            ctx.logit_scale,
            {
                "weight_decay": weight_decay,
                "validation_accuracy": val_accuracy,
                "train_accuracy": train_accuracy,
                "trainable_params": int(head.numel()),
            },
        )
