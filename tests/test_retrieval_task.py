"""`--dataset FOLDER` in CN-CLIP's retrieval format runs the retrieval task end to end: its recalls
equal those of cn_clip's own pipeline (its transform, tokenize, encode_image / encode_text) on the
same files; bad input is one line before any work; a second run reads the cached image features."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from cnclip_eval.results import load_result
from cnclip_eval.tasks.retrieval_metrics import retrieval_metrics

from conftest import assert_clean_error
from test_cnclip_retrieval_data import jpeg, write_split

NAMES = ["红色的圆形", "蓝色的方块", "绿色的三角形", "一只猫在草地上"]


@pytest.fixture()
def folder(tmp_path) -> Path:
    """13 images (more than a cache chunk would need: see CHUNK below), 21 captions with 1-2 images each."""
    images = {str(1000 + i): jpeg(i) for i in range(13)}
    texts = [
        {"text_id": 7 + t, "text": f"{NAMES[t % 4]}的照片，第{t}张",
         "image_ids": sorted({1000 + t % 13, 1000 + (t * 5) % 13})}
        for t in range(21)
    ]  # fmt: skip
    return write_split(tmp_path / "flickr-tiny", images, texts, split="test")


def reference(folder: Path, tiny_model):
    """cn_clip's own: its transform on the decoded images, cn_clip.clip.tokenize, encode_* on the module."""
    import base64
    import io
    import json

    from cn_clip.clip import tokenize
    from cn_clip.clip.utils import image_transform
    from PIL import Image

    lines = (folder / "test_imgs.tsv").read_text().splitlines()
    ids = [line.split("\t")[0] for line in lines]
    transform = image_transform(tiny_model.image_size)
    pixels = torch.stack(
        [
            transform(Image.open(io.BytesIO(base64.urlsafe_b64decode(line.split("\t")[1]))).convert("RGB"))
            for line in lines
        ]
    )
    records = [json.loads(line) for line in (folder / "test_texts.jsonl").read_text().splitlines()]
    with torch.no_grad():
        images = F.normalize(tiny_model.module.encode_image(pixels), dim=-1).numpy()
        texts = F.normalize(
            tiny_model.module.encode_text(tokenize([r["text"] for r in records])), dim=-1
        ).numpy()
    pairs = [[ids.index(str(i)) for i in r["image_ids"]] for r in records]
    return retrieval_metrics(images, texts, pairs)[0]


def test_recalls_equal_cn_clips_own_pipeline(run_cli, folder, tmp_path, tiny_model, monkeypatch):
    monkeypatch.setattr("cnclip_eval.tasks.retrieval.CHUNK", 5)  # three cache entries
    code, out, err = run_cli("--model", "tiny", "--dataset", folder, "--output-dir", tmp_path / "out")
    assert code == 0, err
    result = load_result(next((tmp_path / "out").glob("*.json")))
    assert result.main_metric == "mean_recall" and result.n_samples == 21
    theirs = reference(folder, tiny_model)
    assert set(result.metrics) == {
        "t2i_r1",
        "t2i_r5",
        "t2i_r10",
        "i2t_r1",
        "i2t_r5",
        "i2t_r10",
        "mean_recall",
    }
    for name, value in theirs.items():
        assert result.metrics[name] == pytest.approx(value, abs=1e-12), name
    assert result.provenance["image_features"]["chunks_computed"] == 3
    code, _, err = run_cli("--model", "tiny", "--dataset", folder, "--output-dir", tmp_path / "again")
    again = load_result(next((tmp_path / "again").glob("*.json")))
    assert again.provenance["image_features"]["chunks_from_cache"] == 3 and again.metrics == result.metrics


def test_a_class_name_method_is_refused_before_any_work(run_cli, folder, tmp_path, no_model):
    code, _, err = run_cli(
        "--model", "tiny", "--dataset", folder, "--method", "llm", "--output-dir", tmp_path / "o"
    )
    assert_clean_error(code, err, "'llm'", "retrieval dataset", "--method baseline")


def test_a_caption_naming_a_missing_image_is_one_line_before_any_work(run_cli, folder, tmp_path, no_model):
    path = folder / "test_texts.jsonl"
    path.write_text(
        path.read_text() + '{"text_id": 99, "text": "草地", "image_ids": [4242]}\n', encoding="utf-8"
    )
    code, _, err = run_cli("--model", "tiny", "--dataset", folder, "--output-dir", tmp_path / "o")
    assert_clean_error(code, err, "test_texts.jsonl:22", "text 99", "image 4242")


def test_an_undecodable_image_is_named_and_nothing_is_scored(run_cli, folder, tmp_path):
    path = folder / "test_imgs.tsv"
    path.write_text(
        path.read_text() + "2000\tbm90IGFuIGltYWdl\n", encoding="utf-8"
    )  # base64 of "not an image"
    code, _, err = run_cli("--model", "tiny", "--dataset", folder, "--output-dir", tmp_path / "o")
    assert_clean_error(code, err, "test_imgs.tsv", "image 2000", "cannot decode")
    assert not (tmp_path / "o").exists()


def test_an_english_only_model_is_refused_for_chinese_captions(folder):
    from cnclip_eval.data.retrieval_dataset import resolve_retrieval_folder
    from cnclip_eval.errors import UserError
    from cnclip_eval.models.base import ModelIdentity, Preprocessing
    from cnclip_eval.tasks.retrieval import RETRIEVAL

    identity = ModelIdentity("w", "a", Preprocessing("p", 32), ("en",))
    with pytest.raises(UserError, match="reads only en"):
        RETRIEVAL.check_model(identity, "clip-ViT-B-16", resolve_retrieval_folder(str(folder), None))


def test_muge_by_name_reads_its_valid_split_and_reports_text_to_image_only(run_cli, tmp_path):
    images = {str(1000 + i): jpeg(i) for i in range(6)}
    texts = [{"text_id": t, "text": f"{NAMES[t % 4]}{t}", "image_ids": [1000 + t % 6]} for t in range(8)]
    root = write_split(tmp_path / "MUGE", images, texts, split="valid")
    code, _, err = run_cli(
        "--model", "tiny", "--dataset", "muge", "--data-root", root, "--output-dir", tmp_path / "o"
    )
    assert code == 0, err
    result = load_result(next((tmp_path / "o").glob("*.json")))
    assert result.dataset == "muge" and result.split == "valid"
    assert set(result.metrics) == {"t2i_r1", "t2i_r5", "t2i_r10", "mean_recall"}


def test_a_retrieval_catalog_name_without_data_root_says_what_to_get(run_cli, no_model):
    code, _, err = run_cli("--model", "tiny", "--dataset", "flickr30k-cn")
    assert_clean_error(code, err, "flickr30k-cn", "Flickr30k-CN.zip", "--data-root")


def test_the_shipped_demo_retrieval_split_is_what_its_generator_writes(tmp_path):
    from cnclip_eval.demo.retrieval import RETRIEVAL_DIR, write_shipped_split

    fresh = write_shipped_split(tmp_path / "demo")
    for name in ("test_imgs.tsv", "test_texts.jsonl"):
        assert (fresh / name).read_bytes() == (RETRIEVAL_DIR / name).read_bytes(), name


def test_the_demo_model_retrieves_its_shapes(run_cli, tmp_path):
    """`--model demo --dataset demo-shapes-retrieval` offline: real recall, well above chance
    (a caption's 5 images among 100: R@1 by chance 5%)."""
    code, _, err = run_cli("--model", "demo", "--dataset", "demo-shapes-retrieval", "--output-dir", tmp_path)
    assert code == 0, err
    result = load_result(next(tmp_path.glob("*.json")))
    assert result.n_samples == 60 and result.metrics["t2i_r1"] >= 0.8 and result.metrics["i2t_r1"] >= 0.8
