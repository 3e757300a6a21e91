"""`cnclip-eval convert` of CN-CLIP's retrieval format: the shards give exactly the metrics of the
original files (every text id and positive pair kept, MUGE's several-image texts included), and
CLIP_benchmark's own retrieval loader reads them."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from test_retrieval_wds import their_captions

from cnclip_eval.data.retrieval_shards import read_retrieval_shards
from cnclip_eval.data.sources import LocalSource
from cnclip_eval.results import load_result

from conftest import assert_clean_error, make_images
from test_cnclip_retrieval_data import jpeg, write_split

NAMES = ["红色的圆形", "蓝色的方块", "绿色的三角形", "一只猫在草地上"]


def image(seed: int, image_format: str) -> bytes:
    buffer = io.BytesIO()
    make_images(1, seed)[0].save(buffer, format=image_format)
    return buffer.getvalue()


@pytest.fixture()
def cnclip(tmp_path) -> Path:
    """A MUGE-like valid split: 9 images (JPEG, PNG, one BMP, one no text names), 14 texts with 1-3
    images each, so images have 0 to several captions."""
    images = {str(500 + i): jpeg(i) for i in range(9)}
    images["502"], images["505"] = image(2, "PNG"), image(5, "BMP")
    texts = [
        {"text_id": 90 + t, "text": f"{NAMES[t % 4]}，第{t}句" + ("\n第二行" if t == 3 else ""),
         "image_ids": sorted({500 + t % 8, 500 + (t * 3) % 8, 500 + (t * 5) % 8})}
        for t in range(14)
    ]  # fmt: skip
    return write_split(tmp_path / "MUGE", images, texts, split="valid")


def convert(run_cli, source: Path, out: Path, *options: str) -> tuple[int, str, str]:
    return run_cli("convert", source, "--out", out, *options)


def evaluate(run_cli, out: Path, *dataset: str) -> dict:
    code, _, err = run_cli("--model", "tiny", *dataset, "--output-dir", out)
    assert code == 0, err
    return load_result(next(out.glob("*.json")))


def test_converted_shards_give_the_metrics_of_the_original_files(run_cli, cnclip, tmp_path):
    code, out, err = convert(run_cli, cnclip, tmp_path / "wds", "--shards", "3")
    assert code == 0, err
    assert "valid: 9 images, 3 shards (3 written)" in out
    split = read_retrieval_shards(LocalSource(tmp_path / "wds"), "valid")
    assert split.texts_file and max(len(p) for p in split.text_to_images) == 3
    original = evaluate(run_cli, tmp_path / "a", "--dataset", cnclip)
    converted = evaluate(run_cli, tmp_path / "b", "--dataset", tmp_path / "wds", "--split", "valid")
    assert converted.metrics == original.metrics and converted.n_samples == original.n_samples == 14
    assert 0 < original.metrics["mean_recall"] < 1
    # MUGE by name: text -> image only, from the original folder or the converted shards alike
    muge = evaluate(run_cli, tmp_path / "c", "--dataset", "muge", "--data-root", cnclip)
    muge_wds = evaluate(run_cli, tmp_path / "d", "--dataset", "muge", "--data-root", tmp_path / "wds")
    assert muge_wds.metrics == muge.metrics and "i2t_r1" not in muge.metrics


def test_clip_benchmarks_loader_reads_the_converted_shards(run_cli, cnclip, tmp_path):
    assert convert(run_cli, cnclip, tmp_path / "wds", "--shards", "2")[0] == 0
    texts = [json.loads(line) for line in (cnclip / "valid_texts.jsonl").read_text().splitlines()]
    ids = [line.split("\t")[0] for line in (cnclip / "valid_imgs.tsv").read_text().splitlines()]
    expected = [
        [t["text"].replace("\n", " ") for t in texts if int(image_id) in t["image_ids"]] for image_id in ids
    ]
    theirs = their_captions(tmp_path / "wds", split="valid")
    assert theirs == expected and [] in theirs and max(map(len, theirs)) > 2


def test_a_rerun_is_up_to_date_and_another_folder_is_not_overwritten(run_cli, cnclip, tmp_path):
    assert convert(run_cli, cnclip, tmp_path / "wds")[0] == 0
    (tmp_path / "wds" / "valid" / "0.tar").unlink()
    code, out, _ = convert(run_cli, cnclip, tmp_path / "wds")
    assert code == 0 and "(1 written)" in out
    code, out, _ = convert(run_cli, cnclip, tmp_path / "wds")
    assert code == 0 and "up to date" in out
    code, _, err = convert(run_cli, cnclip, tmp_path / "wds", "--shards", "2")
    assert_clean_error(code, err, "another number of shards", "--overwrite")
    assert convert(run_cli, cnclip, tmp_path / "wds", "--shards", "2", "--overwrite")[0] == 0
    assert (tmp_path / "wds" / "valid" / "nshards.txt").read_text() == "2\n"


def test_bad_input_is_one_line_naming_file_and_id(run_cli, cnclip, tmp_path):
    tsv = cnclip / "valid_imgs.tsv"
    tsv.write_text(tsv.read_text().replace("503\t", "503\t/9j_broken", 1))
    code, _, err = convert(run_cli, cnclip, tmp_path / "wds")
    assert_clean_error(code, err, "valid_imgs.tsv", "image 503", "not a readable image")
    assert not (tmp_path / "wds" / "dataset_type.txt").exists()


def test_an_image_id_that_cannot_be_a_sample_key_is_refused(run_cli, tmp_path):
    folder = write_split(
        tmp_path / "x", {"a.1": jpeg(0)}, [{"text_id": 1, "text": "猫", "image_ids": ["a.1"]}]
    )
    code, _, err = convert(run_cli, folder, tmp_path / "wds")
    assert_clean_error(code, err, "valid_imgs.tsv", "image a.1", "sample key")


def test_shards_whose_txt_disagrees_with_texts_jsonl_are_refused(run_cli, cnclip, tmp_path, no_model):
    assert convert(run_cli, cnclip, tmp_path / "wds")[0] == 0
    texts = tmp_path / "wds" / "valid" / "texts.jsonl"
    texts.write_text(texts.read_text().replace("第0句", "第零句"))
    code, _, err = run_cli("--model", "tiny", "--dataset", tmp_path / "wds", "--split", "valid")
    assert_clean_error(code, err, "0.tar", "sample 500", "texts.jsonl")
