"""Few-shot methods (tip-adapter, tip-adapter-f, linear-probe): what they are fitted on, what they
equal in their limits, and that the shots are encoded once."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from cnclip_eval.methods.base import MethodContext
from cnclip_eval.methods.fewshot import FewShotContext, Shots
from cnclip_eval.methods.linear_probe import LinearProbe
from cnclip_eval.methods.shots import sample_shots, sample_validation
from cnclip_eval.methods.tip_adapter import TipAdapter
from cnclip_eval.results import load_predictions

from conftest import assert_clean_error, make_dataset, result_file


def run_demo(run_cli, out, methods: str, *options: str):
    code, stdout, err = run_cli(
        "--model", "demo", "--dataset", "demo-shapes", "--method", methods, "--output-dir", out,
        "--num-workers", "0", *options,
    )  # fmt: skip
    assert code == 0, err
    return stdout


def details(folder, method: str) -> dict:
    record = json.loads(result_file(folder, "demo", "demo-shapes", method).read_text(encoding="utf-8"))
    return record["provenance"]["method"]["details"]


def test_alpha_zero_equals_the_zero_shot_predictions(run_cli, tmp_path):
    run_demo(run_cli, tmp_path, "baseline,tip-adapter", "--tip-adapter-alpha", "0")
    base = load_predictions(result_file(tmp_path, "demo", "demo-shapes", "baseline"))
    tip = load_predictions(result_file(tmp_path, "demo", "demo-shapes", "tip-adapter"))
    assert (base.keys == tip.keys).all()
    np.testing.assert_array_equal(base.topk, tip.topk)
    np.testing.assert_allclose(base.scores, tip.scores, rtol=0, atol=1e-4)


def test_beta_zero_shifts_every_class_alike_so_predictions_stay_zero_shot(run_cli, tmp_path):
    """beta = 0: every cache entry weighs 1, so each class gains alpha * K (K shots each): the same ranking."""
    run_demo(run_cli, tmp_path, "baseline,tip-adapter", "--tip-adapter-beta", "0", "--tip-adapter-alpha", "2")
    base = load_predictions(result_file(tmp_path, "demo", "demo-shapes", "baseline"))
    tip = load_predictions(result_file(tmp_path, "demo", "demo-shapes", "tip-adapter"))
    np.testing.assert_array_equal(base.topk, tip.topk)
    np.testing.assert_allclose(tip.scores - base.scores, 2.0 * 16, atol=1e-3)


def test_every_few_shot_method_runs_and_encodes_the_shots_once(run_cli, tmp_path):
    out = run_demo(run_cli, tmp_path, "baseline,tip-adapter,tip-adapter-f,linear-probe")
    for method in ("tip-adapter", "tip-adapter-f", "linear-probe"):
        assert method in out
    train = [details(tmp_path, m)["train_split"] for m in ("tip-adapter", "tip-adapter-f", "linear-probe")]
    # the 320 shots and 80 validation images of 600 are encoded once, by the first few-shot method
    assert [t["samples_encoded"] for t in train] == [400, 0, 0]
    assert [t["samples_from_cache"] for t in train] == [0, 400, 400]
    assert {t["features_cache_key"] for t in train} == {train[0]["features_cache_key"]}
    assert train[0]["samples"] == 600
    tip = details(tmp_path, "tip-adapter")
    assert tip["n_shots"] == 16 * 20 and tip["n_validation"] == 4 * 20
    assert 0.1 <= tip["alpha"] < 3.0 and 0.1 <= tip["beta"] < 7.0
    probe = details(tmp_path, "linear-probe")
    assert probe["weight_decay"] in (0.0, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1)


def test_nothing_tuned_reads_a_test_sample(run_cli, tmp_path, monkeypatch):
    seen = {}
    fit = TipAdapter.fit

    def spy(self, ctx):
        seen["shots"], seen["validation"] = list(ctx.shots.keys), list(ctx.validation.keys)
        return fit(self, ctx)

    monkeypatch.setattr(TipAdapter, "fit", spy)
    run_demo(run_cli, tmp_path, "tip-adapter")
    test_keys = set(load_predictions(result_file(tmp_path, "demo", "demo-shapes", "tip-adapter")).keys)
    shots, validation = set(seen["shots"]), set(seen["validation"])
    assert len(shots) == 320 and len(validation) == 80
    assert not shots & validation
    assert not (shots | validation) & test_keys
    assert all(k.startswith("train_") for k in shots | validation)


def test_only_the_drawn_samples_are_encoded_and_equal_the_full_pass(tmp_path):
    """The few-shot path reads labels without decoding and encodes only the drawn samples; their
    features equal those of the whole-split pass, and a second draw encodes only what it adds."""
    from cnclip_eval.config import RunConfig
    from cnclip_eval.data.resolve import DatasetRequest, resolve_dataset
    from cnclip_eval.image_features import dataset_features
    from cnclip_eval.models import ModelRequest, load_model
    from cnclip_eval.shot_features import sample_features, split_index

    model = load_model(ModelRequest("demo"))
    train = resolve_dataset(DatasetRequest("demo-shapes", split="train"))
    config = RunConfig(models=("demo",), datasets=(), methods=(), progress=False, num_workers=0)
    index = split_index(train, tmp_path)
    full = dataset_features(model, train, config, tmp_path / "full")
    np.testing.assert_array_equal(index.keys, full.keys)
    np.testing.assert_array_equal(index.labels, full.labels)
    first = sample_shots(index.labels, index.keys, 2, 1, [str(c) for c in range(20)])
    got = sample_features(model, train, index, first, config, tmp_path)
    assert got.encoded == 40 and got.from_cache == 0
    torch.testing.assert_close(got.features, full.features[first], rtol=0, atol=1e-5)
    second = sample_shots(index.labels, index.keys, 4, 1, [str(c) for c in range(20)])
    again = sample_features(model, train, index, second, config, tmp_path)
    overlap = len(set(first) & set(second))
    assert again.from_cache == overlap and again.encoded == 80 - overlap
    torch.testing.assert_close(again.features, full.features[second], rtol=0, atol=1e-5)


def test_shots_are_coops_and_validation_is_disjoint():
    keys = np.array([f"k{i:03d}" for i in range(60)])
    labels = np.arange(60) % 3
    names = ["a", "b", "c"]
    shots = sample_shots(labels, keys, 4, 1, names)
    validation = sample_validation(labels, keys, shots, 5, 1, names)
    assert not set(shots) & set(validation)
    assert np.bincount(labels[validation]).tolist() == [5, 5, 5]
    np.testing.assert_array_equal(shots, sample_shots(labels, keys, 4, 1, names))  # same draw as coop
    assert not np.array_equal(validation, sample_validation(labels, keys, shots, 5, 2, names))
    with pytest.raises(Exception, match="too few train images left"):
        sample_validation(labels, keys, shots, 17, 1, names)


def test_same_seed_same_numbers_other_seed_other_shots(run_cli, tmp_path):
    run_demo(run_cli, tmp_path / "a", "tip-adapter-f")
    run_demo(run_cli, tmp_path / "b", "tip-adapter-f")
    run_demo(run_cli, tmp_path / "c", "tip-adapter-f", "--tip-adapter-f-seed", "2")
    a, b = (load_predictions(result_file(tmp_path / x, "demo", "demo-shapes", "tip-adapter-f")) for x in "ab")
    np.testing.assert_array_equal(a.scores, b.scores)
    other = json.loads(
        result_file(tmp_path / "c", "demo", "demo-shapes", "tip-adapter-f").read_text(encoding="utf-8")
    )["provenance"]["method"]["details"]
    assert other["shot_keys_sha256"] != details(tmp_path / "a", "tip-adapter-f")["shot_keys_sha256"]


def separable(n_per_class=6, dim=16, classes=3):
    torch.manual_seed(0)
    centres = torch.nn.functional.normalize(torch.randn(classes, dim), dim=-1)
    labels = torch.arange(classes).repeat_interleave(n_per_class)
    features = torch.nn.functional.normalize(centres[labels] + 0.05 * torch.randn(len(labels), dim), dim=-1)
    return features, labels, centres


def test_linear_probe_fits_separable_shots_from_a_wrong_head():
    features, labels, centres = separable()
    wrong = centres.roll(1, dims=0)  # every class starts at another's centre
    shots = Shots(features, labels, [f"s{i}" for i in range(len(labels))])
    options = {"shots": 6, "seed": 1, "val_shots": 6, "weight_decay": None, "steps": 100}
    context = MethodContext(None, None, "m", None, options)
    scorer = LinearProbe().fit(FewShotContext(context, wrong, shots, shots, 100.0))
    assert scorer.provenance["train_accuracy"] == 1.0
    assert (scorer.scores(features).argmax(1) == labels).all()


def test_a_dataset_without_a_train_split_is_one_line_before_any_work(run_cli, tmp_path, no_model):
    root = make_dataset(tmp_path / "wds", n=12, num_shards=1)
    code, _, err = run_cli("--dataset", root, "--model", "tiny", "--method", "baseline,linear-probe",
                           "--output-dir", tmp_path / "r")  # fmt: skip
    assert_clean_error(code, err, "linear-probe", "train split")
    assert not (tmp_path / "r").exists()


def test_too_few_train_images_names_the_classes(run_cli, tmp_path):
    root = make_dataset(tmp_path / "wds", n=24, num_shards=1, split="train")
    make_dataset(root, n=12, num_shards=1, seed=3)
    code, _, err = run_cli("--dataset", root, "--model", "tiny", "--method", "tip-adapter",
                           "--tip-adapter-shots", "2", "--output-dir", tmp_path / "r")  # fmt: skip
    assert_clean_error(code, err, "validation set of 4 per class")
