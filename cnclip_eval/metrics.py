"""Classification metrics: pure functions of (scores, labels) -> float, registered by name.

``scores`` is (N, C) (logits or probabilities; only their order matters), ``labels`` is (N,) class
indices for single-label data or (N, C) 0/1 for multi-label data. Every metric returns a fraction
in [0, 1]. Datasets name their main metric (ELEVATER's choice) from this registry.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from cnclip_eval.registry import Registry

Metric = Callable[[np.ndarray, np.ndarray], float]
METRICS: Registry[Metric] = Registry("metric")


def topk_accuracy(scores: np.ndarray, labels: np.ndarray, k: int) -> float:
    k = min(k, scores.shape[1])
    # argpartition is O(N*C); ties are broken the same way as a stable argsort on -scores
    topk = np.argsort(-scores, axis=1, kind="stable")[:, :k]  # (N, k)
    return float(np.mean(np.any(topk == labels[:, None], axis=1)))


@METRICS.register("top1", "top-1 accuracy")
def top1(scores: np.ndarray, labels: np.ndarray) -> float:
    return topk_accuracy(scores, labels, 1)


@METRICS.register("top5", "top-5 accuracy (top-C when there are fewer than 5 classes)")
def top5(scores: np.ndarray, labels: np.ndarray) -> float:
    return topk_accuracy(scores, labels, 5)


def per_class_recall(predicted: np.ndarray, labels: np.ndarray, num_classes: int) -> np.ndarray:
    """(C,) recall of each class; NaN for classes absent from ``labels``."""
    support = np.bincount(labels, minlength=num_classes).astype(float)
    hits = np.bincount(labels[predicted == labels], minlength=num_classes).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return hits / support


@METRICS.register("mean_per_class_recall", "mean per-class accuracy (balanced accuracy) over present classes")
def mean_per_class_recall(scores: np.ndarray, labels: np.ndarray) -> float:
    recall = per_class_recall(scores.argmax(axis=1), labels, scores.shape[1])
    return float(np.nanmean(recall))


def average_precision(scores: np.ndarray, positives: np.ndarray) -> float:
    """Non-interpolated AP of one class: mean precision at the rank of each positive."""
    order = np.argsort(-scores, kind="stable")
    hits = positives[order].astype(bool)
    if not hits.any():
        return float("nan")
    precision_at_hit = np.cumsum(hits)[hits] / (np.flatnonzero(hits) + 1)
    return float(precision_at_hit.mean())


def eleven_point_average_precision(scores: np.ndarray, positives: np.ndarray) -> float:
    """PASCAL VOC 2007 AP: mean over recall r in {0, 0.1, ..., 1} of the max precision at recall >= r."""
    order = np.argsort(-scores, kind="stable")
    hits = positives[order].astype(bool)
    n_pos = hits.sum()
    if n_pos == 0:
        return float("nan")
    tp = np.cumsum(hits)
    precision = tp / np.arange(1, len(hits) + 1)
    recall = tp / n_pos
    points = [precision[recall >= r].max() if np.any(recall >= r) else 0.0 for r in np.linspace(0, 1, 11)]
    return float(np.mean(points))


def _as_multilabel(scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    if labels.ndim == 2:
        return labels
    onehot = np.zeros(scores.shape, dtype=np.int8)
    onehot[np.arange(len(labels)), labels] = 1
    return onehot


@METRICS.register("mean_average_precision", "mean over classes of average precision (multi-label)")
def mean_average_precision(scores: np.ndarray, labels: np.ndarray) -> float:
    targets = _as_multilabel(scores, labels)
    aps = [average_precision(scores[:, c], targets[:, c]) for c in range(scores.shape[1])]
    return float(np.nanmean(aps))


@METRICS.register("map_11point", "PASCAL VOC 2007 11-point interpolated mAP (multi-label)")
def map_11point(scores: np.ndarray, labels: np.ndarray) -> float:
    targets = _as_multilabel(scores, labels)
    aps = [eleven_point_average_precision(scores[:, c], targets[:, c]) for c in range(scores.shape[1])]
    return float(np.nanmean(aps))


@METRICS.register("roc_auc", "ROC-AUC of the positive class (binary tasks; class 1 is positive)")
def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Mann-Whitney form of the AUC, with ties counted one half; the score is the margin of class 1."""
    margin = scores[:, 1] - scores[:, 0] if scores.ndim == 2 else scores
    positives = labels == 1
    n_pos, n_neg = positives.sum(), (~positives).sum()
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = _average_ranks(margin)
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks with ties given their average rank (as scipy.stats.rankdata)."""
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    ranks = np.empty(len(values), dtype=float)
    boundaries = np.flatnonzero(np.diff(sorted_values)) + 1
    starts = np.concatenate([[0], boundaries])
    ends = np.concatenate([boundaries, [len(values)]])
    for start, end in zip(starts, ends):
        ranks[order[start:end]] = (start + end + 1) / 2
    return ranks


def compute_metrics(names: list[str], scores: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    return {name: METRICS.get(name)(scores, labels) for name in names}
