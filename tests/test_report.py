"""Leaderboards: ranking math, bootstrap and McNemar against scipy and hand counts, formats, `check`."""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import replace

import numpy as np
import pytest
import scipy.stats

from cnclip_eval.metrics import METRICS
from cnclip_eval.report import stats
from cnclip_eval.report.leaderboard import Entry, average_ranks, build_leaderboard
from cnclip_eval.report.render import FORMATS, to_json
from cnclip_eval.results import Predictions, ResultRecord, save_result


def record(model, method, dataset, score, metric="top1", n=100, created="2026-12-01T00:00:00+00:00"):
    return ResultRecord(model, dataset, "test", method, method, metric, {metric: score}, n, created=created)


def predictions_with(correct: np.ndarray, num_classes: int = 4, seed: int = 0) -> Predictions:
    """Predictions whose top-1 is right exactly where ``correct`` is True."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, num_classes, len(correct))
    top1 = np.where(correct, labels, (labels + 1) % num_classes)
    topk = np.stack([top1, (top1 + 1) % num_classes], axis=1).astype(np.int32)
    keys = np.array([f"s{i:04d}" for i in range(len(correct))])
    return Predictions(keys, labels, topk)


# ranking


def test_average_ranks_share_ties():
    ranks = average_ranks({("m", "a"): 0.9, ("m", "b"): 0.5, ("m", "c"): 0.9, ("m", "d"): 0.1})
    assert ranks == {("m", "a"): 1.5, ("m", "c"): 1.5, ("m", "b"): 3.0, ("m", "d"): 4.0}


def test_leaderboard_deltas_means_and_ranks():
    entries = [
        Entry(record("M", "baseline", "d1", 0.50)),
        Entry(record("M", "baseline", "d2", 0.80)),
        Entry(record("M", "llm", "d1", 0.60)),
        Entry(record("M", "llm", "d2", 0.70)),
        Entry(record("N", "baseline", "d1", 0.40)),
    ]
    board = build_leaderboard(entries, confidence=False)
    rows = {r.key: r for r in board.rows}
    assert board.datasets == ["d1", "d2"]
    llm = rows[("M", "llm")]
    assert llm.cells["d1"].delta == pytest.approx(0.10) and llm.cells["d2"].delta == pytest.approx(-0.10)
    assert llm.mean == pytest.approx(0.65) and llm.mean_delta == pytest.approx(0.0)
    # d1: llm 1st, M/baseline 2nd, N 3rd; d2: M/baseline 1st, llm 2nd
    assert (
        llm.mean_rank == 1.5
        and rows[("M", "baseline")].mean_rank == 1.5
        and rows[("N", "baseline")].mean_rank == 3
    )
    assert rows[("M", "baseline")].cells["d1"].delta is None
    assert [r.key for r in board.rows][:2] == [
        ("M", "baseline"),
        ("M", "llm"),
    ]  # tie on rank: higher mean first
    assert any("N / baseline" in note for note in board.notes)  # a row without every dataset is named


def test_newest_result_wins():
    old = Entry(record("M", "baseline", "d", 0.1, created="2026-01-01T00:00:00+00:00"), source="old.json")
    new = Entry(record("M", "baseline", "d", 0.2, created="2026-02-01T00:00:00+00:00"), source="new.json")
    board = build_leaderboard([new, old], confidence=False)
    assert board.rows[0].cells["d"].score == 0.2
    assert board.notes[0].startswith("old.json: superseded")


# statistics


def test_mcnemar_exact_hand_computed():
    # b = 1 (only the first right), c = 6: p = 2 * P(X <= 1), X ~ Bin(7, 1/2) = 2 * 8 / 128
    first = np.array([1, 0, 0, 0, 0, 0, 0, 1, 1, 0], bool)
    second = np.array([0, 1, 1, 1, 1, 1, 1, 1, 1, 0], bool)
    test = stats.mcnemar(first, second)
    assert (test.only_first, test.only_second, test.name) == (1, 6, "mcnemar-exact")
    assert test.p_value == pytest.approx(0.125)
    assert test.p_value == pytest.approx(scipy.stats.binomtest(1, 7, 0.5).pvalue)


def test_mcnemar_chi2_matches_scipy():
    rng = np.random.default_rng(1)
    first, second = rng.random(2000) < 0.6, rng.random(2000) < 0.65
    test = stats.mcnemar(first, second)
    b, c = test.only_first, test.only_second
    assert test.name == "mcnemar-chi2" and b + c >= stats.EXACT_MCNEMAR_BELOW
    expected = scipy.stats.chi2.sf((abs(b - c) - 1) ** 2 / (b + c), df=1)
    assert test.p_value == pytest.approx(expected, rel=1e-9)
    assert stats.mcnemar(first, first).p_value == 1.0


def test_bootstrap_interval_matches_scipy_percentile_bootstrap():
    correct = np.random.default_rng(2).random(400) < 0.7
    preds = predictions_with(correct)
    ours = stats.bootstrap_interval(stats.subset_metric("top1", preds), 400, resamples=4000, seed=3)
    theirs = scipy.stats.bootstrap(
        (correct.astype(float),), np.mean, n_resamples=4000, method="percentile", random_state=3
    ).confidence_interval
    assert ours.low < correct.mean() < ours.high
    assert ours.low == pytest.approx(theirs.low, abs=0.01) and ours.high == pytest.approx(
        theirs.high, abs=0.01
    )
    # the interval narrows like 1/sqrt(n)
    width = ours.high - ours.low
    assert width == pytest.approx(2 * 1.96 * math.sqrt(0.7 * 0.3 / 400), rel=0.15)


def test_subset_metrics_equal_the_registered_metrics():
    rng = np.random.default_rng(4)
    scores = rng.normal(size=(300, 6)).astype(np.float32)
    labels = rng.integers(0, 6, 300)
    preds = Predictions.from_logits([str(i) for i in range(300)], scores, labels)
    idx = rng.integers(0, 300, (3, 300))
    for metric in ("top1", "top5", "mean_per_class_recall"):
        subset = stats.subset_metric(metric, preds)
        expected = [METRICS.get(metric)(preds.scores[row].astype(np.float32), labels[row]) for row in idx]
        np.testing.assert_allclose(subset(idx), expected, rtol=1e-12)


def test_paired_tests_need_the_same_samples():
    a = predictions_with(np.ones(50, bool))
    shuffled = np.random.default_rng(0).permutation(50)
    b = Predictions(a.keys[shuffled], a.labels[shuffled], a.topk[shuffled])
    assert stats.compare("top1", a, b).p_value == 1.0  # same predictions in another order
    other = Predictions(np.array([f"x{i}" for i in range(50)]), a.labels, a.topk)
    assert stats.compare("top1", a, other) is None


def test_paired_bootstrap_for_ranking_metrics():
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 2, 500)
    weak = rng.normal(size=(500, 2)).astype(np.float32)
    strong = weak.copy()
    strong[np.arange(500), labels] += 2.0
    keys = [str(i) for i in range(500)]
    a, b = Predictions.from_logits(keys, weak, labels), Predictions.from_logits(keys, strong, labels)
    test = stats.compare("roc_auc", a, b, resamples=200)
    assert test.name == "paired-bootstrap" and test.significant
    assert stats.compare("roc_auc", a, a, resamples=200).p_value == 1.0


# a leaderboard from files, every format, the gate


@pytest.fixture
def results_dir(tmp_path):
    """Baseline and a better method on 300 images, a worse one; all with stored predictions."""
    rng = np.random.default_rng(6)
    base = rng.random(300) < 0.5
    better = base | (rng.random(300) < 0.3)  # right wherever the baseline is, and more
    worse = base & (rng.random(300) < 0.95)
    out = tmp_path / "results"
    for method, correct in (("baseline", base), ("llm", better), ("bilingual", worse)):
        preds = predictions_with(correct)
        rec = record("tiny", method, "shapes", float(correct.mean()), n=300)
        save_result(rec, preds, out)
    return out


def test_leaderboard_from_files_marks_significant_deltas(results_dir):
    from cnclip_eval.report.collect import load_entries

    board = build_leaderboard(load_entries([results_dir]), resamples=300)
    rows = {r.method: r for r in board.rows}
    llm = rows["llm"].cells["shapes"]
    assert llm.significant and llm.delta > 0 and llm.interval.low < llm.score < llm.interval.high
    assert llm.test.only_first == 0  # the better method never loses an image the baseline had
    assert rows["baseline"].cells["shapes"].test is None
    assert [r.method for r in board.rows][0] == "llm"


@pytest.mark.parametrize("fmt", FORMATS.names())
def test_every_format_renders(results_dir, run_cli, fmt, tmp_path):
    out = tmp_path / f"board.{fmt}"
    code, _, err = run_cli("leaderboard", results_dir, "--format", fmt, "--out", out, "--resamples", "200")
    assert code == 0, err
    text = out.read_text(encoding="utf-8")
    assert "llm" in text and "bilingual" in text
    if fmt == "md":
        assert "| tiny" in text and "*)" in text and "n=300" in text
    elif fmt == "latex":
        assert "\\begin{tabular}" in text and "$^{*}$" in text
    elif fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(text)))
        assert {r["method"] for r in rows} == {"baseline", "llm", "bilingual"} and rows[0]["n"] == "300"
    elif fmt == "json":
        data = json.loads(text)
        assert data["kind"] == "cnclip-eval-leaderboard" and len(data["rows"]) == 3
    elif fmt == "html":
        assert text.startswith("<!DOCTYPE html>") and "<script>" in text and 'class="sig"' in text


def test_unknown_format_is_a_user_error(results_dir, run_cli):
    code, _, err = run_cli("leaderboard", results_dir, "--format", "xlsx")
    assert code == 2 and "md" in err and "Traceback" not in err


def test_plot_writes_a_png(results_dir, run_cli, tmp_path):
    code, _, err = run_cli("leaderboard", results_dir, "--plot", tmp_path / "deltas.png", "--no-confidence")
    assert code == 0, err
    assert (tmp_path / "deltas.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_check_exit_codes(results_dir, run_cli, tmp_path):
    baseline = tmp_path / "baseline.json"
    assert run_cli("leaderboard", results_dir, "--format", "json", "--out", baseline)[0] == 0
    code, out, _ = run_cli("check", results_dir, "--baseline", baseline)
    assert code == 0 and "no regression" in out
    code, _, err = run_cli("check", tmp_path / "nowhere", "--baseline", baseline)
    assert code == 2 and "nowhere" in err

    data = json.loads(baseline.read_text())
    llm = next(r for r in data["rows"] if r["method"] == "llm")
    llm["cells"]["shapes"]["score"] += 0.004  # the results are now 0.4 points below the baseline
    baseline.write_text(json.dumps(data))
    assert run_cli("check", results_dir, "--baseline", baseline)[0] == 0  # within the 0.5 default
    code, out, _ = run_cli("check", results_dir, "--baseline", baseline, "--tolerance", "0.3")
    assert code == 1 and "dropped" in out and "-0.40" in out

    data["rows"].append(
        {"model": "tiny", "method": "coop", "cells": {"shapes": {"metric": "top1", "score": 0.5}}}
    )
    baseline.write_text(json.dumps(data))
    code, out, _ = run_cli("check", results_dir, "--baseline", baseline, "--tolerance", "1")
    assert code == 1 and "missing" in out

    baseline.write_text("{not json")
    code, _, err = run_cli("check", results_dir, "--baseline", baseline)
    assert code == 2 and "not JSON" in err
    baseline.write_text(json.dumps({"rows": []}))
    code, _, err = run_cli("check", results_dir, "--baseline", baseline)
    assert code == 2 and "not a leaderboard" in err


def test_json_round_trip_keeps_everything(results_dir):
    from cnclip_eval.report.collect import load_entries

    board = build_leaderboard(load_entries([results_dir]), resamples=100)
    data = json.loads(FORMATS.get("json")(board))
    assert data == json.loads(json.dumps(to_json(board)))
    cell = next(r for r in data["rows"] if r["method"] == "llm")["cells"]["shapes"]
    assert set(cell) >= {"score", "low", "high", "n", "delta", "p_value", "test", "significant"}


# bad or odd input (found in review)


def test_a_damaged_predictions_file_costs_the_interval_not_the_table(results_dir, run_cli, caplog):
    npz = next(results_dir.glob("*llm*.npz"))
    npz.write_bytes(npz.read_bytes()[: len(npz.read_bytes()) // 2])
    code, out, err = run_cli("leaderboard", results_dir, "--resamples", "50")
    assert code == 0, err
    assert "unreadable predictions file" in caplog.text and "Traceback" not in err
    llm_line = next(line for line in out.splitlines() if "| llm" in line)
    assert "±" not in llm_line.split("|")[3]


def test_nan_scores_are_shown_not_ranked_and_fail_the_gate(run_cli, tmp_path):
    entries = [
        Entry(record("M", "baseline", "memes", 0.6, metric="roc_auc")),
        Entry(record("M", "llm", "memes", float("nan"), metric="roc_auc")),
        Entry(record("M", "coop", "memes", 0.7, metric="roc_auc")),
    ]
    board = build_leaderboard(entries, confidence=False)
    assert [r.method for r in board.rows] == ["coop", "baseline", "llm"]
    assert math.isnan(board.rows[-1].mean_rank) and any("no score on memes" in n for n in board.notes)

    from cnclip_eval.report.check import compare_boards, failed

    before = to_json(
        build_leaderboard(
            entries[:1] + [Entry(record("M", "llm", "memes", 0.5, metric="roc_auc"))], confidence=False
        )
    )
    [nan] = [c for c in compare_boards(before, to_json(board)) if c.method == "llm"]
    assert nan.status(0.5) == "not a number" and failed([nan], 0.5)


def test_mean_per_class_recall_is_tested_on_itself_not_on_top1():
    # class 0 has 90 images, class 1 has 10: the other method trades 5 class-0 hits for 5 class-1 hits
    labels = np.array([0] * 90 + [1] * 10)
    base_right = np.array([True] * 90 + [False] * 10)
    other_right = np.array([True] * 85 + [False] * 5 + [True] * 5 + [False] * 5)

    def preds(right):
        top1 = np.where(right, labels, 1 - labels)
        return Predictions(
            np.array([str(i) for i in range(100)]), labels, np.stack([top1, 1 - top1], 1).astype(np.int32)
        )

    test = stats.compare("mean_per_class_recall", preds(base_right), preds(other_right), resamples=300)
    assert test.name == "paired-bootstrap"
    assert stats.compare("top1", preds(base_right), preds(other_right)).name == "mcnemar-exact"


def test_latex_escapes_every_special_character():
    from cnclip_eval.report.render import render_latex

    board = build_leaderboard(
        [Entry(record("~/ckpt/run#3/a_b{v2}$^%&\\", "baseline", "pets", 0.5))], confidence=False
    )
    text = render_latex(board)
    assert r"\textasciitilde{}/ckpt/run\#3/a\_b\{v2\}\$\textasciicircum{}\%\&\textbackslash{}" in text


def test_results_on_another_split_get_their_own_column():
    board = build_leaderboard(
        [
            Entry(record("M", "baseline", "pets", 0.5)),
            Entry(replace(record("M", "baseline", "pets", 0.9), split="val")),
        ],
        confidence=False,
    )
    assert board.datasets == ["pets", "pets (val)"]


def test_check_refuses_unusable_baselines_and_other_sample_counts(results_dir, run_cli, tmp_path):
    code, _, err = run_cli("check", results_dir, "--baseline", tmp_path)
    assert code == 2 and "a folder" in err
    baseline = tmp_path / "b.json"
    assert (
        run_cli("leaderboard", results_dir, "--format", "json", "--out", baseline, "--no-confidence")[0] == 0
    )
    data = json.loads(baseline.read_text())
    for broken in (
        {"model": "tiny", "method": "llm", "cells": []},
        {"method": "llm", "cells": {}},
        {"model": "tiny", "method": "llm", "cells": {"shapes": {"metric": "top1", "score": None}}},
    ):
        baseline.write_text(json.dumps({**data, "rows": [broken]}))
        code, _, err = run_cli("check", results_dir, "--baseline", baseline)
        assert code == 2 and "rows[0]" in err and "Traceback" not in err, err
    data["rows"][0]["cells"]["shapes"]["n"] = 30
    baseline.write_text(json.dumps(data))
    code, out, _ = run_cli("check", results_dir, "--baseline", baseline)
    assert code == 1 and "other samples" in out
    code, _, err = run_cli("check", results_dir, "--baseline", baseline, "--tolerance", "nan")
    assert code == 2 and "--tolerance" in err
    assert run_cli("leaderboard", results_dir, "--resamples", "0")[0] == 2


def test_a_run_on_another_split_keeps_the_test_result(tmp_path):
    test, val = (
        record("M", "baseline", "pets", 0.5),
        replace(record("M", "baseline", "pets", 0.9), split="val"),
    )
    assert save_result(test, None, tmp_path) != save_result(val, None, tmp_path)
    assert len(list(tmp_path.glob("*.json"))) == 2
