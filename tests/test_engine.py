"""The engine: results, caching across methods and runs, and resuming an interrupted run."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cnclip_eval.features import FeatureCache
from cnclip_eval.results import load_predictions, load_result

from conftest import result_file


def run_tiny(run_cli, shard_dir, out, *extra):
    return run_cli(
        "--dataset", shard_dir, "--model", "tiny", "--output-dir", out, "--num-workers", "0", *extra
    )


def test_result_files_have_provenance(run_cli, shard_dir, tmp_path):
    code, out, err = run_tiny(run_cli, shard_dir, tmp_path / "r")
    assert code == 0, err
    assert "baseline" in out and "top1" in out
    path = result_file(tmp_path / "r", "tiny", shard_dir.name)
    record = load_result(path)
    assert record.n_samples == 37 and record.main_metric == "top1"
    provenance = record.provenance
    assert provenance["model"]["weights_id"].startswith("random:")
    assert provenance["dataset"]["shards"] == ["test/0.tar", "test/1.tar", "test/2.tar"]
    assert provenance["environment"]["packages"]["torch"]
    predictions = load_predictions(path)
    assert len(predictions.keys) == 37
    assert np.isclose(predictions.correct.mean(), record.metrics["top1"])


def test_second_method_reuses_image_features(run_cli, shard_dir, tmp_path):
    assert run_tiny(run_cli, shard_dir, tmp_path / "a")[0] == 0
    code, _, err = run_tiny(run_cli, shard_dir, tmp_path / "b", "--templates", "single")
    assert code == 0, err
    record = json.loads(result_file(tmp_path / "b", "tiny", shard_dir.name).read_text())
    assert record["provenance"]["image_features"]["shards_computed"] == 0
    assert record["provenance"]["image_features"]["shards_from_cache"] == 3
    assert record["provenance"]["classifier"]["from_cache"] is False


def test_a_folder_rebuilt_in_place_is_not_served_old_features(run_cli, tmp_path):
    from conftest import make_dataset

    root = make_dataset(tmp_path / "wds", n=20, seed=1)
    assert run_tiny(run_cli, root, tmp_path / "a")[0] == 0
    make_dataset(root, n=20, seed=7)  # same paths, other images
    code, _, err = run_tiny(run_cli, root, tmp_path / "b")
    assert code == 0, err
    record = json.loads(result_file(tmp_path / "b", "tiny", root.name).read_text())
    assert record["provenance"]["image_features"]["shards_from_cache"] == 0


def test_interrupted_run_resumes_with_same_numbers(run_cli, shard_dir, tmp_path, monkeypatch):
    assert run_tiny(run_cli, shard_dir, tmp_path / "clean", "--cache-dir", tmp_path / "c1")[0] == 0
    original_save, saved = FeatureCache.save, []

    def save_then_die(self, shard, data):
        original_save(self, shard, data)
        saved.append(shard)
        if len(saved) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(FeatureCache, "save", save_then_die)
    code, _, err = run_tiny(run_cli, shard_dir, tmp_path / "resumed", "--cache-dir", tmp_path / "c2")
    assert code == 130 and "resume" in err
    monkeypatch.setattr(FeatureCache, "save", original_save)
    code, _, err = run_tiny(run_cli, shard_dir, tmp_path / "resumed", "--cache-dir", tmp_path / "c2")
    assert code == 0, err
    name = result_file(tmp_path / "clean", "tiny", shard_dir.name).stem
    clean, resumed = (
        load_result(tmp_path / "clean" / f"{name}.json"),
        load_result(tmp_path / "resumed" / f"{name}.json"),
    )
    assert resumed.provenance["image_features"]["shards_from_cache"] == 2
    assert resumed.provenance["image_features"]["shards_computed"] == 1
    assert resumed.metrics == clean.metrics
    a, b = (
        load_predictions(tmp_path / "clean" / f"{name}.json"),
        load_predictions(tmp_path / "resumed" / f"{name}.json"),
    )
    np.testing.assert_array_equal(a.topk, b.topk)


@pytest.mark.parametrize("workers", ["0", "5"])
def test_sample_count_independent_of_workers(run_cli, shard_dir, tmp_path, workers):
    code, _, err = run_cli(
        "--dataset",
        shard_dir,
        "--model",
        "tiny",
        "--output-dir",
        tmp_path,
        "--num-workers",
        workers,
        "--cache-dir",
        tmp_path / "cache",
    )
    assert code == 0, err
    assert load_result(result_file(tmp_path, "tiny", shard_dir.name)).n_samples == 37


def test_limit(run_cli, shard_dir, tmp_path):
    code, _, err = run_tiny(run_cli, shard_dir, tmp_path, "--limit", "10")
    assert code == 0, err
    assert load_result(result_file(tmp_path, "tiny", shard_dir.name)).n_samples == 10
