"""Shared fixtures: a tiny random CN-CLIP and generated multi-shard datasets (offline, CPU)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cnclip_eval.data.writer import Sample, encode_image, write_metadata, write_split

CLASSNAMES_ZH = ["红色的圆形", "蓝色的方块", "绿色的三角形", "黄色的条纹", "黑白格子"]
CLASSNAMES_EN = ["red circle", "blue square", "green triangle", "yellow stripes", "black and white checks"]
TEMPLATES_ZH = ["{c}的照片", "一张{c}的图片", "{c}的低分辨率照片"]


def make_images(n: int, seed: int = 0, size: int = 40):
    """Deterministic RGB images (random blocks of colour), with varied sizes to exercise the squash resize."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    images = []
    for i in range(n):
        h, w = size + (i % 3) * 7, size + (i % 4) * 5
        pixels = rng.integers(0, 256, size=(h // 8 + 1, w // 8 + 1, 3), dtype=np.uint8)
        image = Image.fromarray(pixels).resize((w, h), Image.NEAREST)
        images.append(image)
    return images


def make_dataset(
    root: Path,
    n: int = 37,
    num_shards: int = 3,
    seed: int = 0,
    split: str = "test",
    classnames=CLASSNAMES_ZH,
    templates=TEMPLATES_ZH,
) -> Path:
    images = make_images(n, seed)
    samples = [
        Sample(
            f"s{seed}_{i:04d}",
            encode_image(img, "webp" if i % 2 else "jpg"),
            "webp" if i % 2 else "jpg",
            i % len(classnames),
        )
        for i, img in enumerate(images)
    ]
    write_metadata(root, list(classnames), templates)
    write_split(root, split, samples, num_shards)
    return root


@pytest.fixture(scope="session")
def shard_dir(tmp_path_factory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("wds_tiny"))


@pytest.fixture(scope="session")
def tiny_model():
    from cnclip_eval.models import ModelRequest, load_model

    return load_model(ModelRequest("tiny", seed=0))


@pytest.fixture()
def run_cli(tmp_path, monkeypatch, capsys):
    """Run ``cnclip-eval`` in-process with a private cache; returns (exit code, stdout, stderr)."""
    from cnclip_eval.cli import main

    monkeypatch.setenv("CNCLIP_EVAL_CACHE", str(tmp_path / "cache"))

    def run(*argv: str) -> tuple[int, str, str]:
        code = main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def evaluate_demo_shapes(run_cli, out: Path, *options, model: str = "demo") -> dict:
    """``--method baseline`` on the shipped demo-shapes split into ``out``; the result record."""
    code, _, err = run_cli(
        "--model",
        model,
        "--dataset",
        "demo-shapes",
        "--method",
        "baseline",
        "--output-dir",
        out,
        "--num-workers",
        "0",
        *options,
    )
    assert code == 0, err
    return json.loads(next(Path(out).glob("*.json")).read_text(encoding="utf-8"))


def result_file(folder: Path, model: str, dataset: str, method: str = "baseline") -> Path:
    """The one result of (model, dataset, method) in ``folder``; a shard folder's results carry a
    tag of its location after the method (see cnclip_eval.naming)."""
    stem = f"{model}__{dataset}__{method}"
    [path] = [
        p
        for p in Path(folder).glob(f"{stem}*.json")
        if p.name == f"{stem}.json" or p.name.startswith(f"{stem}__")
    ]
    return path


@pytest.fixture()
def no_model(monkeypatch):
    """Fail the test if a model is loaded: the input checks must come first."""

    def refuse(*args, **kwargs):
        raise AssertionError("model loaded before the input was checked")

    monkeypatch.setattr("cnclip_eval.engine.load_model", refuse)


def assert_clean_error(code: int, err: str, *fragments: str) -> None:
    """Exit 2 with one ``cnclip-eval: error:`` line holding every fragment, no traceback."""
    assert code == 2, err
    assert "Traceback" not in err
    assert err.startswith("cnclip-eval: error: "), err
    assert len(err.strip().splitlines()) == 1, err
    for fragment in fragments:
        assert fragment in err, err
