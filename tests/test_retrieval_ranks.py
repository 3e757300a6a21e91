"""Retrieval results store each query's rank: the leaderboard's intervals over queries and paired tests
between models come from them with no re-run; caption features are cached per text tower."""

from __future__ import annotations

import numpy as np
import pytest

from cnclip_eval.report.collect import load_entries
from cnclip_eval.report.leaderboard import build_leaderboard
from cnclip_eval.report.stats import compare, subset_metric
from cnclip_eval.results import QueryRanks, load_predictions, load_result

from conftest import assert_clean_error
from test_retrieval_task import folder  # noqa: F401  (the fixture)


def run(run_cli, data, out, *options):
    code, stdout, err = run_cli("--dataset", data, "--output-dir", out, "--num-workers", "0", *options)
    assert code == 0, err
    path = next(p for p in out.glob("*.json"))
    return path, load_result(path)


def test_stored_ranks_give_back_every_reported_metric(run_cli, folder, tmp_path):  # noqa: F811
    path, record = run(run_cli, folder, tmp_path / "a", "--model", "tiny")
    ranks = load_predictions(path, record)
    assert isinstance(ranks, QueryRanks)
    assert (
        len(ranks.keys) == 21 + 13 and ranks.keys[0].startswith("t2i:") and ranks.keys[-1].startswith("i2t:")
    )
    everything = np.arange(len(ranks.keys))[None, :]  # the identity "resample"
    for metric, value in record.metrics.items():
        assert subset_metric(metric, ranks)(everything)[0] == pytest.approx(value, abs=1e-12), metric
    assert subset_metric("top1", ranks) is None


def test_the_leaderboard_gives_intervals_and_paired_tests_over_queries(run_cli, folder, tmp_path):  # noqa: F811
    out = tmp_path / "r"
    run(run_cli, folder, out, "--model", "tiny")
    code, _, err = run_cli("--dataset", folder, "--output-dir", out, "--model", "demo", "--num-workers", "0")
    assert code == 0, err
    entries = load_entries([out])
    assert len(entries) == 2
    board = build_leaderboard(entries, resamples=200)
    for row in board.rows:
        [cell] = row.cells.values()
        assert cell.interval is not None and cell.interval.low <= cell.score <= cell.interval.high
    first, second = (load_predictions(e.source) for e in entries)
    test = compare("mean_recall", first, second, resamples=200)
    assert test is not None and test.name == "paired-bootstrap" and 0 < test.p_value <= 1
    assert (
        compare("mean_recall", first, QueryRanks(first.keys[:-1], first.ranks[:-1])) is None
    )  # other queries


def test_caption_features_come_from_the_cache_the_second_time(run_cli, folder, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setattr("cnclip_eval.tasks.retrieval.TEXT_CHUNK", 8)  # 21 captions: three entries
    _, first = run(run_cli, folder, tmp_path / "a", "--model", "tiny")
    assert first.provenance["text_features"]["chunks_computed"] == 3
    _, again = run(run_cli, folder, tmp_path / "b", "--model", "tiny")
    assert again.provenance["text_features"] == {**first.provenance["text_features"], "chunks_from_cache": 3,
                                                 "chunks_computed": 0}  # fmt: skip
    assert again.metrics == first.metrics
    # an edited caption re-encodes its own chunk only
    texts = folder / "test_texts.jsonl"
    lines = texts.read_text(encoding="utf-8").splitlines()
    lines[20] = lines[20].replace("的照片", "的图片")
    texts.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _, edited = run(run_cli, folder, tmp_path / "c", "--model", "tiny")
    assert edited.provenance["text_features"]["chunks_computed"] == 1
    assert edited.provenance["text_features"]["chunks_from_cache"] == 2


def test_a_row_mean_does_not_mix_recalls_with_accuracies(run_cli, folder, tmp_path):  # noqa: F811
    out = tmp_path / "r"
    code, _, err = run_cli("--model", "demo", "--dataset", f"demo-shapes,{folder}", "--output-dir", out,
                           "--num-workers", "0")  # fmt: skip
    assert code == 0, err
    board = build_leaderboard(load_entries([out]), confidence=False)
    [row] = board.rows
    assert set(row.cells) == {"demo-shapes", "flickr-tiny"}, board.datasets
    assert row.mean == pytest.approx(row.cells["demo-shapes"].score)
    assert any("count in the mean rank only" in note for note in board.notes)


def test_ls_metrics_says_mean_recall_is_a_mean(run_cli):
    code, out, _ = run_cli("ls", "metrics")
    assert code == 0
    line = next(line for line in out.splitlines() if line.startswith("| mean_recall"))
    assert "MEAN of the reported recalls" in line and "not a median rank" in line
    assert all(f"| {d}_r{k} " in out for d in ("t2i", "i2t") for k in (1, 5, 10))


def test_limit_is_refused_for_a_retrieval_split_before_any_work(run_cli, folder, tmp_path, no_model):  # noqa: F811
    code, _, err = run_cli(
        "--model", "tiny", "--dataset", folder, "--limit", "5", "--output-dir", tmp_path / "r"
    )
    assert_clean_error(code, err, "--limit 5", "retrieval split")
    assert not (tmp_path / "r").exists()
