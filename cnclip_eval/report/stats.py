"""Confidence intervals and paired significance tests from stored per-sample predictions.

Pure functions of numpy arrays. Every number a leaderboard prints stands on N test images; the
percentile bootstrap says how much it would move on another draw of N images from the same
distribution, and McNemar's test says whether two methods that saw the *same* images disagree
more in one direction than chance allows. Both are seeded, so a leaderboard is reproducible.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from cnclip_eval.metrics import METRICS
from cnclip_eval.results import Predictions, QueryRanks
from cnclip_eval.tasks.retrieval_metrics import RECALL_AT

DEFAULT_RESAMPLES = 1000
DEFAULT_LEVEL = 0.95
ALPHA = 0.05  # a delta is marked significant below this p-value
_CHUNK_ELEMENTS = 5_000_000  # resamples x samples drawn at once: bounds memory on ImageNet-sized N
EXACT_MCNEMAR_BELOW = 25  # discordant pairs; above this the chi-square approximation is accurate

# A metric on a subset of samples: indices (B, n) of B resamples -> (B,) values.
SubsetMetric = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Interval:
    low: float
    high: float
    level: float
    resamples: int


@dataclass(frozen=True)
class PairedTest:
    name: str  # "mcnemar-exact", "mcnemar-chi2" or "paired-bootstrap"
    p_value: float
    n: int  # paired samples the test stands on
    only_first: int | None = None  # samples only the first (baseline) got right (McNemar's b)
    only_second: int | None = None  # samples only the second got right (McNemar's c)

    @property
    def significant(self) -> bool:
        return self.p_value < ALPHA


def subset_metric(metric: str, predictions: Predictions) -> SubsetMetric | None:
    """How to recompute ``metric`` on resampled indices, or None if the stored data cannot.

    Top-1 and top-5 need only the stored top-k; mean per-class recall needs the top-1 and labels;
    ranking metrics (mAP, ROC-AUC) need the full scores, kept for the datasets that use them.
    """
    if isinstance(predictions, QueryRanks):
        return query_subset_metric(metric, predictions)
    labels, topk = predictions.labels, predictions.topk
    if metric in ("top1", "top5") and labels.ndim == 1:
        k = 1 if metric == "top1" else topk.shape[1]
        hit = np.any(topk[:, :k] == labels[:, None], axis=1).astype(np.float64)
        return lambda idx: hit[idx].mean(axis=1)
    if metric == "mean_per_class_recall" and labels.ndim == 1:
        num_classes = int(max(labels.max(), topk.max())) + 1
        correct = topk[:, 0] == labels
        return lambda idx: _mean_per_class_recall(labels[idx], correct[idx], num_classes)
    if metric in METRICS and predictions.scores is not None:
        scores = predictions.scores.astype(np.float32)
        fn = METRICS.get(metric)
        return lambda idx: np.array([fn(scores[row], labels[row]) for row in idx])
    return None


def query_subset_metric(metric: str, ranks: QueryRanks) -> SubsetMetric | None:
    """A retrieval metric on resampled queries: ``t2i_r5`` is the share of the resampled text->image
    queries with a positive in the top 5; ``mean_recall`` is the mean of every reported direction's
    R@1/5/10, each over that direction's resampled queries (queries are drawn from all directions at
    once, so a resample may hold a few more of one direction)."""
    directions = ranks.directions
    reported = [d for d in ("t2i", "i2t") if (directions == d).any()]
    if metric == "mean_recall":
        wanted = [(d, k) for d in reported for k in RECALL_AT]
    else:
        direction, _, k = metric.partition("_r")
        if direction not in reported or not k.isdigit():
            return None
        wanted = [(direction, int(k))]
    masks = {d: (directions == d).astype(np.float64) for d in reported}
    hits = {k: (ranks.ranks < k).astype(np.float64) for k in RECALL_AT}

    def values(idx: np.ndarray) -> np.ndarray:  # idx (B, n) -> (B,)
        found = []
        for direction, k in wanted:
            mask = masks[direction][idx]
            with np.errstate(invalid="ignore", divide="ignore"):
                found.append((hits[k][idx] * mask).sum(axis=1) / mask.sum(axis=1))
        return np.mean(found, axis=0)

    return values


def _mean_per_class_recall(labels: np.ndarray, correct: np.ndarray, num_classes: int) -> np.ndarray:
    """(B,) mean recall over the classes present in each resample; labels, correct are (B, n)."""
    offsets = (np.arange(len(labels)) * num_classes)[:, None]
    flat = (labels + offsets).ravel()
    size = len(labels) * num_classes
    support = np.bincount(flat, minlength=size).reshape(len(labels), num_classes)
    hits = np.bincount(flat, weights=correct.ravel(), minlength=size).reshape(len(labels), num_classes)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.nanmean(np.where(support > 0, hits / support, np.nan), axis=1)


def resample_indices(n: int, resamples: int, seed: int):
    """Yield (B, n) index blocks, ``resamples`` rows in all, from one seeded generator."""
    rng = np.random.default_rng(seed)
    per_chunk = max(1, _CHUNK_ELEMENTS // max(n, 1))
    for start in range(0, resamples, per_chunk):
        yield rng.integers(0, n, size=(min(per_chunk, resamples - start), n))


def bootstrap_interval(
    metric: SubsetMetric,
    n: int,
    resamples: int = DEFAULT_RESAMPLES,
    level: float = DEFAULT_LEVEL,
    seed: int = 0,
) -> Interval:
    """Percentile bootstrap interval of a metric over ``n`` samples."""
    values = np.concatenate([metric(idx) for idx in resample_indices(n, resamples, seed)])
    tail = (1 - level) / 2 * 100
    low, high = np.nanpercentile(values, [tail, 100 - tail])
    return Interval(float(low), float(high), level, resamples)


def mcnemar(first_correct: np.ndarray, second_correct: np.ndarray) -> PairedTest:
    """McNemar's test on paired 0/1 outcomes: exact binomial for few discordant pairs, else chi-square.

    Only the discordant pairs carry information: b images only the first method got right, c only
    the second. Under the null hypothesis each discordant pair goes either way with probability 1/2.
    """
    first_correct, second_correct = np.asarray(first_correct, bool), np.asarray(second_correct, bool)
    b = int(np.sum(first_correct & ~second_correct))
    c = int(np.sum(~first_correct & second_correct))
    n = len(first_correct)
    if b + c == 0:
        return PairedTest("mcnemar-exact", 1.0, n, b, c)
    if b + c < EXACT_MCNEMAR_BELOW:
        tail = sum(math.comb(b + c, i) for i in range(min(b, c) + 1)) / 2 ** (b + c)
        return PairedTest("mcnemar-exact", min(1.0, 2 * tail), n, b, c)
    statistic = (abs(b - c) - 1) ** 2 / (b + c)  # with Edwards' continuity correction
    return PairedTest("mcnemar-chi2", math.erfc(math.sqrt(statistic / 2)), n, b, c)


def paired_bootstrap(
    first: SubsetMetric, second: SubsetMetric, n: int, resamples: int = DEFAULT_RESAMPLES, seed: int = 0
) -> PairedTest:
    """Two-sided p-value of "the delta is zero" from the same resamples applied to both methods.

    For metrics that are not a mean of per-sample outcomes (mAP, ROC-AUC), where McNemar does not apply.
    """
    deltas = np.concatenate([second(idx) - first(idx) for idx in resample_indices(n, resamples, seed)])
    deltas = deltas[~np.isnan(deltas)]
    if len(deltas) == 0:
        return PairedTest("paired-bootstrap", 1.0, n)
    # the share of resamples on the other side of zero, doubled, with the +1 that keeps p > 0
    other_side = min(np.sum(deltas <= 0), np.sum(deltas >= 0))
    return PairedTest("paired-bootstrap", min(1.0, 2 * (other_side + 1) / (len(deltas) + 1)), n)


def align(
    first: Predictions | QueryRanks, second: Predictions | QueryRanks
) -> tuple[np.ndarray, np.ndarray] | None:
    """Row indices pairing the two predictions by sample key, or None if they saw different samples."""
    if len(first.keys) != len(second.keys):
        return None
    if np.array_equal(first.keys, second.keys):
        identity = np.arange(len(first.keys))
        return identity, identity
    order_first, order_second = np.argsort(first.keys), np.argsort(second.keys)
    if not np.array_equal(first.keys[order_first], second.keys[order_second]):
        return None
    return order_first, order_second


def compare(
    metric: str, first: Predictions, second: Predictions, resamples: int = DEFAULT_RESAMPLES, seed: int = 0
) -> PairedTest | None:
    """The paired test of ``second`` against ``first`` on ``metric``, or None when it cannot be run."""
    if isinstance(first, QueryRanks) != isinstance(second, QueryRanks):
        return None
    pairing = align(first, second)
    if pairing is None:
        return None
    if isinstance(first, QueryRanks):  # the same queries under two models: resample them together
        a = QueryRanks(first.keys[pairing[0]], first.ranks[pairing[0]])
        b = QueryRanks(second.keys[pairing[1]], second.ranks[pairing[1]])
        metric_a, metric_b = subset_metric(metric, a), subset_metric(metric, b)
        if metric_a is None or metric_b is None:
            return None
        return paired_bootstrap(metric_a, metric_b, len(a.keys), resamples, seed)
    a, b = _take(first, pairing[0]), _take(second, pairing[1])
    if metric == "top1" and a.labels.ndim == 1:
        return mcnemar(a.correct, b.correct)
    # other metrics (mean per-class recall weighs images by their class's size, mAP, ROC-AUC) are not
    # a plain count of correct images, so McNemar would test another quantity: resample the metric itself
    metric_a, metric_b = subset_metric(metric, a), subset_metric(metric, b)
    if metric_a is None or metric_b is None:
        return None
    return paired_bootstrap(metric_a, metric_b, len(a.keys), resamples, seed)


def _take(predictions: Predictions, rows: np.ndarray) -> Predictions:
    scores = None if predictions.scores is None else predictions.scores[rows]
    return Predictions(predictions.keys[rows], predictions.labels[rows], predictions.topk[rows], scores)
