"""Issue 14's fault cases, one promise per test, in the issue's order.

Each test failed on the code before its fix. Bad input gets one line naming the file, shard, key,
line or flag, exit code 2, no traceback, and every earlier result stays intact.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from cnclip_eval.results import ResultRecord, save_result


def assert_clean_error(code: int, err: str, *fragments: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err
    assert err.startswith("cnclip-eval: error: "), err
    assert len(err.strip().splitlines()) == 1, err
    for fragment in fragments:
        assert fragment in err, err


def write_record(folder: Path, dataset: str, score: float, padding: int = 0) -> Path:
    """A result file; ``padding`` bytes of provenance push the schema marker past any short read."""
    record = ResultRecord(
        "M", dataset, "test", "baseline", "baseline", "top1", {"top1": score}, 10,
        provenance={"dataset": {"shards": [f"test/{i}.tar" for i in range(padding // 16)]}},
    )  # fmt: skip
    return save_result(record, None, folder)


def baseline_board(tmp_path: Path, dataset: str, score: float) -> Path:
    from cnclip_eval.report.leaderboard import Entry, build_leaderboard
    from cnclip_eval.report.render import to_json

    record = ResultRecord("M", dataset, "test", "baseline", "baseline", "top1", {"top1": score}, 10)
    path = tmp_path / "baseline.json"
    path.write_text(json.dumps(to_json(build_leaderboard([Entry(record)], confidence=False))))
    return path


# 1. folder scans see every result


def test_folder_scan_reads_results_larger_than_4kib(run_cli, tmp_path):
    """A result file over 4 KiB in a folder is read by `check`, so its top-1 of 0 fails the gate."""
    results = tmp_path / "results"
    path = write_record(results, "big", 0.0, padding=8000)
    assert path.stat().st_size > 4096
    baseline = baseline_board(tmp_path, "big", 0.9)
    code, out, err = run_cli("check", results, "--baseline", baseline)
    assert code == 1, out + err
    assert "dropped" in out


def test_folder_scan_names_files_that_are_not_results(tmp_path, caplog):
    """A JSON in a results folder that is not a result is named in a warning, not silently skipped."""
    from cnclip_eval.report.collect import result_files

    results = tmp_path / "results"
    write_record(results, "d", 0.5)
    (results / "notes.json").write_text('{"hello": 1}', encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        files = result_files([results])
    assert [f.name for f in files] == ["M__d__baseline.json"]
    assert "notes.json" in caplog.text
