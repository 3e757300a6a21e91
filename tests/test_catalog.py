"""Every catalog dataset: class lists of the right length, registered metric and templates, unique aliases."""

from __future__ import annotations

import pytest

from cnclip_eval.data.catalog import CLASSNAMES_DIR, DATASETS, find_spec
from cnclip_eval.data.elevater import CLIP_BENCHMARK_SOURCES
from cnclip_eval.metrics import METRICS
from cnclip_eval.templates import resolve_templates

from conftest import make_dataset

NAMES = DATASETS.names()


@pytest.mark.parametrize("name", NAMES)
def test_spec(name):
    spec = DATASETS.get(name)
    assert spec.main_metric in METRICS and all(m in METRICS for m in spec.metrics)
    assert all("{c}" in t for t in resolve_templates(spec.templates))
    english = spec.read_classnames_en()
    assert english is None or len(english) == spec.num_classes
    for variant, file_name in spec.classnames_zh.items():
        assert (CLASSNAMES_DIR / file_name).is_file(), f"Chinese names of {name} missing: {file_name}"
        chinese = spec.read_classnames(variant)
        assert len(chinese) == spec.num_classes and all(chinese)
        if name != "imagenet1k":  # CN-CLIP's and Wukong's ImageNet lists repeat a few names
            assert len(set(chinese)) == len(chinese), [n for n in chinese if chinese.count(n) > 1]


def test_aliases_are_unique_and_resolve():
    aliases = DATASETS.aliases()
    assert not set(aliases) & set(NAMES)
    for alias, name in aliases.items():
        assert find_spec(alias).name == name


def test_shards_in_another_label_order_are_refused(run_cli, tmp_path):
    english = find_spec("cifar-10").read_classnames_en()
    root = make_dataset(tmp_path / "cifar", n=20, classnames=list(reversed(english)))
    code, _, err = run_cli("--dataset", "cifar-10", "--data-root", root, "--model", "tiny")
    assert code == 2 and "another label order" in err and "label 0 is 'truck' there, 'airplane'" in err


def test_catalog_dataset_from_local_shards(run_cli, tmp_path):
    english = find_spec("cifar-10").read_classnames_en()
    root = make_dataset(tmp_path / "cifar", n=20, classnames=english)
    code, out, err = run_cli(
        "--dataset", "cifar10", "--data-root", root, "--model", "tiny", "--output-dir", tmp_path
    )
    assert code == 0, err
    assert "cifar-10" in out


@pytest.mark.parametrize("name", sorted(CLIP_BENCHMARK_SOURCES))
def test_default_sources_hold_our_label_order(name):
    """A default source must list the catalog's classes in the catalog's order: the shards' classnames.txt
    were written from clip_benchmark's en_classnames.json, which ships with clip_benchmark."""
    import json
    from pathlib import Path

    import clip_benchmark

    keys = {
        "country211": "country211",
        "eurosat": "eurosat",
        "fer-2013": "fer2013",
        "gtsrb": "gtsrb",
        "kitti-distance": "kitti_closest_vehicle_distance",
        "mnist": "mnist",
        "oxford-flower-102": "flowers",
        "oxford-iiit-pets": "pets",
        "patch-camelyon": "pcam",
    }
    theirs = json.loads(
        (Path(clip_benchmark.__file__).parent / "datasets" / "en_classnames.json").read_text()
    )[keys[name]]
    ours = DATASETS.get(name).read_classnames_en()

    def normal(n):
        return " ".join(n.lower().replace("_", " ").split())

    assert [normal(n) for n in ours] == [normal(n) for n in theirs]


def test_chinese_named_shards_in_another_label_order_are_refused(run_cli, tmp_path):
    """`convert` of an ImageFolder tree with Chinese folder names sorts them: the guard must see that."""
    chinese = find_spec("cifar-10").read_classnames()
    root = make_dataset(tmp_path / "cifar", n=20, classnames=sorted(chinese))
    code, _, err = run_cli("--dataset", "cifar-10", "--data-root", root, "--model", "tiny")
    assert code == 2 and "another label order" in err and "classnames.txt" in err


def test_english_names_beside_chinese_ones_are_checked_too(run_cli, tmp_path):
    spec = find_spec("cifar-10")
    root = make_dataset(tmp_path / "cifar", n=20, classnames=spec.read_classnames())
    (root / "classnames_en.txt").write_text(
        "\n".join(reversed(spec.read_classnames_en())) + "\n", encoding="utf-8"
    )
    code, _, err = run_cli("--dataset", "cifar-10", "--data-root", root, "--model", "tiny")
    assert code == 2 and "classnames_en.txt" in err and "another label order" in err
