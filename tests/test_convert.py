"""`cnclip-eval convert`: image folders -> shards that evaluate, resume and refuse bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cnclip_eval.data.layout import read_classnames, read_layout
from cnclip_eval.data.shards import read_shard
from cnclip_eval.data.sources import open_source
from cnclip_eval.results import load_result

from conftest import make_images, result_file

NAMES_ZH = ["猫", "狗", "鸟"]
NAMES_EN = ["cat", "dog", "bird"]


def make_tree(root: Path, folders=("000", "001", "002"), per_class: int = 4, split: str = "test") -> Path:
    """A tiny image-folder tree: jpg and png files, names that need cleaning up into keys."""
    images = make_images(len(folders) * per_class, seed=1)
    for c, folder in enumerate(folders):
        (root / split / folder).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            extension = "png" if i % 2 else "jpg"
            images[c * per_class + i].save(root / split / folder / f"img.{i}.{extension}")
    return root


def make_elevater(root: Path, **kwargs) -> Path:
    make_tree(root, **kwargs)
    (root / "label_cn.txt").write_text("\n".join(NAMES_ZH) + "\n", encoding="utf-8")
    (root / "label.txt").write_text("\n".join(NAMES_EN) + "\n", encoding="utf-8")
    return root


def read_back(out: Path, split: str = "test") -> list[tuple[int, str, int]]:
    """(shard, key, label) of every sample, through the project's shard reader."""
    source = open_source(str(out))
    layout = read_layout(source, split)
    samples = []
    for shard in layout.shards:
        with source.open(shard.relpath) as f:
            for key, _, label in read_shard(f, shard.relpath, lambda image: None, 3, False):
                samples.append((shard.index, key, label))
    return samples


def mtimes(out: Path) -> dict[str, int]:
    return {
        p.relative_to(out).as_posix(): p.stat().st_mtime_ns for p in sorted(out.rglob("*")) if p.is_file()
    }


def test_elevater_tree_converts_and_evaluates(run_cli, tmp_path):
    source, out = make_elevater(tmp_path / "src"), tmp_path / "out"
    code, stdout, err = run_cli("convert", source, "--out", out, "--shards", "2")
    assert code == 0, err
    assert "test: 12 images, 2 shards (2 written)" in stdout
    assert f"cnclip-eval --dataset {out}" in stdout
    assert (out / "test" / "nshards.txt").read_text() == "2\n"
    assert (out / "classnames.txt").read_text(encoding="utf-8") == "猫\n狗\n鸟\n"
    assert (out / "classnames_en.txt").read_text() == "cat\ndog\nbird\n"
    assert read_classnames(open_source(str(out))) == NAMES_ZH

    samples = read_back(out)
    assert len(samples) == 12 and len({key for _, key, _ in samples}) == 12
    assert all("." not in key for _, key, _ in samples)
    assert {key: label for _, key, label in samples}["001_img_2"] == 1
    assert all({label for shard, _, label in samples if shard == i} == {0, 1, 2} for i in (0, 1))
    # the original bytes, not a re-encoding
    with open(out / "test" / "0.tar", "rb") as f:
        assert (source / "test" / "000" / "img.0.jpg").read_bytes() in f.read()

    code, _, err = run_cli(
        "--dataset", out, "--model", "tiny", "--method", "baseline",
        "--output-dir", tmp_path / "results", "--num-workers", "0", "--device", "cpu",
    )  # fmt: skip
    assert code == 0, err
    record = load_result(result_file(tmp_path / "results", "tiny", "out"))
    assert record.n_samples == 12


def test_rerun_is_up_to_date_and_resumes_missing_shards(run_cli, tmp_path):
    source, out = make_elevater(tmp_path / "src"), tmp_path / "out"
    assert run_cli("convert", source, "--out", out, "--shards", "2")[0] == 0
    before = mtimes(out)
    code, stdout, err = run_cli("convert", source, "--out", out, "--shards", "2")
    assert code == 0, err
    assert "up to date" in stdout and mtimes(out) == before

    (out / "test" / "1.tar").unlink()
    code, stdout, err = run_cli("convert", source, "--out", out, "--shards", "2")
    assert code == 0, err
    assert "(1 written)" in stdout
    after = mtimes(out)
    assert after.keys() == before.keys()
    assert [name for name in after if after[name] != before[name]] == ["test/1.tar"]
    assert len(read_back(out)) == 12


def test_interrupted_conversion_finishes(run_cli, tmp_path, monkeypatch):
    import cnclip_eval.data.convert as convert

    source, out = make_elevater(tmp_path / "src"), tmp_path / "out"
    original, calls = convert.write_shard, []

    def write_then_die(path, samples):
        if calls:
            raise KeyboardInterrupt
        calls.append(path)
        return original(path, samples)

    monkeypatch.setattr(convert, "write_shard", write_then_die)
    assert run_cli("convert", source, "--out", out, "--shards", "2")[0] == 130
    assert (out / "test" / "0.tar").is_file() and not (out / "test" / "nshards.txt").exists()
    assert not (out / "classnames.txt").exists()
    monkeypatch.setattr(convert, "write_shard", original)
    code, stdout, err = run_cli("convert", source, "--out", out, "--shards", "2")
    assert code == 0, err
    assert "(1 written)" in stdout and len(read_back(out)) == 12


def test_other_settings_or_source_are_refused_unless_overwrite(run_cli, tmp_path):
    source, out = make_elevater(tmp_path / "src"), tmp_path / "out"
    assert run_cli("convert", source, "--out", out, "--shards", "2")[0] == 0
    code, _, err = run_cli("convert", source, "--out", out, "--shards", "3")
    assert code == 2 and "--overwrite" in err and "3" in err and "Traceback" not in err
    other = make_elevater(tmp_path / "other")
    code, _, err = run_cli("convert", other, "--out", out, "--shards", "2")
    assert code == 2 and str(other) in err

    code, stdout, err = run_cli("convert", source, "--out", out, "--shards", "3", "--overwrite")
    assert code == 0, err
    assert sorted(p.name for p in (out / "test").iterdir()) == ["0.tar", "1.tar", "2.tar", "nshards.txt"]
    assert json.loads((out / ".convert.json").read_text())["splits"]["test"]["nshards"] == 3
    assert len(read_back(out)) == 12

    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    code, _, err = run_cli("convert", source, "--out", foreign)
    assert code == 2 and str(foreign) in err


def test_imagefolder_tree(run_cli, tmp_path):
    source = make_tree(tmp_path / "src", folders=("zebra", "apple", "mango"), per_class=2)
    make_tree(source, folders=("zebra", "apple", "mango"), per_class=3, split="train")
    out = tmp_path / "out"
    code, stdout, err = run_cli("convert", source, "--out", out)
    assert code == 0, err
    assert "test: 6 images, 1 shard " in stdout and "train: 9 images, 1 shard " in stdout
    assert "--split train" in stdout
    assert (out / "classnames.txt").read_text() == "apple\nmango\nzebra\n"
    assert not (out / "classnames_en.txt").exists()
    labels = {key: label for _, key, label in read_back(out)}
    assert labels["apple_img_0"] == 0 and labels["zebra_img_1"] == 2
    assert len(read_back(out, "train")) == 9

    # a second run with only one split is up to date
    code, stdout, _ = run_cli("convert", source, "--out", out, "--splits", "train")
    assert code == 0 and "up to date" in stdout


def test_unsupported_files_are_skipped_with_a_warning(run_cli, tmp_path):
    source = make_elevater(tmp_path / "src")
    (source / "test" / "001" / "notes.txt").write_text("not an image")
    (source / "test" / "001" / ".DS_Store").write_bytes(b"\0")
    code, stdout, err = run_cli("convert", source, "--out", tmp_path / "out")
    assert code == 0, err
    assert "12 images" in stdout
    assert "skipped 1 file" in err and "test/001/notes.txt" in err


def _broken_image(source: Path) -> tuple[Path, Path]:
    path = source / "test" / "002" / "img.1.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    return source, path


def _truncated_jpeg(source: Path) -> tuple[Path, Path]:
    """A half-downloaded JPEG: its header parses (PIL's verify() passes), its pixels do not decode."""
    path = source / "test" / "001" / "img.0.jpg"
    path.write_bytes(path.read_bytes()[:400])
    return source, path


def _label_out_of_range(source: Path) -> tuple[Path, Path]:
    (source / "test" / "003").mkdir()
    make_images(1)[0].save(source / "test" / "003" / "a.jpg")
    return source, source / "test" / "003"


def _label_not_a_number(source: Path) -> tuple[Path, Path]:
    (source / "test" / "cats").mkdir()
    make_images(1)[0].save(source / "test" / "cats" / "a.jpg")
    return source, source / "test" / "cats"


def _no_split_folders(source: Path) -> tuple[Path, Path]:
    return source / "test", source / "test"  # a split given as the source: its folders hold images


def _missing_source(source: Path) -> tuple[Path, Path]:
    return source / "nowhere", source / "nowhere"


@pytest.mark.parametrize(
    "breakage",
    [
        _broken_image,
        _truncated_jpeg,
        _label_out_of_range,
        _label_not_a_number,
        _no_split_folders,
        _missing_source,
    ],
    ids=lambda f: f.__name__.strip("_"),
)
def test_bad_input_exits_2_naming_the_file(run_cli, tmp_path, breakage):
    source, named = breakage(make_elevater(tmp_path / "src"))
    code, _, err = run_cli("convert", source, "--out", tmp_path / "o")
    assert code == 2, err
    assert err.startswith("cnclip-eval: error: ") and err.count("\n") == 1
    assert str(named) in err


def test_missing_split_is_named(run_cli, tmp_path):
    source = make_elevater(tmp_path / "src")
    code, _, err = run_cli("convert", source, "--out", tmp_path / "o", "--splits", "val")
    assert code == 2 and str(source / "val") in err and "found: test" in err


def test_overwrite_replaces_a_damaged_manifest(run_cli, tmp_path):
    source, out = make_elevater(tmp_path / "src"), tmp_path / "out"
    assert run_cli("convert", source, "--out", out)[0] == 0
    (out / ".convert.json").write_text("{damaged", encoding="utf-8")
    code, _, err = run_cli("convert", source, "--out", out)
    assert code == 2 and "--overwrite" in err
    code, _, err = run_cli("convert", source, "--out", out, "--overwrite")
    assert code == 0, err
    assert len(read_back(out)) == 12
