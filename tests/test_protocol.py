"""CN-CLIP's own protocol by default, recorded in every result, and checked against its published table."""

from __future__ import annotations

import ast
import inspect
import json
from pathlib import Path

import pytest

from cnclip_eval.data.catalog import CLASSNAMES_DIR, DATASETS, find_spec
from cnclip_eval.data.resolve import DatasetRequest, resolve_dataset
from cnclip_eval.templates import resolve_templates

from conftest import make_dataset

ROOT = Path(__file__).resolve().parents[1]
PUBLISHED = ROOT / "benchmarks" / "baselines" / "cnclip-published.json"


def _script_template_dict() -> dict[str, str]:
    """``template_dict`` of cn_clip/eval/zeroshot_evaluation.py (lines 235-247 in cn_clip 1.6.0), read
    from the installed script: ELEVATER dataset name -> name of a list in cvinw_zeroshot_templates."""
    from cn_clip.eval import zeroshot_evaluation

    tree = ast.parse(inspect.getsource(zeroshot_evaluation))
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "template_dict":
            return {k.value: v.id for k, v in zip(node.value.keys, node.value.values)}
    raise AssertionError("template_dict not found in cn_clip's zero-shot script")


def _script_templates_for(dataset: str) -> list[str]:
    """The templates the script applies to one of our catalog datasets (its keys are ELEVATER names)."""
    from cn_clip.eval import cvinw_zeroshot_templates

    spec = find_spec(dataset)
    table = _script_template_dict()
    keys = [k for k in table if k != "openai" and find_spec(k).name == spec.name] if spec else []
    variable = table[keys[0]] if keys else table["openai"]
    return [t("{c}") for t in getattr(cvinw_zeroshot_templates, variable)]


def test_the_script_maps_six_datasets_and_gives_every_other_the_183():
    table = _script_template_dict()
    assert table == {
        "fgvc-aircraft-2013b-variants102": "aircraft_templates",
        "food-101": "food_templates",
        "oxford-flower-102": "flower_templates",
        "eurosat_clip": "eurosat_templates",
        "resisc45_clip": "eurosat_templates",  # sic: resisc45 gets the eurosat set
        "country211": "country211_templates",
        "openai": "openai_templates",
    }
    assert len(resolve_templates("cnclip183")) == 183


@pytest.mark.parametrize("name", [n for n in DATASETS.names() if n != "demo-shapes"])
def test_default_templates_are_the_scripts(name):
    """Every catalog dataset (ImageNet included) defaults to the templates CN-CLIP's script uses."""
    spec = DATASETS.get(name)
    assert resolve_templates(spec.templates) == _script_templates_for(name), spec.templates


def test_other_template_sets_stay_named_options():
    for name in ("zh80", "cnclip-imagenet", "cnclip-dtd", "cnclip-cars", "single"):
        assert resolve_templates(name)


def _english_imagenet_folder(root: Path) -> Path:
    """A folder in wds_imagenet1k's layout: 1000 English class names, a few images."""
    english = (CLASSNAMES_DIR / "imagenet1k.en.txt").read_text(encoding="utf-8").splitlines()
    return make_dataset(root, n=6, num_shards=2, classnames=english, templates=None)


def test_imagenet_from_a_local_folder_resolves_to_label_cn_and_the_183_templates(tmp_path):
    folder = _english_imagenet_folder(tmp_path / "wds_imagenet1k")
    dataset = resolve_dataset(DatasetRequest("imagenet1k", data_root=str(folder)))
    label_cn = ROOT.parent / "shared" / "data" / "imagenet1k_label_cn.txt"
    expected = (
        label_cn.read_text(encoding="utf-8").splitlines()
        if label_cn.is_file()
        else (CLASSNAMES_DIR / "imagenet1k.zh.txt").read_text(encoding="utf-8").splitlines()
    )
    assert dataset.classnames == expected
    assert dataset.classnames_kind == "imagenet1k:cnclip"
    assert dataset.templates_source == "cnclip183" and len(dataset.templates) == 183
    assert dataset.templates == _script_templates_for("imagenet1k")


def _cifar10_folder(root: Path, names: list[str]) -> Path:
    return make_dataset(root, n=12, num_shards=2, classnames=names, templates=None)


# CN-CLIP's ELEVATER release names CIFAR-10's classes in its own label_cn.txt; a few differ from ours
CNCLIP_CIFAR10 = ["飞机", "汽车", "鸟", "猫", "鹿", "狗", "青蛙", "马", "船", "卡车"]


def test_a_folders_chinese_names_are_used_by_default_and_recorded(tmp_path):
    ours = find_spec("cifar-10").read_classnames()
    theirs = [f"{name}类" for name in CNCLIP_CIFAR10]  # other names than the catalog's, same order
    folder = _cifar10_folder(tmp_path / "cifar-10", theirs)
    dataset = resolve_dataset(DatasetRequest("cifar-10", data_root=str(folder)))
    assert dataset.classnames == theirs and dataset.classnames_kind == "folder-zh"
    assert dataset.provenance()["classnames"].endswith("classnames.txt")
    catalog = resolve_dataset(DatasetRequest("cifar-10", data_root=str(folder), classnames="catalog"))
    assert catalog.classnames == ours and catalog.classnames_kind == "cifar-10:elevater"


def test_english_folder_names_keep_the_catalogs_chinese_list(tmp_path):
    english = find_spec("cifar-10").read_classnames_en()
    folder = _cifar10_folder(tmp_path / "cifar-10-en", english)
    dataset = resolve_dataset(DatasetRequest("cifar-10", data_root=str(folder)))
    assert dataset.classnames == find_spec("cifar-10").read_classnames()


def _run(run_cli, folder: Path, out: Path, *extra) -> dict:
    code, _, err = run_cli(
        "--model", "tiny", "--dataset", "cifar-10", "--data-root", folder, "--method", "baseline",
        "--output-dir", out, "--num-workers", "0", *extra,
    )  # fmt: skip
    assert code == 0, err
    return json.loads(next(Path(out).glob("*.json")).read_text(encoding="utf-8"))


def test_each_result_records_its_protocol(run_cli, tmp_path):
    folder = _cifar10_folder(tmp_path / "cifar-10", CNCLIP_CIFAR10)
    record = _run(run_cli, folder, tmp_path / "a")
    assert record["protocol"] == "cnclip"
    assert record["provenance"]["protocol"] == {"name": "cnclip", "differs": []}
    assert record["provenance"]["dataset"]["classnames_kind"] == "folder-zh"
    assert record["provenance"]["dataset"]["templates"] == "cnclip183"
    custom = _run(run_cli, folder, tmp_path / "b", "--templates", "zh80", "--limit", "5")
    assert custom["protocol"] == "custom"
    differs = " ".join(custom["provenance"]["protocol"]["differs"])
    assert "templates=zh80" in differs and "limit=5" in differs
    ours = _run(run_cli, folder, tmp_path / "c", "--classnames", "catalog")
    assert (
        ours["protocol"] == "custom"
        and "classnames=cifar-10:elevater" in ours["provenance"]["protocol"]["differs"][0]
    )


def test_the_leaderboard_shows_the_protocol(run_cli, tmp_path):
    folder = _cifar10_folder(tmp_path / "cifar-10", CNCLIP_CIFAR10)
    _run(run_cli, folder, tmp_path / "r")
    code, out, _ = run_cli("leaderboard", tmp_path / "r")
    assert code == 0
    header, _, row = out.splitlines()[:3]
    assert header.rstrip(" |").endswith("protocol") and row.rstrip(" |").endswith("cnclip")


RETRIEVAL_COLUMNS = ("muge (valid)", "flickr30k-cn", "coco-cn")
RECALLS = {
    "muge (valid)": ["t2i_r1", "t2i_r5", "t2i_r10"],
    "flickr30k-cn": ["t2i_r1", "t2i_r5", "t2i_r10", "i2t_r1", "i2t_r5", "i2t_r10"],
    "coco-cn": ["t2i_r1", "t2i_r5", "t2i_r10", "i2t_r1", "i2t_r5", "i2t_r10"],
}


def test_published_baseline_names_its_sources_and_the_suite_covers_it():
    """5 ImageNet + 10 ELEVATER classification cells and 5 x 3 retrieval cells (their number is the
    point of the retrieval rows); the suite plans exactly those (model, column) pairs."""
    from cnclip_eval.data.retrieval_dataset import RETRIEVAL_SPECS
    from cnclip_eval.report.check import validate_leaderboard
    from cnclip_eval.suite import suite_configs

    board = validate_leaderboard(json.loads(PUBLISHED.read_text(encoding="utf-8")), str(PUBLISHED))
    cells = {(r["model"], d): c for r in board["rows"] for d, c in r["cells"].items()}
    assert cells[("ViT-B-16", "imagenet1k")]["score"] == pytest.approx(0.483)
    assert cells[("RN50", "imagenet1k")]["score"] == pytest.approx(0.335)
    assert cells[("ViT-H-14", "imagenet1k")]["score"] == pytest.approx(0.596)
    assert len(cells) == 5 + 10 + 5 * 3 and all("Results.md" in c["source"] for c in cells.values())
    configs = suite_configs(ROOT / "benchmarks" / "cnclip-published.yaml")

    def column(name: str) -> str:  # the leaderboard's column: MUGE is reported on its valid split
        spec = RETRIEVAL_SPECS.get(name)
        return f"{name} ({spec.split})" if spec and spec.split != "test" else name

    planned = {(c.models[0], column(d.dataset)) for c in configs for d in c.datasets}
    assert planned == set(cells)
    assert all(
        c.precision == "fp32" and not d.templates and not d.classnames and not d.split
        for c in configs
        for d in c.datasets
    )


@pytest.mark.parametrize("column", RETRIEVAL_COLUMNS)
def test_published_retrieval_cells_list_each_recall_with_its_source(column):
    """Every reported recall, each with its Results.md row and column; mean_recall is CN-CLIP's MR where
    published (MUGE: it agrees with the mean of the three recalls to the table's rounding), else the
    mean of the six recalls, and its source says it was computed."""
    board = json.loads(PUBLISHED.read_text(encoding="utf-8"))
    assert board["metrics"][column] == "mean_recall"
    for row in board["rows"]:
        cell = row["cells"][column]
        assert cell["metric"] == "mean_recall" and cell["n"] is None and row["protocol"] == "cnclip"
        assert list(cell["metrics"]) == RECALLS[column]
        for name, value in cell["metrics"].items():
            k = name.split("_r")[1]
            assert f"R@{k}" in value["source"] and "Zero-shot" in value["source"], value["source"]
            assert 0 < value["score"] <= 1
        mean = sum(v["score"] for v in cell["metrics"].values()) / len(cell["metrics"])
        if column == "muge (valid)":
            assert "MR" in cell["source"] and cell["score"] == pytest.approx(mean, abs=0.0005)
        else:
            assert cell["source"].startswith("computed") and cell["score"] == pytest.approx(mean, abs=1e-6)
    vit_b = next(r for r in board["rows"] if r["model"] == "ViT-B-16")["cells"]
    assert vit_b["muge (valid)"]["metrics"]["t2i_r1"]["score"] == pytest.approx(0.521)
    assert vit_b["flickr30k-cn"]["metrics"]["i2t_r10"]["score"] == pytest.approx(0.971)
    assert vit_b["coco-cn"]["metrics"]["t2i_r5"]["score"] == pytest.approx(0.866)


def _as_published_model(out: Path, model: str) -> None:
    """Relabel a tiny-model result as a published model's: CN-CLIP's weights cannot be downloaded
    here, so the tiny model's real result stands in for it and must fail the check."""
    for path in out.glob("*.json"):
        record = json.loads(path.read_text(encoding="utf-8"))
        record["model"] = model
        path.write_text(json.dumps(record), encoding="utf-8")


def test_check_against_the_published_table_reports_each_cell(run_cli, tmp_path):
    folder = _cifar10_folder(tmp_path / "cifar-10", CNCLIP_CIFAR10)
    out = tmp_path / "r"
    _run(run_cli, folder, out)
    _as_published_model(out, "ViT-B-16")
    code, report, _ = run_cli("check", out, "--baseline", PUBLISHED, "--tolerance", "0.3")
    assert code == 1
    lines = {
        tuple(c.strip() for c in line.split("|")[1:4]): line for line in report.splitlines() if "|" in line
    }
    assert "dropped" in lines[("ViT-B-16", "baseline", "cifar-10")]  # a random tiny model is no CN-CLIP
    assert "missing" in lines[("ViT-B-16", "baseline", "imagenet1k")]
    assert "missing" in lines[("ViT-H-14", "baseline", "imagenet1k")]
    rows = {tuple(c.strip() for c in line.split("|")[1:5]) for line in report.splitlines() if "|" in line}
    assert ("ViT-B-16", "baseline", "muge (valid)", "t2i_r1") in rows  # each published recall is a row
    # 15 classification cells; 15 retrieval cells' mean_recall and their 3 x 5 + 6 x 5 x 2 recalls
    assert "105 results compared" in report


def test_check_passes_a_reproduced_cell_and_fails_one_of_another_protocol(run_cli, tmp_path):
    """The gate logic on a hand-made record: top-1 within tolerance of 92.0 passes only under CN-CLIP's protocol."""
    from cnclip_eval.results import ResultRecord, save_result

    baseline = tmp_path / "one.json"
    board = json.loads(PUBLISHED.read_text(encoding="utf-8"))
    board["rows"] = [
        {**r, "cells": {"cifar-10": r["cells"]["cifar-10"]}}
        for r in board["rows"]
        if r["model"] == "ViT-B-16"
    ]
    baseline.write_text(json.dumps(board), encoding="utf-8")
    for protocol, expected in (("cnclip", 0), ("custom", 1)):
        out = tmp_path / protocol
        record = ResultRecord("ViT-B-16", "cifar-10", "test", "baseline", "baseline", "top1",
                              {"top1": 0.9185, "top5": 0.99}, 10000, protocol=protocol)  # fmt: skip
        save_result(record, None, out)
        code, report, _ = run_cli("check", out, "--baseline", baseline, "--tolerance", "0.3", "--all")
        assert code == expected, report
        assert ("other protocol" in report) == (protocol == "custom")
