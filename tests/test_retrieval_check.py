"""CN-CLIP's retrieval protocol, recorded setting by setting in each retrieval result, and `check`
comparing real retrieval results recall by recall with a baseline (ours, written here, and CN-CLIP's
published table): a published cell is matched only by a result in CN-CLIP's protocol."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cnclip_eval.protocol import RetrievalSettings, cnclip_caption, retrieval_protocol_of
from cnclip_eval.results import load_result

from conftest import assert_clean_error
from test_cnclip_retrieval_data import jpeg, write_split

PUBLISHED = Path(__file__).resolve().parents[1] / "benchmarks" / "baselines" / "cnclip-published.json"
RECALLS = ("t2i_r1", "t2i_r5", "t2i_r10", "i2t_r1", "i2t_r5", "i2t_r10")


@pytest.mark.parametrize("text", ["一只“大”猫", "A Red Ball “Ok”", "ÉCOLE 学校", "“”", "plain 文本"])
def test_a_caption_is_read_as_cn_clips_evaluation_reads_it(text):
    from cn_clip.eval.data import _preprocess_text

    assert cnclip_caption(text) == _preprocess_text(text)


def test_the_verdict_names_each_departing_setting():
    cnclip = RetrievalSettings("muge", "valid", ("t2i",), 52, "fp32")
    assert retrieval_protocol_of(cnclip) == {"name": "cnclip", "differs": []}
    other = retrieval_protocol_of(RetrievalSettings("muge", "test", ("t2i", "i2t"), 77, "fp16"))
    assert other["name"] == "custom"
    assert other["differs"] == [
        "split=test (CN-CLIP: valid)",
        "directions=t2i+i2t (CN-CLIP: t2i)",
        "context_length=77 (CN-CLIP: 52)",
        "precision=fp16 (CN-CLIP: fp32)",
    ]
    # a folder outside CN-CLIP's table: its own split and directions are no departure
    folder = RetrievalSettings("my-folder", "valid", ("t2i", "i2t"), 52, "fp32")
    assert retrieval_protocol_of(folder)["name"] == "cnclip"
    flickr = RetrievalSettings("flickr30k-cn", "valid", ("t2i", "i2t"), 52, "fp32")
    assert retrieval_protocol_of(flickr)["differs"] == ["split=valid (CN-CLIP: test)"]


@pytest.fixture()
def muge_root(tmp_path) -> Path:
    """A MUGE-like release with a valid and a test split: 8 images, 12 captions (some with capitals and
    curly quotes, which CN-CLIP's evaluation rewrites), each naming one or two images."""
    images = {str(5000 + i): jpeg(i) for i in range(8)}
    names = ["红色的圆形", "蓝色的“方块”", "Green 三角形", "一只猫"]
    texts = [
        {"text_id": t, "text": f"{names[t % 4]}{t}", "image_ids": sorted({5000 + t % 8, 5000 + (3 * t) % 8})}
        for t in range(12)
    ]
    root = write_split(tmp_path / "MUGE", images, texts, split="valid")
    return write_split(root, images, texts[:10], split="test")


def _run(run_cli, out: Path, *argv) -> dict:
    code, _, err = run_cli("--model", "tiny", *argv, "--output-dir", out)
    assert code == 0, err
    [path] = out.glob("*.json")
    return json.loads(path.read_text(encoding="utf-8"))


def _shorter_context(monkeypatch, tokens: int) -> None:
    """The tiny cn_clip model with captions cut at ``tokens``: a run that departs from CN-CLIP's 52."""
    from cnclip_eval.models.cnclip_text import CnClipTokenizer

    monkeypatch.setattr(
        "cnclip_eval.models.cnclip_towers.CnClipTokenizer", lambda: CnClipTokenizer(context_length=tokens)
    )


def test_a_default_run_is_cnclip_and_a_departing_run_says_what_departs(
    run_cli, muge_root, tmp_path, monkeypatch
):
    default = _run(run_cli, tmp_path / "a", "--dataset", "muge", "--data-root", muge_root)
    assert (default["split"], default["protocol"]) == ("valid", "cnclip")
    assert default["provenance"]["protocol"] == {"name": "cnclip", "differs": []}
    assert default["provenance"]["context_length"] == 52
    test_split = _run(
        run_cli, tmp_path / "b", "--dataset", "muge", "--data-root", muge_root, "--split", "test"
    )
    assert test_split["protocol"] == "custom"
    assert test_split["provenance"]["protocol"]["differs"] == ["split=test (CN-CLIP: valid)"]
    _shorter_context(monkeypatch, 24)
    short = _run(run_cli, tmp_path / "c", "--dataset", "muge", "--data-root", muge_root)
    assert short["provenance"]["protocol"]["differs"] == ["context_length=24 (CN-CLIP: 52)"]


def _baseline(
    path: Path, model: str, column: str, scores: dict[str, float], protocol: str = "cnclip"
) -> Path:
    """A one-cell baseline in the published table's shape: mean_recall and each recall under ``metrics``."""
    cell = {
        "metric": "mean_recall",
        "score": scores["mean_recall"],
        "n": None,
        "source": "written by the test",
        "metrics": {
            k: {"score": v, "source": "written by the test"} for k, v in scores.items() if k in RECALLS
        },
    }
    board = {
        "kind": "cnclip-eval-leaderboard",
        "schema_version": 1,
        "baseline_method": "baseline",
        "datasets": [column],
        "metrics": {column: "mean_recall"},
        "rows": [{"model": model, "method": "baseline", "protocol": protocol, "cells": {column: cell}}],
        "notes": [],
    }
    path.write_text(json.dumps(board), encoding="utf-8")
    return path


def _report_rows(report: str) -> dict[str, str]:
    """metric -> status of each row of check's table."""
    rows = [
        [c.strip() for c in line.split("|")[1:-1]] for line in report.splitlines() if line.startswith("| ")
    ]
    return {row[3]: row[-1] for row in rows[1:] if row[0] != "model" and not set(row[0]) <= {"-"}}


@pytest.fixture(scope="module")
def demo_results(tmp_path_factory) -> Path:
    """The tiny model's real result on the shipped demo retrieval split (60 captions, 100 images)."""
    from cnclip_eval.cli import main

    out = tmp_path_factory.mktemp("demo-retrieval")
    assert main(["--model", "tiny", "--dataset", "demo-shapes-retrieval", "--output-dir", str(out)]) == 0
    return out


def test_check_compares_each_recall_of_a_real_result(run_cli, demo_results, tmp_path):
    result = load_result(next(demo_results.glob("*.json")))
    assert result.protocol == "cnclip" and set(result.metrics) == {*RECALLS, "mean_recall"}
    same = _baseline(tmp_path / "same.json", result.model, "demo-shapes-retrieval", dict(result.metrics))
    code, report, err = run_cli("check", demo_results, "--baseline", same, "--all")
    assert code == 0, report + err
    assert _report_rows(report) == {k: "ok" for k in (*RECALLS, "mean_recall")}
    assert "7 results compared" in report and "no regression" in report
    # one recall 2 points above the result's: that recall alone dropped, the others pass
    higher = {**result.metrics, "i2t_r5": result.metrics["i2t_r5"] + 0.02}
    code, report, _ = run_cli(
        "check", demo_results, "--baseline", _baseline(tmp_path / "hi.json", result.model,
        "demo-shapes-retrieval", higher), "--all",
    )  # fmt: skip
    assert code == 1
    assert _report_rows(report) == {**{k: "ok" for k in (*RECALLS, "mean_recall")}, "i2t_r5": "dropped"}
    assert "1 failed" in report
    # a recall the baseline publishes that the result lacks is missing, and fails
    more = _baseline(tmp_path / "more.json", result.model, "demo-shapes-retrieval", dict(result.metrics))
    board = json.loads(more.read_text(encoding="utf-8"))
    board["rows"][0]["cells"]["demo-shapes-retrieval"]["metrics"]["t2i_r50"] = {"score": 0.9}
    more.write_text(json.dumps(board), encoding="utf-8")
    code, report, _ = run_cli("check", demo_results, "--baseline", more)
    assert code == 1 and _report_rows(report) == {"t2i_r50": "missing"}


def test_a_published_cell_is_matched_only_by_a_cnclip_protocol_result(
    run_cli, demo_results, tmp_path, monkeypatch
):
    result = load_result(next(demo_results.glob("*.json")))
    baseline = _baseline(tmp_path / "b.json", result.model, "demo-shapes-retrieval", dict(result.metrics))
    _shorter_context(monkeypatch, 8)  # the same split, captions cut at 8 tokens: protocol custom
    custom = tmp_path / "custom"
    record = _run(run_cli, custom, "--dataset", "demo-shapes-retrieval")
    assert record["protocol"] == "custom"
    code, report, _ = run_cli("check", custom, "--baseline", baseline, "--all")
    assert code == 1
    assert _report_rows(report) == {k: "other protocol" for k in (*RECALLS, "mean_recall")}
    assert "7 failed" in report


def test_a_real_muge_result_is_compared_with_each_published_recall(run_cli, muge_root, tmp_path):
    """The tiny model's MUGE-format result, labelled as ViT-B-16 (CN-CLIP's weights cannot be
    downloaded here): each published MUGE recall is compared and, the model being random, drops;
    the same data on the test split is another column and leaves the published cell missing."""
    for split, out in (("valid", tmp_path / "valid"), ("test", tmp_path / "test")):
        record = _run(run_cli, out, "--dataset", "muge", "--data-root", muge_root, "--split", split)
        record["model"] = "ViT-B-16"
        next(out.glob("*.json")).write_text(json.dumps(record), encoding="utf-8")
    code, report, _ = run_cli("check", tmp_path / "valid", "--baseline", PUBLISHED, "--all")
    assert code == 1
    muge = {
        c[3]: (c[4], c[-1])
        for c in (
            [x.strip() for x in line.split("|")[1:-1]] for line in report.splitlines() if "| ViT-B-16" in line
        )
        if c[2] == "muge (valid)"
    }
    assert set(muge) == {"mean_recall", "t2i_r1", "t2i_r5", "t2i_r10"}
    assert muge["t2i_r1"] == ("52.10", "dropped") and muge["mean_recall"][0] == "71.10"
    code, report, _ = run_cli("check", tmp_path / "test", "--baseline", PUBLISHED, "--all")
    lines = [line for line in report.splitlines() if "| ViT-B-16" in line and "muge" in line]
    assert code == 1 and all("missing" in line for line in lines if "muge (valid)" in line)
    assert any("| muge " in line and "new" in line for line in lines)


@pytest.mark.parametrize("metrics", [["t2i_r1"], {"t2i_r1": 0.5}, {"t2i_r1": {"score": "high"}}])
def test_a_baseline_cell_with_unreadable_metrics_is_one_line(run_cli, demo_results, tmp_path, metrics):
    path = _baseline(tmp_path / "b.json", "tiny", "demo-shapes-retrieval", {"mean_recall": 0.5})
    board = json.loads(path.read_text(encoding="utf-8"))
    board["rows"][0]["cells"]["demo-shapes-retrieval"]["metrics"] = metrics
    path.write_text(json.dumps(board), encoding="utf-8")
    code, _, err = run_cli("check", demo_results, "--baseline", path)
    assert_clean_error(code, err, "b.json", "rows[0]", "demo-shapes-retrieval", "metrics")
