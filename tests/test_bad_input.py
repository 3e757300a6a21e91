"""Bad input: one clear line naming the file, shard, sample or name; non-zero exit; no traceback."""

from __future__ import annotations

import io
import shutil
import tarfile

import pytest

from conftest import assert_clean_error, make_dataset


@pytest.fixture()
def dataset(tmp_path):
    return make_dataset(tmp_path / "wds", n=12, num_shards=2)


@pytest.mark.parametrize(
    ("flag", "value", "expected"),
    [
        ("--model", "ViT-B-61", "Did you mean: ViT-B-16"),
        ("--method", "baselin", "Did you mean: baseline"),
        ("--templates", "zh08", "Did you mean: zh80"),
    ],
)
def test_unknown_names(run_cli, dataset, flag, value, expected, no_model, monkeypatch):
    if flag == "--model":  # the unknown model is only found at load time, so allow the (failing) lookup
        monkeypatch.undo()
    code, _, err = run_cli("--dataset", dataset, "--model", "tiny", flag, value)
    assert_clean_error(code, err, repr(value), expected, "Available:")


def test_unknown_dataset(run_cli, no_model):
    code, _, err = run_cli("--dataset", "imagenet-1l", "--model", "tiny")
    assert_clean_error(code, err, "Unknown dataset 'imagenet-1l'", "imagenet1k")


def test_missing_nshards(run_cli, dataset, no_model):
    (dataset / "test" / "nshards.txt").unlink()
    code, _, err = run_cli("--dataset", dataset, "--model", "tiny")
    assert_clean_error(code, err, "nshards.txt", "missing")


def test_missing_shard(run_cli, dataset, tmp_path):
    (dataset / "test" / "1.tar").unlink()
    code, _, err = run_cli("--dataset", dataset, "--model", "tiny", "--num-workers", "0")
    assert_clean_error(code, err, "1.tar", "missing")


def rewrite_member(shard, name, data: bytes):
    with tarfile.open(shard) as archive:
        members = [(m, archive.extractfile(m).read()) for m in archive.getmembers()]
    with tarfile.open(shard, "w") as archive:
        for member, content in members:
            if member.name == name:
                content, member.size = data, len(data)
            archive.addfile(member, io.BytesIO(content))


def test_undecodable_image(run_cli, dataset):
    rewrite_member(dataset / "test" / "0.tar", "s0_0001.webp", b"not an image")
    code, _, err = run_cli("--dataset", dataset, "--model", "tiny", "--num-workers", "0")
    assert_clean_error(code, err, "0.tar", "s0_0001", "cannot decode")


def test_label_outside_class_list(run_cli, dataset):
    rewrite_member(dataset / "test" / "1.tar", "s0_0007.cls", b"9")
    code, _, err = run_cli("--dataset", dataset, "--model", "tiny", "--num-workers", "0")
    assert_clean_error(code, err, "1.tar", "s0_0007", "label 9", "5 class names")


def test_classname_count_mismatch(run_cli, dataset, tmp_path, no_model):
    names = tmp_path / "names.txt"
    names.write_text("猫\n狗\n", encoding="utf-8")
    code, _, err = run_cli("--dataset", dataset, "--model", "tiny", "--classnames", names)
    assert_clean_error(code, err, "names.txt", "2 class names", "has 5")


def test_not_a_dataset_folder(run_cli, tmp_path, no_model):
    code, _, err = run_cli("--dataset", tmp_path / "nowhere", "--model", "tiny")
    assert_clean_error(code, err, "no such folder", str(tmp_path / "nowhere"))  # a path, not a name


def test_an_unknown_dataset_name(run_cli, no_model):
    code, _, err = run_cli("--dataset", "cifar-1O", "--model", "tiny")
    assert_clean_error(code, err, "Unknown dataset", "cifar-10")


def test_template_file_without_placeholder(run_cli, dataset, tmp_path, no_model):
    templates = tmp_path / "t.txt"
    templates.write_text("{c}的照片\n一张照片\n", encoding="utf-8")
    code, _, err = run_cli("--dataset", dataset, "--model", "tiny", "--templates", templates)
    assert_clean_error(code, err, "t.txt", "template 2", "{c}")


def test_offline_download_says_where_and_what_to_do(run_cli, dataset, tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise OSError("Temporary failure in name resolution")

    monkeypatch.setattr("cn_clip.clip.utils._download", offline)
    code, _, err = run_cli("--dataset", dataset, "--model", "ViT-B-16", "--model-cache-dir", tmp_path / "w")
    assert_clean_error(
        code,
        err,
        "OFA-Sys/chinese-clip-vit-base-patch16",
        "clip_cn_vit-b-16.pt",
        "--arch ViT-B-16@RoBERTa-wwm-ext-base-chinese",
    )


def test_precision_needs_gpu(run_cli, dataset, no_model):
    code, _, err = run_cli("--dataset", dataset, "--model", "tiny", "--precision", "fp16", "--device", "cpu")
    assert_clean_error(code, err, "fp16", "GPU")


def test_catalog_dataset_with_wrong_local_shards(run_cli, dataset, no_model):
    shutil.copy(dataset / "classnames.txt", dataset / "classnames.bak")
    code, _, err = run_cli("--dataset", "imagenet1k", "--data-root", dataset, "--model", "tiny")
    assert_clean_error(code, err, "classnames.txt", "5 classes", "1000")


def test_errors_in_dataloader_workers_read_as_in_the_main_process(run_cli, dataset):
    """A worker's error crosses the process boundary as data: no worker traceback text in the message."""
    rewrite_member(dataset / "test" / "1.tar", "s0_0007.cls", b"9")
    code, _, err = run_cli("--dataset", dataset, "--model", "tiny", "--num-workers", "2")
    assert_clean_error(code, err, "1.tar", "s0_0007", "label 9")
    assert "worker" not in err and "Original Traceback" not in err
