"""K shots per class from a train split, and a validation set carved from what is left.

Every few-shot method of the project draws its shots here, with the same seed giving the same shots:
``coop train``, ``tip-adapter``, ``tip-adapter-f`` and ``linear-probe`` with ``shots=16, seed=1`` see
the same 16 images per class. The validation set that tunes a method's hyper-parameters comes from the
train split too, disjoint from the shots, so nothing tuned ever reads a test sample.
"""

from __future__ import annotations

import numpy as np

from cnclip_eval.errors import UserError

# the validation draw uses its own stream, so adding validation never changes which shots are drawn
VALIDATION_STREAM = 7919


def sample_shots(
    labels: np.ndarray, keys: np.ndarray, shots: int, seed: int, classnames: list[str]
) -> np.ndarray:
    """Indices of ``shots`` samples per class, drawn with ``seed`` (sorted by key first, so the draw
    does not depend on shard order); refuses classes with fewer images."""
    chosen, short = _draw_per_class(labels, keys, shots, np.random.default_rng(seed), len(classnames))
    if short:
        raise UserError(
            f"{shots} shots per class, but these classes have fewer train images: "
            + ", ".join(f"{c} {classnames[c]} ({n})" for c, n in short[:10])
        )
    return chosen


def sample_validation(
    labels: np.ndarray,
    keys: np.ndarray,
    shots: np.ndarray,
    per_class: int,
    seed: int,
    classnames: list[str],
) -> np.ndarray:
    """Indices of ``per_class`` samples per class that are not among ``shots`` (seeded, by key order);
    refuses classes that have too few images left, naming them and the counts needed."""
    rng = np.random.default_rng([seed, VALIDATION_STREAM])
    chosen, short = _draw_per_class(labels, keys, per_class, rng, len(classnames), excluded=shots)
    if short:
        raise UserError(
            f"a validation set of {per_class} per class carved from the train split after the shots, but "
            "these classes have too few train images left: "
            + ", ".join(f"{c} {classnames[c]} ({n} left)" for c, n in short[:10])
        )
    return chosen


def _draw_per_class(
    labels: np.ndarray,
    keys: np.ndarray,
    per_class: int,
    rng: np.random.Generator,
    num_classes: int,
    excluded: np.ndarray | None = None,
) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """(sorted indices of ``per_class`` samples of each class not in ``excluded``, [(class, available)]
    for the classes with too few). Members are taken in key order, so shard order does not matter."""
    available = np.ones(len(labels), dtype=bool)
    if excluded is not None:
        available[excluded] = False
    order = np.argsort(keys, kind="stable")
    chosen, short = [], []
    for c in range(num_classes):
        members = order[(labels[order] == c) & available[order]]
        if len(members) < per_class:
            short.append((c, len(members)))
            continue
        chosen.extend(rng.choice(members, size=per_class, replace=False).tolist())
    return np.array(sorted(chosen), dtype=np.int64), short
