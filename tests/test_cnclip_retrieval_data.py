"""CN-CLIP's retrieval format read as published; every bad input is one line naming file, line and id."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pytest

from cnclip_eval.data.cnclip_retrieval import image_bytes, read_retrieval_split
from cnclip_eval.errors import DataError

from conftest import make_images


def write_split(folder: Path, images: dict[str, bytes], texts: list[dict], split: str = "valid") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{split}_imgs.tsv").write_text(
        "".join(f"{i}\t{base64.urlsafe_b64encode(b).decode()}\n" for i, b in images.items()), encoding="utf-8"
    )
    (folder / f"{split}_texts.jsonl").write_text(
        "".join(json.dumps(t, ensure_ascii=False) + "\n" for t in texts), encoding="utf-8"
    )
    return folder


def jpeg(seed: int) -> bytes:
    buffer = io.BytesIO()
    make_images(1, seed)[0].save(buffer, format="JPEG")
    return buffer.getvalue()


@pytest.fixture()
def good(tmp_path) -> Path:
    images = {"1001": jpeg(1), "1002": jpeg(2), "1003": jpeg(3)}
    texts = [
        {"text_id": 7, "text": "一只红色的猫", "image_ids": [1001, 1003]},
        {"text_id": 8, "text": "蓝色的天空", "image_ids": [1002]},
    ]
    return write_split(tmp_path / "muge", images, texts)


def test_a_split_is_read_with_every_positive_pair(good):
    split = read_retrieval_split(good, "valid")
    assert split.image_ids == ["1001", "1002", "1003"]
    assert split.text_ids == ["7", "8"] and split.texts == ["一只红色的猫", "蓝色的天空"]
    assert split.text_to_images == [[0, 2], [1]]
    decoded = dict(image_bytes(split))
    assert decoded["1002"] == jpeg(2)


@pytest.mark.parametrize(
    ("mutate", "fragments"),
    [
        (
            lambda t: t.append({"text_id": 9, "text": "草地", "image_ids": [4242]}),
            ["valid_texts.jsonl:3", "text 9", "image 4242", "valid_imgs.tsv"],
        ),
        (
            lambda t: t.append({"text_id": 7, "text": "又一次", "image_ids": [1001]}),
            ["valid_texts.jsonl:3", "text 7", "again", "line 1"],
        ),
        (
            lambda t: t.append({"text_id": 10, "text": "  ", "image_ids": [1001]}),
            ["valid_texts.jsonl:3", "text 10", "empty caption"],
        ),
    ],
)
def test_bad_captions_are_named_by_file_line_and_id(good, mutate, fragments):
    path = good / "valid_texts.jsonl"
    texts = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    mutate(texts)
    path.write_text("".join(json.dumps(t, ensure_ascii=False) + "\n" for t in texts), encoding="utf-8")
    with pytest.raises(DataError) as error:
        read_retrieval_split(good, "valid")
    assert all(fragment in str(error.value) for fragment in fragments), error.value


def test_a_repeated_image_id_and_undecodable_base64_are_named(good):
    path = good / "valid_imgs.tsv"
    original = path.read_text(encoding="utf-8")
    path.write_text(original + original.splitlines()[0] + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"valid_imgs.tsv:4: image id 1001 again \(first on line 1\)"):
        read_retrieval_split(good, "valid")
    path.write_text(original + "1004\t/9j/4AAQ%%%SkZJRg\n", encoding="utf-8")  # a stray character mid-way
    split = read_retrieval_split(good, "valid")
    with pytest.raises(DataError, match=r"valid_imgs.tsv:4: image 1004: not base64"):
        list(image_bytes(split))
