"""CLIP_benchmark's retrieval webdataset layout as an input: read as its own loader reads it (from its
own converter's output, locally and over HTTP), scored to the same recalls as its
``zeroshot_retrieval.evaluate``; bad input is one line naming shard and key."""

from __future__ import annotations

import functools
import http.server
import io
import tarfile
import threading
from pathlib import Path

import pytest
import torch

from cnclip_eval.data.retrieval_shards import read_retrieval_shards
from cnclip_eval.data.sources import LocalSource
from cnclip_eval.data.writer import RetrievalSample, write_retrieval_split
from cnclip_eval.results import load_result

from conftest import assert_clean_error
from test_cnclip_retrieval_data import jpeg

NAMES = ["红色的圆形", "蓝色的方块", "绿色的三角形", "一只猫在草地上", "黄色的条纹"]


def make_retrieval_shards(root: Path, n: int = 11, num_shards: int = 3, per_image=None) -> Path:
    """``n`` images in ``num_shards`` shards, image i with ``per_image(i)`` captions (1 to 5 by default)."""
    per_image = per_image or (lambda i: 1 + i % 5)
    samples = [
        RetrievalSample(
            f"img{i:03d}",
            jpeg(i),
            "jpg",
            tuple(f"{NAMES[(i + j) % 5]}的照片，第{i}张第{j}句" for j in range(per_image(i))),
        )
        for i in range(n)
    ]
    write_retrieval_split(root, "test", samples, num_shards)
    return root


@pytest.fixture()
def shards(tmp_path) -> Path:
    return make_retrieval_shards(tmp_path / "wds-retrieval")


def their_loader(folder: Path, transform, split: str = "test"):
    """CLIP_benchmark's retrieval loader on ``folder``, as its cli builds it for caption datasets."""
    from clip_benchmark.datasets.builder import build_wds_dataset, image_captions_collate_fn

    dataset = build_wds_dataset("tiny", transform, split=split, data_dir=str(folder))
    return torch.utils.data.DataLoader(dataset, batch_size=4, collate_fn=image_captions_collate_fn)


def their_captions(folder: Path, split: str = "test") -> list[list[str]]:
    return [list(texts) for _, batch in their_loader(folder, lambda image: 0, split) for texts in batch]


def test_clip_benchmarks_own_converter_output_reads_as_its_loader_reads_it(tmp_path, monkeypatch):
    from clip_benchmark import webdataset_builder

    # its converter feeds a DataLoader with 8 workers: the same samples without the processes
    real = torch.utils.data.DataLoader
    monkeypatch.setattr(webdataset_builder.torch.utils.data, "DataLoader", lambda d, **k: real(d, batch_size=1,
                        collate_fn=k["collate_fn"]))  # fmt: skip
    items = [(jpeg(i), [f"{NAMES[i % 5]}，第{i}张", f"另一句{i}"][: 1 + i % 2]) for i in range(7)]
    webdataset_builder.convert_retrieval_dataset(
        items, "test", str(tmp_path / "theirs"), image_format="jpg", max_count=3, verbose=False
    )
    split = read_retrieval_shards(LocalSource(tmp_path / "theirs"), "test")
    captions = their_captions(tmp_path / "theirs")
    assert len(split.layout.shards) == 3 and split.image_ids == [f"s{i:07d}" for i in range(7)]
    assert split.texts == [text for texts in captions for text in texts]
    assert split.texts == [text for _, texts in items for text in texts]
    assert split.text_to_images == [[i] for i, texts in enumerate(captions) for _ in texts]
    assert split.text_ids[:3] == ["s0000000#0", "s0000001#0", "s0000001#1"]


def clip_benchmark_recalls(folder: Path, tiny_model) -> dict[str, float]:
    from clip_benchmark.metrics.zeroshot_retrieval import evaluate
    from cn_clip.clip import tokenize

    loader = their_loader(folder, tiny_model.image_transform())
    metrics = evaluate(tiny_model.module, loader, tokenize, "cpu", amp=False, recall_k_list=[1, 5, 10])
    return {
        f"{ours}_r{k}": metrics[f"{theirs}_retrieval_recall@{k}"]
        for ours, theirs in (("t2i", "image"), ("i2t", "text"))
        for k in (1, 5, 10)
    }


def test_recalls_equal_clip_benchmarks_evaluate(run_cli, shards, tmp_path, tiny_model):
    code, _, err = run_cli("--model", "tiny", "--dataset", shards, "--output-dir", tmp_path / "out")
    assert code == 0, err
    result = load_result(next((tmp_path / "out").glob("*.json")))
    assert result.main_metric == "mean_recall" and result.n_samples == sum(1 + i % 5 for i in range(11))
    assert result.provenance["dataset"]["texts"] == "the samples' .txt captions"
    theirs = clip_benchmark_recalls(shards, tiny_model)
    for name, value in theirs.items():
        assert result.metrics[name] == pytest.approx(value, abs=1e-6), name
    assert result.metrics["mean_recall"] == pytest.approx(sum(theirs.values()) / 6, abs=1e-6)
    # a second run reads the cached image features, keyed by the shards' content
    code, _, err = run_cli("--model", "tiny", "--dataset", shards, "--output-dir", tmp_path / "again")
    assert code == 0, err
    again = load_result(next((tmp_path / "again").glob("*.json")))
    assert again.metrics == result.metrics
    assert again.provenance["image_features"]["chunks_computed"] == 0


@pytest.fixture()
def http_root(shards):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(shards))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def test_http_shards_equal_local(run_cli, shards, http_root, tmp_path):
    for where, name in ((shards, "local"), (http_root, "http")):
        code, _, err = run_cli("--model", "tiny", "--dataset", where, "--output-dir", tmp_path / name)
        assert code == 0, err
    local, remote = (load_result(next((tmp_path / n).glob("*.json"))) for n in ("local", "http"))
    assert remote.metrics == local.metrics and remote.n_samples == local.n_samples
    assert remote.provenance["dataset"]["source"] == http_root


def rewrite_member(shard: Path, name: str, data: bytes | None) -> None:
    """Replace (or, with None, drop) one file of a shard, keeping the others in order."""
    with tarfile.open(shard) as archive:
        members = [(m, archive.extractfile(m).read()) for m in archive.getmembers()]
    with tarfile.open(shard, "w", format=tarfile.USTAR_FORMAT) as archive:
        for member, content in members:
            if member.name == name:
                if data is None:
                    continue
                content = data
            member.size = len(content)
            archive.addfile(member, io.BytesIO(content))


@pytest.mark.parametrize(
    "breakage, fragments",
    [
        (lambda s: rewrite_member(s / "test/0.tar", "img001.txt", None), ("0.tar", "img001", "no .txt")),
        (lambda s: rewrite_member(s / "test/1.tar", "img004.txt", b""), ("1.tar", "img004", "empty .txt")),
        (
            lambda s: rewrite_member(s / "test/1.tar", "img005.txt", "一句\n\n二句".encode()),
            ("1.tar", "img005", "caption 2", "empty"),
        ),
        (lambda s: rewrite_member(s / "test/2.tar", "img009.jpg", None), ("2.tar", "img009", "no image")),
        (
            lambda s: rewrite_member(s / "test/0.tar", "img002.txt", b"\xff\xfe"),
            ("0.tar", "img002", "not UTF-8"),
        ),
    ],
    ids=["no-txt", "empty-txt", "empty-caption", "no-image", "not-utf8"],
)
def test_bad_samples_are_one_line_naming_shard_and_key(
    run_cli, shards, tmp_path, no_model, breakage, fragments
):
    breakage(shards)
    code, _, err = run_cli("--model", "tiny", "--dataset", shards, "--output-dir", tmp_path / "out")
    assert_clean_error(code, err, *fragments)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").glob("*.json"))


def test_a_repeated_key_is_named_with_both_shards(run_cli, tmp_path, no_model):
    root = make_retrieval_shards(tmp_path / "dup", n=4, num_shards=2)
    with tarfile.open(root / "test/0.tar") as archive:
        first = [(m, archive.extractfile(m).read()) for m in archive.getmembers()]
    with tarfile.open(root / "test/1.tar", "a", format=tarfile.USTAR_FORMAT) as archive:
        for member, content in first[:2]:  # img000.jpg, img000.txt again
            archive.addfile(member, io.BytesIO(content))
    code, _, err = run_cli("--model", "tiny", "--dataset", root, "--output-dir", tmp_path / "out")
    assert_clean_error(code, err, "1.tar", "img000", "again", "0.tar")


def test_an_undecodable_image_is_named_and_nothing_is_scored(run_cli, shards, tmp_path):
    rewrite_member(shards / "test/2.tar", "img008.jpg", b"\xff\xd8 not a jpeg")
    code, _, err = run_cli("--model", "tiny", "--dataset", shards, "--output-dir", tmp_path / "out")
    assert_clean_error(code, err, "2.tar", "img008", "cannot decode")
    assert not any((tmp_path / "out").glob("*.json"))
