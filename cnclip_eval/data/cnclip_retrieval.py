"""CN-CLIP's retrieval data as it publishes it (MUGE, Flickr30K-CN, COCO-CN; Chinese-CLIP's README):

* ``{split}_imgs.tsv``: one image a line, ``<image id>\\t<urlsafe base64 of the image file>``;
* ``{split}_texts.jsonl``: one caption a line, ``{"text_id": 8428, "text": "...", "image_ids": [1076345, ...]}``.

A caption may match several images (MUGE) and an image several captions (Flickr30K-CN, COCO-CN).
Everything that would make a number wrong is refused before anything is scored, in one line naming
the file, the line and the id: a text naming an image the images file lacks, a repeated id, an empty
caption, a line that is not what the format says. Image bytes are decoded when they are encoded
(:func:`image_bytes`), and a bad one is named there the same way.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cnclip_eval.errors import DataError


@dataclass(frozen=True)
class RetrievalSplit:
    images_file: Path
    texts_file: Path
    image_ids: list[str]  # in the images file's order (the candidates' tie order)
    text_ids: list[str]
    texts: list[str]
    text_to_images: list[list[int]]  # per caption, indices into image_ids

    # what the retrieval task asks of a split in any layout (see data.retrieval_shards too)
    def images_identity(self) -> dict:
        """What the encoded images depend on: the folder, the file, its size and mtime."""
        from cnclip_eval.data.sources import LocalSource

        folder = LocalSource(self.images_file.parent)
        name = self.images_file.name
        return {"source": folder.describe(), "images": name, "images_version": folder.version(name)}

    def files(self) -> dict:
        return {"images": self.images_file.name, "texts": self.texts_file.name}

    def image_where(self, image_id: str) -> str:
        return f"{self.images_file}: image {image_id}"

    def image_bytes(self) -> Iterator[tuple[str, bytes]]:
        return image_bytes(self)


def split_files(folder: Path, split: str) -> tuple[Path, Path]:
    return folder / f"{split}_imgs.tsv", folder / f"{split}_texts.jsonl"


def is_cnclip_retrieval_folder(folder: Path, split: str) -> bool:
    return all(path.is_file() for path in split_files(folder, split))


def _image_lines(path: Path) -> Iterator[tuple[int, str, str]]:
    """(line number, image id, base64 text) of each non-empty line, the base64 left undecoded."""
    try:
        with open(path, encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                line = line.rstrip("\r\n")
                if not line:
                    continue
                image_id, tab, data = line.partition("\t")
                if not tab or not image_id.strip() or not data.strip():
                    raise DataError(f"{path}:{number}: expected '<image id><TAB><base64 image>'")
                yield number, image_id.strip(), data
    except FileNotFoundError:
        raise DataError(f"{path}: no such file (CN-CLIP's retrieval format needs it)") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: not UTF-8 text") from None


def _read_image_ids(path: Path) -> list[str]:
    seen: dict[str, int] = {}
    for number, image_id, _ in _image_lines(path):
        if image_id in seen:
            raise DataError(f"{path}:{number}: image id {image_id} again (first on line {seen[image_id]})")
        seen[image_id] = number
    if not seen:
        raise DataError(f"{path}: no images")
    return list(seen)


def _read_texts(path: Path, index: dict[str, int], images_file: Path) -> tuple[list, list, list]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise DataError(f"{path}: no such file (CN-CLIP's retrieval format needs it)") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: not UTF-8 text") from None
    return parse_texts(lines, str(path), index, images_file.name)


def parse_texts(
    lines: list[str], path: str, index: dict[str, int], images_name: str
) -> tuple[list[str], list[str], list[list[int]]]:
    """(text ids, captions, per caption the sorted indices into ``index``) of a texts.jsonl's lines;
    ``path`` and ``images_name`` only name things in errors (the shard reader parses the same file)."""
    text_ids, texts, positives, seen = [], [], [], {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataError(f"{path}:{number}: not a JSON object ({error.msg})") from None
        if not isinstance(record, dict) or not {"text_id", "text", "image_ids"} <= set(record):
            raise DataError(f"{path}:{number}: expected the keys text_id, text and image_ids")
        text_id, text, image_ids = str(record["text_id"]), record["text"], record["image_ids"]
        where = f"{path}:{number}: text {text_id}"
        if text_id in seen:
            raise DataError(f"{where}: text id again (first on line {seen[text_id]})")
        seen[text_id] = number
        if not isinstance(text, str) or not text.strip():
            raise DataError(f"{where}: empty caption")
        if not isinstance(image_ids, list) or not image_ids:
            raise DataError(f"{where}: image_ids must be a non-empty list")
        missing = [str(i) for i in image_ids if str(i) not in index]
        if missing:
            raise DataError(f"{where}: image {missing[0]} is not in {images_name}")
        text_ids.append(text_id)
        texts.append(text)
        positives.append(sorted({index[str(i)] for i in image_ids}))
    if not texts:
        raise DataError(f"{path}: no captions")
    return text_ids, texts, positives


def read_retrieval_split(folder: str | Path, split: str) -> RetrievalSplit:
    """Ids, captions and positive pairs of one split (image bytes stay in the file)."""
    images_file, texts_file = split_files(Path(folder), split)
    image_ids = _read_image_ids(images_file)
    index = {image_id: i for i, image_id in enumerate(image_ids)}
    text_ids, texts, positives = _read_texts(texts_file, index, images_file)
    return RetrievalSplit(images_file, texts_file, image_ids, text_ids, texts, positives)


def image_bytes(split: RetrievalSplit) -> Iterator[tuple[str, bytes]]:
    """(image id, encoded image bytes) in file order; undecodable base64 names file, line and id."""
    for number, image_id, data in _image_lines(split.images_file):
        try:
            text = data.strip()
            padded = text + "=" * (-len(text) % 4)  # CN-CLIP's files may drop the padding
            # validate=True: urlsafe_b64decode would skip stray characters and yield other bytes
            decoded = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
            yield image_id, decoded
        except (binascii.Error, ValueError):
            raise DataError(
                f"{split.images_file}:{number}: image {image_id}: not base64 image data"
            ) from None
