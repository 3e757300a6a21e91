"""Several seeds and option grids from one line, and the leaderboard rows they make: mean +- std over
seeds, K on few-shot rows, the groups, and deltas against the waffle control."""

from __future__ import annotations

import pytest

from cnclip_eval.config import MethodSpec
from cnclip_eval.errors import UserError
from cnclip_eval.method_grid import expand_grid, parse_seeds, with_seeds
from cnclip_eval.report.leaderboard import Entry, build_leaderboard
from cnclip_eval.report.render import FORMATS
from cnclip_eval.results import ResultRecord
from cnclip_eval.suite import suite_configs

from conftest import assert_clean_error


def record(method, score, seed=None, group=None, kind="zero-shot", shots=None, run_name=None):
    options = {} if shots is None else {"shots": shots}
    provenance = {"method": {"name": method, "kind": kind, "seed": seed, "seed_group": group or method,
                             "options": options}}  # fmt: skip
    return ResultRecord("M", "d1", "test", method, run_name or method, "top1", {"top1": score}, 100,
                        provenance=provenance)  # fmt: skip


def test_seeds_parse_and_expand_only_seeded_methods():
    assert parse_seeds("1,2,3") == (1, 2, 3)
    for bad in ("1,,2", "a", "1,1"):
        with pytest.raises(UserError, match="--seeds"):
            parse_seeds(bad)
    specs = with_seeds((MethodSpec("baseline"), MethodSpec("waffle")), (1, 2), {"waffle"})
    assert [(s.name, s.options) for s in specs] == [
        ("baseline", {}),
        ("waffle", {"seed": 1}),
        ("waffle", {"seed": 2}),
    ]
    with pytest.raises(UserError, match="none of the methods"):
        with_seeds((MethodSpec("baseline"),), (1, 2), {"waffle"})
    with pytest.raises(UserError, match="both set the seed"):
        with_seeds((MethodSpec("waffle", {"seed": 4}),), (1, 2), {"waffle"})


def test_a_suite_line_with_lists_is_a_grid(tmp_path):
    suite = tmp_path / "s.yaml"
    suite.write_text(
        "version: 1\nmodels: [demo]\ndatasets: [demo-shapes]\n"
        "methods:\n  - baseline\n  - {name: tip-adapter, shots: [1, 2, 4, 8, 16], seed: [1, 2, 3]}\n",
        encoding="utf-8",
    )
    [config] = suite_configs(suite)
    tips = [m for m in config.methods if m.name == "tip-adapter"]
    assert len(tips) == 15
    assert {(m.options["shots"], m.options["seed"]) for m in tips} == {
        (k, s) for k in (1, 2, 4, 8, 16) for s in (1, 2, 3)
    }
    with pytest.raises(UserError, match="no 'label'"):
        expand_grid(MethodSpec("waffle", {"seed": [1, 2]}, label="w"), "s.yaml:3")


def test_seed_rows_mean_std_kinds_and_control_deltas():
    entries = [
        Entry(record("baseline", 0.50)),
        Entry(record("llm", 0.62)),
        *(Entry(record("waffle", s, seed=i, kind="control", run_name=f"waffle(seed={i})" if i > 1 else "waffle"))
          for i, s in ((1, 0.58), (2, 0.60), (3, 0.62))),
        *(Entry(record("tip-adapter", s, seed=i, kind="few-shot", shots=4, group="tip-adapter(shots=4)",
                       run_name=f"tip-adapter(shots=4, seed={i})"))
          for i, s in ((1, 0.70), (2, 0.72))),
    ]  # fmt: skip
    board = build_leaderboard(entries, confidence=False)
    assert [r.kind for r in board.rows] == ["zero-shot", "zero-shot", "control", "few-shot"]
    rows = {r.method: r for r in board.rows}
    waffle = rows["waffle"].cells["d1"]
    assert (
        waffle.score == pytest.approx(0.60)
        and waffle.std == pytest.approx(0.02)
        and waffle.seeds == (1, 2, 3)
    )
    assert waffle.delta == pytest.approx(0.10) and waffle.delta_control is None
    assert rows["llm"].cells["d1"].delta_control == pytest.approx(0.02)
    tip = rows["tip-adapter(shots=4)"]
    assert tip.detail == "K=4, seeds 1,2" and tip.cells["d1"].score == pytest.approx(0.71)
    assert tip.cells["d1"].delta_control == pytest.approx(0.11)
    text = FORMATS.get("md")(board)
    assert (
        "tip-adapter(shots=4) [K=4, seeds 1,2]" in text and "sd 2.00" in text and "[+2.00 vs waffle]" in text
    )


def test_seeds_on_the_command_line(run_cli, tmp_path):
    code, out, err = run_cli("--model", "demo", "--dataset", "demo-shapes", "--method", "baseline,waffle",
                             "--seeds", "1,2", "--output-dir", tmp_path, "--num-workers", "0")  # fmt: skip
    assert code == 0, err
    assert "waffle [seeds 1,2]" in out and " sd " in out
    code, _, err = run_cli("--model", "demo", "--dataset", "demo-shapes", "--method", "baseline",
                           "--seeds", "1,2", "--output-dir", tmp_path / "x")  # fmt: skip
    assert_clean_error(code, err, "--seeds", "none of the methods")


def test_one_seed_rows_and_mixed_seed_sets():
    """A seed-2-only result joins its seed group's row (not a row of its own), and a row whose datasets
    had different seeds says so; a seeded baseline method gets no delta against itself."""
    other = [
        Entry(replace_dataset(record("waffle", 0.58, seed=1, kind="control"), "d1")),
        Entry(
            replace_dataset(record("waffle", 0.62, seed=2, kind="control", run_name="waffle(seed=2)"), "d1")
        ),
        Entry(
            replace_dataset(record("waffle", 0.70, seed=2, kind="control", run_name="waffle(seed=2)"), "d2")
        ),
    ]
    board = build_leaderboard(other, confidence=False, baseline_method="waffle")
    [row] = board.rows
    assert row.method == "waffle" and row.cells["d2"].seeds == (2,) and row.cells["d1"].seeds == (1, 2)
    assert row.cells["d1"].delta is None and row.cells["d2"].delta is None
    assert any("different seeds" in note for note in board.notes)


def replace_dataset(rec, dataset):
    from dataclasses import replace

    return replace(rec, dataset=dataset)


def test_a_few_shot_result_is_not_cn_clips_zero_shot_protocol():
    from cnclip_eval.protocol import RunSettings, protocol_of

    zero_shot = RunSettings("imagenet1k", None, "imagenet1k:cnclip", "fp32", "pil", None, "test")
    assert protocol_of(zero_shot)["name"] == "cnclip"
    few = RunSettings(
        "imagenet1k", None, "imagenet1k:cnclip", "fp32", "pil", None, "test", "16 shots per class"
    )
    verdict = protocol_of(few)
    assert verdict["name"] == "custom" and "16 shots" in str(verdict)
