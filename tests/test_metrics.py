"""Metrics against scikit-learn on crafted inputs, and the 11-point mAP against its definition."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, average_precision_score, balanced_accuracy_score, roc_auc_score

from cnclip_eval.metrics import METRICS, eleven_point_average_precision

rng = np.random.default_rng(0)
SCORES = rng.normal(size=(200, 7))
LABELS = rng.integers(0, 7, size=200)


def test_top1_and_top5():
    assert METRICS.get("top1")(SCORES, LABELS) == pytest.approx(accuracy_score(LABELS, SCORES.argmax(1)))
    top5 = np.argsort(-SCORES, axis=1)[:, :5]
    assert METRICS.get("top5")(SCORES, LABELS) == pytest.approx(
        np.mean([y in row for y, row in zip(LABELS, top5)])
    )


def test_mean_per_class_recall_is_balanced_accuracy():
    expected = balanced_accuracy_score(LABELS, SCORES.argmax(1))
    assert METRICS.get("mean_per_class_recall")(SCORES, LABELS) == pytest.approx(expected)


def test_roc_auc_with_ties():
    scores = np.round(rng.normal(size=(300, 2)), 1)  # rounding makes ties
    labels = rng.integers(0, 2, size=300)
    expected = roc_auc_score(labels, scores[:, 1] - scores[:, 0])
    assert METRICS.get("roc_auc")(scores, labels) == pytest.approx(expected)


def test_mean_average_precision_multilabel():
    targets = (rng.random((150, 5)) < 0.3).astype(np.int8)
    scores = rng.normal(size=(150, 5)) + targets
    expected = np.mean([average_precision_score(targets[:, c], scores[:, c]) for c in range(5)])
    assert METRICS.get("mean_average_precision")(scores, targets) == pytest.approx(expected)


def test_eleven_point_ap_by_hand():
    # ranked: hit, miss, hit, miss, miss, hit -> precision at each rank 1, 1/2, 2/3, 2/4, 2/5, 3/6
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    positives = np.array([1, 0, 1, 0, 0, 1])
    # recall 1/3 after rank 1, 2/3 after rank 3, 1 after rank 6; max precision at recall >= r:
    # r in {0, .1, .2, .3}: 1; r in {.4, .5, .6}: 2/3; r in {.7, .8, .9, 1}: 1/2
    expected = (4 * 1 + 3 * (2 / 3) + 4 * 0.5) / 11
    assert eleven_point_average_precision(scores, positives) == pytest.approx(expected)


def test_map_11point_averages_classes():
    targets = np.array([[1, 0], [0, 1], [1, 1], [0, 0]])
    scores = np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3], [0.1, 0.2]])
    per_class = [eleven_point_average_precision(scores[:, c], targets[:, c]) for c in range(2)]
    assert METRICS.get("map_11point")(scores, targets) == pytest.approx(np.mean(per_class))
