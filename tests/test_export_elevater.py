"""``cnclip-eval export --format elevater``: ELEVATER's prediction-file fields, the index order, the
probabilities against the harness's own result, and the one-line refusals of a wrong index."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from cnclip_eval.errors import UserError
from cnclip_eval.integrations import elevater_export as ee
from cnclip_eval.integrations import elevater_index as ei

from conftest import assert_clean_error, make_images, result_file

# zeroshot.py's --save-predictions keys, in its order (submission_file_readme.md documents each)
ELEVATER_FIELDS = [
    "model_name",
    "dataset_name",
    "num_trainable_params",
    "num_params",
    "num_visual_params",
    "num_backbone_params",
    "n_shot",
    "rnd_seeds",
    "predictions",
]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    """One feature cache for the module: the demo split is encoded once."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def harness_result(cache_dir, tmp_path_factory):
    """The harness's own result of the demo model on demo-shapes: (record, Predictions)."""
    from cnclip_eval.cli import main
    from cnclip_eval.results import load_predictions, load_result

    out = tmp_path_factory.mktemp("results")
    args = ["--model", "demo", "--dataset", "demo-shapes", "--method", "baseline", "--output-dir", str(out)]
    assert main([*args, "--num-workers", "0", "--cache-dir", str(cache_dir)]) == 0
    path = result_file(out, "demo", "demo-shapes")
    return load_result(path), load_predictions(path)


def export_demo(run_cli, cache_dir, out: Path, *extra) -> tuple[int, str, str]:
    return run_cli(
        "export", "--format", "elevater", "--method", "baseline", "--dataset", "demo-shapes",
        "--model", "demo", "--out", out, "--num-workers", "0", "--cache-dir", cache_dir, *extra,
    )  # fmt: skip


def write_iris_index(path: Path, keys, labels, prefix: str = "test.zip@") -> Path:
    """ELEVATER's IRIS form: '<image path> <label>' a line (here the key as a .jpg file name)."""
    lines = [f"{prefix}{key}.jpg {int(label)}" for key, label in zip(keys, labels)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_demo_file_fields_order_and_probabilities(run_cli, cache_dir, harness_result, tmp_path):
    record, predictions = harness_result
    order = np.random.default_rng(7).permutation(len(predictions.keys))  # ELEVATER's order, here shuffled
    index = write_iris_index(tmp_path / "test.txt", predictions.keys[order], predictions.labels[order])

    code, stdout, stderr = export_demo(run_cli, cache_dir, tmp_path / "elevater", "--index-file", index)
    assert code == 0, stderr
    assert f"index file {index}" in stdout
    content = json.loads(
        (tmp_path / "elevater" / "baseline" / "demo-shapes.json").read_text(encoding="utf-8")
    )
    assert list(content) == ELEVATER_FIELDS
    assert content["model_name"] == "CN-CLIP-demo" and content["dataset_name"] == "demo-shapes"
    assert (content["num_trainable_params"], content["n_shot"], content["rnd_seeds"]) == (0, 0, [0])
    from cnclip_eval.models import ModelRequest, load_model

    module = load_model(ModelRequest("demo")).module
    assert (
        content["num_params"] == content["num_backbone_params"] == sum(p.numel() for p in module.parameters())
    )
    assert content["num_visual_params"] == sum(p.numel() for p in module.visual.parameters())

    probs = np.asarray(content["predictions"], dtype=np.float64)
    assert probs.shape == (1, len(predictions.keys), 20)  # (seeds, N, C)
    probs = probs[0]
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=20 * 5e-7)  # 6-decimal rounding per entry
    assert np.array_equal(probs, np.round(probs, 6))
    top1 = predictions.topk[order, 0]  # the harness's recorded top-1, in the index's order
    assert np.all(probs[np.arange(len(order)), top1] == probs.max(axis=1))
    # the values themselves: the softmax of the harness's stored logits, sample by sample
    expected = torch.softmax(torch.from_numpy(predictions.scores[order].astype(np.float64)), dim=1).numpy()
    np.testing.assert_allclose(probs, expected, atol=5e-7)
    assert f"top1 = {100 * record.metrics['top1']:.2f}" in stdout

    with zipfile.ZipFile(tmp_path / "elevater" / "baseline" / "all_predictions.zip") as archive:
        assert archive.namelist() == ["all_predictions.json"]
        submission = json.loads(archive.read("all_predictions.json"))
    assert submission == {"data": [content]}


def test_without_an_index_the_folder_order(run_cli, cache_dir, harness_result, tmp_path):
    _, predictions = harness_result
    code, stdout, stderr = export_demo(run_cli, cache_dir, tmp_path / "elevater")
    assert code == 0, stderr
    assert "folder order" in stdout
    content = json.loads(
        (tmp_path / "elevater" / "baseline" / "demo-shapes.json").read_text(encoding="utf-8")
    )
    order = ei.folder_order(predictions.keys, predictions.labels)
    assert list(order) == sorted(
        range(len(order)), key=lambda i: (predictions.labels[i], predictions.keys[i])
    )
    probs = np.asarray(content["predictions"][0])
    assert np.all(probs[np.arange(len(order)), predictions.topk[order, 0]] == probs.max(axis=1))


@pytest.mark.parametrize("change", ["missing", "extra", "twice", "label"])
def test_wrong_index_is_refused_in_one_line(change, run_cli, cache_dir, harness_result, tmp_path):
    _, predictions = harness_result
    keys, labels = [str(k) for k in predictions.keys], [int(x) for x in predictions.labels]
    if change == "missing":
        keys, labels, named = keys[1:], labels[1:], keys[0]
    elif change == "extra":
        keys, labels, named = [*keys, "test_999999"], [*labels, 0], "test_999999"
    elif change == "twice":
        keys, labels, named = [*keys, keys[5]], [*labels, labels[5]], keys[5]
    else:
        labels[3], named = (labels[3] + 1) % 20, keys[3]
    index = write_iris_index(tmp_path / "test.txt", keys, labels)
    code, _, stderr = export_demo(run_cli, cache_dir, tmp_path / "elevater", "--index-file", index)
    assert_clean_error(code, stderr, str(index), repr(named))
    assert not (tmp_path / "elevater" / "baseline" / "demo-shapes.json").exists()


def test_cnclip_index_json_reorders_the_folder_order(run_cli, shard_dir, tmp_path):
    """CN-CLIP's index.json: ``outputs[index]`` over the ImageFolder (class, file) order."""
    from cnclip_eval.cli import main

    base = ["--dataset", shard_dir, "--model", "tiny", "--method", "baseline", "--num-workers", "0"]
    assert main([str(a) for a in [*base, "--output-dir", tmp_path / "results"]]) == 0
    from cnclip_eval.results import load_predictions

    predictions = load_predictions(result_file(tmp_path / "results", "tiny", shard_dir.name))
    permutation = np.random.default_rng(3).permutation(len(predictions.keys))
    index = tmp_path / "index.json"
    index.write_text(json.dumps(permutation.tolist()), encoding="utf-8")
    code, _, stderr = run_cli(
        "export", "--format", "elevater", *base, "--out", tmp_path / "e", "--index-file", index
    )
    assert code == 0, stderr
    [file] = (tmp_path / "e" / "baseline").glob("*.json")
    probs = np.asarray(json.loads(file.read_text(encoding="utf-8"))["predictions"][0])
    order = ei.folder_order(predictions.keys, predictions.labels)[permutation]
    expected = torch.softmax(torch.from_numpy(predictions.scores[order].astype(np.float64)), dim=1).numpy()
    np.testing.assert_allclose(probs, expected, atol=5e-7)

    index.write_text(json.dumps(permutation[:-1].tolist()), encoding="utf-8")
    code, _, stderr = run_cli(
        "export", "--format", "elevater", *base, "--out", tmp_path / "e", "--index-file", index
    )
    assert_clean_error(code, stderr, str(index), "is not listed")


def test_elevater_options_belong_to_the_elevater_format(run_cli, shard_dir, tmp_path):
    index = tmp_path / "test.txt"
    index.write_text("a.jpg 0\n", encoding="utf-8")
    args = ["--method", "baseline", "--dataset", shard_dir, "--model", "tiny", "--out", tmp_path]
    code, _, stderr = run_cli("export", *args, "--index-file", index)
    assert_clean_error(code, stderr, "--index-file", "--format elevater")
    code, _, stderr = run_cli("export", "--format", "elevater", *args, "--benchmark-name", "x")
    assert_clean_error(code, stderr, "--benchmark-name")


# --- the index files -------------------------------------------------------------------------------


def test_iris_lines_split_at_the_last_space_and_drop_the_zip(tmp_path):
    text = "test.zip@test/a b.jpg 3\n\n  val.zip@val\\x.png 1,4  \nplain.jpg\n"
    entries = ei.parse_iris_lines(text, tmp_path / "test.txt")
    assert [(e.where, e.path, e.labels) for e in entries] == [
        ("line 1", "test/a b.jpg", (3,)),
        ("line 3", "val/x.png", (1, 4)),
        ("line 4", "plain.jpg", None),
    ]
    with pytest.raises(UserError, match=r"line 1: 'x' is not a label"):
        ei.parse_iris_lines("a.jpg x\n", tmp_path / "test.txt")


def test_coco_index_is_sorted_by_id_with_labels_from_the_first_category(tmp_path):
    coco = {
        "images": [{"id": 5, "file_name": "images.zip@b.jpg"}, {"id": 2, "file_name": "images.zip@a.jpg"}],
        "annotations": [{"image_id": 2, "category_id": 1}, {"image_id": 5, "category_id": 3}],
        "categories": [{"id": 1, "name": "x"}, {"id": 2, "name": "y"}, {"id": 3, "name": "z"}],
    }
    path = tmp_path / "test.json"
    path.write_text(json.dumps(coco), encoding="utf-8")
    index = ei.read_index(path)
    assert index.kind == "coco"
    assert [(e.path, e.labels) for e in index.entries] == [("a.jpg", (0,)), ("b.jpg", (2,))]
    order = ei.index_order(index, np.array(["b", "a"]), np.array([2, 0]))
    assert order.tolist() == [1, 0]


def test_index_paths_map_to_the_keys_convert_gives(tmp_path):
    """An ELEVATER tree converted by ``cnclip-eval convert``: index paths find their samples by the
    conversion's own key rule, with or without the split folder in front."""
    from cnclip_eval.data.folders import plan_conversion

    source = tmp_path / "src"
    names = {"000": ["img.1.jpg", "img-2.jpg", "b c.png"], "001": ["img.1.jpg", "z.webp"]}
    for folder, files in names.items():
        (source / "test" / folder).mkdir(parents=True)
        for name in files:
            (source / "test" / folder / name).write_bytes(b"not decoded by the planner")
    (source / "label_cn.txt").write_text("甲\n乙\n", encoding="utf-8")
    [split] = plan_conversion(source).splits
    assert {f.key for f in split.files} == {ei.conversion_key(f.relpath) for f in split.files}
    keys = np.array([f.key for f in split.files])
    labels = np.array([f.label for f in split.files])

    lines = ["test.zip@test/001/z.webp 1", "000/b c.png 0", "test/000/img.1.jpg 0", "001/img.1.jpg 1"]
    lines.append("test.zip@test/000/img-2.jpg 0")
    path = tmp_path / "test.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    order = ei.index_order(ei.read_index(path), keys, labels)
    assert keys[order].tolist() == ["001_z", "000_b_c", "000_img_1", "001_img_1", "000_img-2"]


def test_cnclip_permutation_is_checked(tmp_path):
    keys, labels = np.array(["1_b", "0_a", "1_a", "0_b"]), np.array([1, 0, 1, 0])
    assert ei.folder_order(keys, labels).tolist() == [1, 3, 2, 0]  # 0_a, 0_b, 1_a, 1_b
    path = tmp_path / "index.json"
    for content, message in [
        ([3, 2, 1, 0], None),
        ([3, 2, 1, 1], r"'0_b' \(folder position 1\) is listed twice"),
        ([0, 1, 2, 4], "position 4 is outside the 4 samples"),
        ([0, 1, 2], "sample key '1_b' of the shards is not listed"),
    ]:
        path.write_text(json.dumps(content), encoding="utf-8")
        index = ei.read_index(path)
        if message is None:
            assert keys[ei.index_order(index, keys, labels)].tolist() == ["1_b", "1_a", "0_b", "0_a"]
        else:
            with pytest.raises(UserError, match=message):
                ei.index_order(index, keys, labels)


def test_multilabel_index_labels_are_compared_as_sets(tmp_path):
    path = tmp_path / "test_ic.txt"
    path.write_text("a.jpg 2,0\nb.jpg 1\n", encoding="utf-8")
    labels = np.array([[1, 0, 1], [0, 1, 0]], dtype=np.int8)
    assert ei.index_order(ei.read_index(path), np.array(["a", "b"]), labels).tolist() == [0, 1]
    path.write_text("a.jpg 2\nb.jpg 1\n", encoding="utf-8")
    with pytest.raises(UserError, match="'a' has label 0,2 in the shards, 2 in the index"):
        ei.index_order(ei.read_index(path), np.array(["a", "b"]), labels)


# --- the file format -------------------------------------------------------------------------------


def few_shot_record(seed: int, probs, model_name: str = "m") -> dict:
    return ee.prediction_record(
        model_name=model_name, dataset_name="dtd", params=(10, 4), n_shot=5, seeds=[seed],
        trainable=100 + seed, probs=np.asarray(probs),
    )  # fmt: skip


def test_combine_merges_seeds_as_prepare_submit_does():
    records = [
        ("seed0_dtd.json", few_shot_record(0, [[0.25, 0.75]])),
        ("seed2_dtd.json", few_shot_record(2, [[1, 0]])),
    ]
    [merged] = ee.combine(records)
    assert merged["rnd_seeds"] == [0, 2]
    assert merged["predictions"] == [[[0.25, 0.75]], [[1.0, 0.0]]]  # (seeds, N, C)
    assert merged["num_trainable_params"] == 101.0  # averaged
    records[1] = ("seed2_dtd.json", few_shot_record(2, [[1, 0]], model_name="other"))
    with pytest.raises(UserError, match="seed2_dtd.json: model_name is 'other'"):
        ee.combine(records)


def test_file_names_and_shot_fields():
    assert ee.file_name("dtd", 0, 0) == "dtd.json"  # zeroshot.py
    assert ee.file_name("dtd", 5, 1) == "seed1_dtd.json"  # linear_probe.py
    assert ee.shot_fields({}, "baseline") == (0, [0], 0)
    assert ee.shot_fields({"shots": 16, "seed": 2}, "coop") == (16, [2], None)


def test_probabilities_are_rounded_softmax_rows():
    logits = np.array([[1000.0, 0.0, 1000.0], [0.1, 0.2, 0.3]], dtype=np.float32)
    probs = ee.probabilities(logits)
    np.testing.assert_allclose(probs[0], [0.5, 0.0, 0.5])  # no overflow
    assert ee.rounded(probs)[1] == [
        round(p, 6) for p in (np.exp([0.1, 0.2, 0.3]) / np.exp([0.1, 0.2, 0.3]).sum())
    ]


def test_elevater_names_and_test_sizes():
    def dataset(name):
        return SimpleNamespace(name=name, spec=SimpleNamespace(name=name))

    assert ee.elevater_name(dataset("eurosat")) == "eurosat_clip"
    assert ee.elevater_name(dataset("fgvc-aircraft")) == "fgvc-aircraft-2013b-variants102"
    assert ee.elevater_name(dataset("imagenet1k")) == "imagenet-1k"
    assert ee.elevater_name(SimpleNamespace(name="my_shards", spec=None)) == "my_shards"
    ee.check_size("cifar-10", 10000, "x")
    ee.check_size("demo-shapes", 600, "x")  # not an ELEVATER dataset: no size to hold it to
    with pytest.raises(UserError, match="9999 test samples, ELEVATER's cifar-10 test split has 10000"):
        ee.check_size("cifar-10", 9999, "x")


def test_submission_zip_refuses_a_stranger_in_the_folder(tmp_path):
    (tmp_path / "dtd.json").write_text(json.dumps(few_shot_record(0, [[1, 0]])), encoding="utf-8")
    (tmp_path / "notes.json").write_text("{}", encoding="utf-8")
    with pytest.raises(UserError, match="notes.json: not an ELEVATER prediction file"):
        ee.write_submission(tmp_path)


def test_submission_zip_holds_every_dataset_with_seed_files_merged(tmp_path):
    seeds = [few_shot_record(0, [[0.25, 0.75]]), few_shot_record(1, [[0.5, 0.5]])]
    other = {**few_shot_record(0, [[1, 0, 0]]), "dataset_name": "mnist"}
    for name, record in [
        ("seed0_dtd.json", seeds[0]),
        ("seed1_dtd.json", seeds[1]),
        ("seed0_mnist.json", other),
    ]:
        (tmp_path / name).write_text(json.dumps(record), encoding="utf-8")
    with zipfile.ZipFile(ee.write_submission(tmp_path)) as archive:
        data = json.loads(archive.read("all_predictions.json"))["data"]
    assert [d["dataset_name"] for d in data] == ["dtd", "mnist"]  # file-name order, as the folder sorts
    assert data[0] == ee.combine([("0", seeds[0]), ("1", seeds[1])])[0]
    assert data[0]["rnd_seeds"] == [0, 1] and len(data[0]["predictions"]) == 2
    assert data[1] == other


def test_folder_order_is_torchvision_imagefolder_order_of_the_converted_folder(run_cli, tmp_path):
    """Shards converted from a CN-CLIP ELEVATER folder still on disk: the rows follow
    ``torchvision.datasets.ImageFolder`` over that folder (CN-CLIP's order), bare and under an
    index.json, even for file names whose keys sort otherwise."""
    from torchvision.datasets import ImageFolder

    from cnclip_eval.results import load_predictions

    source = tmp_path / "src"
    names = ["a.jpg", "a-b.jpg", "a b.png", "B.jpg", "a_c.jpg", "a0.png"]
    images = iter(make_images(2 * len(names), seed=5))
    for folder in ("0", "1"):
        (source / "test" / folder).mkdir(parents=True)
        for name in names:
            next(images).save(source / "test" / folder / name)
    (source / "label_cn.txt").write_text("甲\n乙\n", encoding="utf-8")
    out = tmp_path / "shards"
    assert run_cli("convert", source, "--out", out)[0] == 0

    base = ["--dataset", out, "--model", "tiny", "--method", "baseline", "--num-workers", "0"]
    assert run_cli(*base, "--output-dir", tmp_path / "results")[0] == 0
    predictions = load_predictions(result_file(tmp_path / "results", "tiny", "shards"))
    key_of = {f"{label}/{name}": ei.conversion_key(f"{label}/{name}") for label in "01" for name in names}
    imagefolder = [
        key_of[Path(path).relative_to(source / "test").as_posix()]
        for path, _ in ImageFolder(source / "test").samples
    ]
    position = {str(key): i for i, key in enumerate(predictions.keys)}
    expected = np.asarray([position[key] for key in imagefolder])
    assert not np.array_equal(
        ei.folder_order(predictions.keys, predictions.labels), expected
    )  # keys alone differ

    def exported_rows(*extra) -> np.ndarray:
        code, stdout, stderr = run_cli(
            "export", "--format", "elevater", *base, "--out", tmp_path / "e", *extra
        )
        assert code == 0, stderr
        assert f"file names of {source / 'test'}" in stdout
        return np.asarray(
            json.loads((tmp_path / "e" / "baseline" / "shards.json").read_text())["predictions"][0]
        )

    def softmax_rows(order) -> np.ndarray:
        return torch.softmax(torch.from_numpy(predictions.scores[order].astype(np.float64)), dim=1).numpy()

    np.testing.assert_allclose(exported_rows(), softmax_rows(expected), atol=5e-7)
    permutation = np.random.default_rng(1).permutation(len(expected))
    (tmp_path / "index.json").write_text(json.dumps(permutation.tolist()), encoding="utf-8")
    rows = exported_rows("--index-file", tmp_path / "index.json")
    np.testing.assert_allclose(
        rows, softmax_rows(expected[permutation]), atol=5e-7
    )  # CN-CLIP's outputs[index]
