"""The few-shot side of the method contract: methods that learn from K labelled train images per class.

A zero-shot method builds a ``(C, D)`` classifier from texts (:mod:`.base`). A few-shot method
(``tip-adapter``, ``tip-adapter-f``, ``linear-probe``) also sees image features of the train split:
K shots per class and a validation set carved from the rest of the train split (:mod:`.shots`), both
encoded by the same cached image pass. Its ``fit`` returns a :class:`Scorer` that turns test image
features into logits. The test features reach only the scorer, after fitting and tuning are done, so
nothing tuned reads a test sample. The zero-shot methods and what they see are unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from cnclip_eval.errors import UserError
from cnclip_eval.methods.base import MethodBase, MethodContext, Option

if TYPE_CHECKING:  # `ls methods` reads the registry without importing torch
    import torch


@dataclass(frozen=True)
class Shots:
    """Image features of labelled train samples (rows L2-normalized) and their keys."""

    features: torch.Tensor  # (M, D) float32
    labels: torch.Tensor  # (M,) int64
    keys: list[str]


@dataclass
class FewShotContext:
    """What a few-shot method learns from: the texts (as a zero-shot method sees them), the text
    classifier of the template baseline, the shots and the validation set."""

    method: MethodContext
    zero_shot: torch.Tensor  # (C, D) the baseline's text classifier, rows L2-normalized
    shots: Shots  # K per class
    validation: Shots  # carved from the train split, disjoint from the shots
    logit_scale: float

    @property
    def options(self) -> dict[str, Any]:
        return self.method.options

    @property
    def num_classes(self) -> int:
        return int(self.zero_shot.shape[0])


class Scorer(Protocol):
    provenance: dict[str, Any]  # what was learned and tuned (chosen hyper-parameters, validation accuracy)

    def scores(self, features: torch.Tensor) -> torch.Tensor:
        """(N, D) test image features -> (N, C) logits."""
        ...


class FewShotMethod(Protocol):
    name: str
    summary: str
    options: tuple[Option, ...]
    few_shot: bool  # True: the task hands ``fit`` a FewShotContext instead of calling ``build``

    def fit(self, ctx: FewShotContext) -> Scorer: ...


# options every few-shot method takes: how many shots, which draw, how large a validation set
SHOT_OPTIONS: tuple[Option, ...] = (
    Option("shots", int, 16, "K: train images per class (drawn as `coop train` draws them)"),
    Option("seed", int, 1, "seed of the shot and validation draws (and of any training)"),
    Option(
        "val_shots",
        int,
        4,
        "images per class carved from the rest of the train split to tune hyper-parameters on",
    ),
)


class FewShotMethodBase(MethodBase):
    few_shot = True
    kind = "few-shot"
    options: tuple[Option, ...] = SHOT_OPTIONS

    def build(self, ctx: MethodContext):
        raise UserError(
            f"method {self.name!r} is few-shot: it scores image features with what it learned from the train "
            "split and has no text-only classifier to build here"
        )

    def refuses(self, options: dict[str, Any], languages: tuple[str, ...]) -> str | None:
        for name in ("shots", "val_shots"):
            if options.get(name, 1) < 1:
                return f"option {name!r} must be at least 1, not {options[name]}"
        return None


def is_few_shot(method: Any) -> bool:
    return bool(getattr(method, "few_shot", False))


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Top-1 accuracy in [0, 1] (validation tuning)."""
    return float((logits.argmax(dim=1) == labels).float().mean())
