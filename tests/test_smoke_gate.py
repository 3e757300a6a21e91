"""CI's regression gate: the smoke suite on the shipped demo model must match the committed baseline.

A change that moves a demo-shapes number by more than the tolerance (in either direction: a rise
means the baseline must be re-recorded deliberately) fails here. Re-record with

    cnclip-eval run benchmarks/smoke.yaml --output-dir results/smoke
    cnclip-eval leaderboard results/smoke --format json --out benchmarks/baselines/smoke.json
"""

from __future__ import annotations

import json
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def test_smoke_suite_matches_the_committed_baseline(run_cli, tmp_path):
    results = tmp_path / "smoke"
    code, out, err = run_cli("run", BENCHMARKS / "smoke.yaml", "--output-dir", results)
    assert code == 0, err
    assert "| demo" in out  # the suite ends with its leaderboard

    code, out, err = run_cli("check", results, "--baseline", BENCHMARKS / "baselines" / "smoke.json", "--all")
    assert code == 0, out + err
    assert "improved" not in out, f"a number rose: re-record the baseline deliberately\n{out}"

    baseline = json.loads((BENCHMARKS / "baselines" / "smoke.json").read_text(encoding="utf-8"))
    scores = {row["method"]: row["cells"]["demo-shapes"]["score"] for row in baseline["rows"]}
    assert scores["baseline"] >= 0.80  # the demo model knows its shapes (chance: 5%)
    assert scores["llm"] != scores["baseline"] and scores["coop"] != scores["baseline"]  # methods matter
