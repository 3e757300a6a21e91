"""Suites: YAML in, one image pass per (model, dataset), existing results skipped, bad keys refused."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from cnclip_eval.errors import UserError
from cnclip_eval.suite import suite_configs

from conftest import result_file


def write_suite(tmp_path, shard_dir, body: str | None = None):
    body = (
        body
        or f"""
        version: 1
        name: tiny
        models: [tiny]
        datasets:
          - {{name: {shard_dir}}}
        methods:
          - baseline
          - {{name: baseline, label: baseline-single, templates: single}}
        settings: {{num_workers: 0, batch_size: 16}}
    """
    )
    path = tmp_path / "suite.yaml"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def test_suite_runs_and_skips_existing_results(run_cli, shard_dir, tmp_path):
    suite = write_suite(tmp_path, shard_dir)
    code, out, err = run_cli("run", suite, "--output-dir", tmp_path / "r")
    assert code == 0, err
    assert "baseline-single" in out
    results = sorted((tmp_path / "r").glob("*.json"))
    assert len(results) == 2
    mtimes = [p.stat().st_mtime_ns for p in results]
    code, out, err = run_cli("run", suite, "--output-dir", tmp_path / "r")
    assert code == 0, err
    assert [p.stat().st_mtime_ns for p in results] == mtimes  # nothing recomputed, nothing rewritten
    assert "baseline-single" in out


def test_changed_inputs_are_not_skipped(run_cli, shard_dir, tmp_path):
    suite = write_suite(tmp_path, shard_dir)
    assert run_cli("run", suite, "--output-dir", tmp_path / "r")[0] == 0
    code, _, err = run_cli("run", suite, "--output-dir", tmp_path / "r", "--limit", "5")
    assert code == 0, err
    record = result_file(tmp_path / "r", "tiny", shard_dir.name).read_text()
    assert '"n_samples": 5' in record


@pytest.mark.parametrize(
    ("snippet", "message"),
    [
        ("methods: [baseline]\nmodles: [tiny]\n", r"suite.yaml:\d+: unknown suite key 'modles'"),
        ("methods: [{name: baselin}]\n", r"Unknown method 'baselin'. Did you mean: baseline"),
        ("methods: [{name: baseline, wieght: 1}]\n", r"unknown method key 'wieght'"),
        ("methods: [baseline, baseline]\n", r"share the run name 'baseline'"),
        ("methods: [baseline]\nsettings: {batch_sise: 3}\n", r"unknown settings key 'batch_sise'"),
    ],
)
def test_bad_suites_are_refused_with_the_line(tmp_path, shard_dir, snippet, message):
    body = f"version: 1\nmodels: [tiny]\ndatasets: [{shard_dir}]\n{snippet}"
    with pytest.raises(UserError, match=message):
        suite_configs(write_suite(tmp_path, shard_dir, body))


def test_version_is_required(tmp_path, shard_dir):
    with pytest.raises(UserError, match="version: 1"):
        suite_configs(
            write_suite(
                tmp_path, shard_dir, f"models: [tiny]\ndatasets: [{shard_dir}]\nmethods: [baseline]\n"
            )
        )


def test_a_model_entry_can_take_a_subset_of_the_methods(tmp_path, shard_dir):
    """English CLIP in a families suite runs the baseline only (bilingual needs Chinese); a method name
    the suite does not have is refused with its line."""
    from cnclip_eval.suite import suite_configs

    suite = tmp_path / "s.yaml"
    suite.write_text(
        f"version: 1\nmodels: [tiny, {{name: random, methods: [baseline]}}]\ndatasets: [{shard_dir}]\n"
        "methods: [baseline, bilingual]\n",
        encoding="utf-8",
    )
    first, second = suite_configs(suite)
    assert [m.name for m in first.methods] == ["baseline", "bilingual"]
    assert [m.name for m in second.methods] == ["baseline"]
    suite.write_text(suite.read_text().replace("methods: [baseline]}", "methods: [llm]}"), encoding="utf-8")
    with pytest.raises(UserError, match=r"s\.yaml:2: model 'random' names method 'llm'"):
        suite_configs(suite)


def test_the_families_suite_names_registered_models_and_methods():
    from cnclip_eval.models import MODELS, card_of
    from cnclip_eval.suite import suite_configs

    configs = suite_configs(Path(__file__).parent.parent / "benchmarks" / "zh-families.yaml")
    families = {card_of(c.models[0]).family for c in configs}
    assert all(c.models[0] in MODELS for c in configs)
    assert families == {"cn_clip", "transformers", "open_clip"}
    english = [c for c in configs if card_of(c.models[0]).languages == ("en",)]
    assert english and all([m.name for m in c.methods] == ["baseline"] for c in english)


@pytest.mark.parametrize(
    "name", sorted(p.name for p in (Path(__file__).parent.parent / "benchmarks").glob("*.yaml"))
)
def test_every_shipped_suite_loads(name):
    """Every suite in benchmarks/ parses and names known models and methods with distinct run names
    (controls.yaml: K x seeds grids, one line each)."""
    configs = suite_configs(Path(__file__).parent.parent / "benchmarks" / name)
    assert configs
    if name == "controls.yaml":
        [config] = configs
        tips = [m for m in config.methods if m.name == "tip-adapter"]
        assert len(tips) == 15
        assert {(m.options["shots"], m.options["seed"]) for m in tips} == {
            (k, s) for k in (1, 2, 4, 8, 16) for s in (1, 2, 3)
        }
