"""CLIP_benchmark's retrieval webdataset layout, read from any source (local, http(s), hf://)::

    <root>/dataset_type.txt            "retrieval"
    <root>/<split>/nshards.txt         the number of shards N
    <root>/<split>/0.tar ... N-1.tar   samples: <key>.webp|png|jpg|jpeg + <key>.txt, one caption a line
    <root>/<split>/texts.jsonl         optional, written by ``cnclip-eval convert`` (see below)

Without ``texts.jsonl`` the split is what CLIP_benchmark's ``build_wds_dataset`` +
``zeroshot_retrieval.evaluate`` make of it: the images in shard order, each sample's captions are
``txt.splitlines()`` in order, caption ``j`` of sample ``key`` gets the text id ``key#j`` and matches
that one image.

``cnclip-eval convert`` of CN-CLIP's format adds ``<split>/texts.jsonl``: CN-CLIP's own texts file
(``{"text_id", "text", "image_ids"}``, image ids = sample keys). When it is there it is the split's
texts: every text id and every positive pair, including a MUGE text with several images, which a
sample's ``.txt`` (one image per caption) cannot express. The ``.txt`` captions are still written,
for CLIP_benchmark, and are checked against it.

The shards are read once when the dataset is resolved (keys, captions, a sha256 of the image bytes:
the image cache's key) and once more when images are encoded; images are decoded only then.
Bad input is one line naming the shard and the key: a repeated key, a sample without an image or
without captions, an empty caption, an undecodable image (when encoded).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

from cnclip_eval.data.cnclip_retrieval import parse_texts
from cnclip_eval.data.layout import Shard, ShardLayout, read_layout
from cnclip_eval.data.shards import group_samples, sample_image, tar_members
from cnclip_eval.data.sources import Source, read_text
from cnclip_eval.errors import DataError

DATASET_TYPE = "retrieval"  # <root>/dataset_type.txt, as CLIP_benchmark's converter writes it
TEXTS_FILE = "texts.jsonl"  # <root>/<split>/texts.jsonl


def txt_line(caption: str) -> str:
    """A caption as one line of a sample's ``.txt``: CLIP_benchmark splits it with ``splitlines``,
    so every line break in the caption (``\\n``, ``\\r``, ``\\u2028``...) becomes a space."""
    return " ".join(caption.splitlines())


def is_retrieval_shards(source: Source) -> bool:
    return (read_text(source, "dataset_type.txt") or "").strip().lower() == DATASET_TYPE


@dataclass(frozen=True)
class ShardRetrievalSplit:
    layout: ShardLayout
    texts_file: str | None  # the url of texts.jsonl, None: the samples' .txt captions
    image_ids: list[str]  # sample keys in shard order (the candidates' tie order)
    text_ids: list[str]
    texts: list[str]
    text_to_images: list[list[int]]  # per caption, indices into image_ids
    image_shards: list[int]  # per image, the index of its shard in layout.shards
    images_sha256: str  # of every (key, image bytes) in order

    def images_identity(self) -> dict:
        """What the encoded images depend on: their keys and bytes, whatever the source."""
        count = len(self.layout.shards)
        return {
            "source": self.layout.source.describe(),
            "images": f"{self.layout.split}/{{0..{count - 1}}}.tar",
            "images_version": self.images_sha256,
        }

    def files(self) -> dict:
        count = len(self.layout.shards)
        texts = f"{self.layout.split}/{TEXTS_FILE}" if self.texts_file else "the samples' .txt captions"
        return {"images": f"{self.layout.split}/{{0..{count - 1}}}.tar", "texts": texts}

    def image_where(self, image_id: str) -> str:
        shard = self.layout.shards[self.image_shards[self.image_ids.index(image_id)]]
        return f"shard {self.layout.source.url(shard.relpath)}, sample {image_id}"

    def image_bytes(self) -> Iterator[tuple[str, bytes]]:
        """(key, encoded image) in shard order; a shard changed since it was read is refused."""
        position = 0
        for shard in self.layout.shards:
            for key, data, _ in _samples(self.layout.source, shard):
                expected = self.image_ids[position] if position < len(self.image_ids) else None
                if key != expected:
                    name = self.layout.source.url(shard.relpath)
                    raise DataError(f"shard {name}, sample {key}: the shard changed while it was being read")
                position += 1
                yield key, data
        if position != len(self.image_ids):
            raise DataError(f"{self.layout.describe()}: the shards changed while they were being read")


def _samples(source: Source, shard: Shard) -> Iterator[tuple[str, bytes, dict]]:
    """(key, encoded image, sample) of one shard, in archive order."""
    name = source.url(shard.relpath)
    try:
        stream = source.open(shard.relpath)
    except FileNotFoundError:
        raise DataError(f"shard {name}: missing (nshards.txt lists it)") from None
    with stream:
        for sample in group_samples(tar_members(stream, name), name):
            _, data, _ = sample_image(sample)
            yield sample["__key__"], data, sample


def _captions(sample: dict, where: str) -> list[str] | None:
    """The sample's ``.txt`` lines as CLIP_benchmark reads them (webdataset's utf-8 decoding, then
    ``str.splitlines``); None when it has no ``.txt``."""
    if "txt" not in sample:
        return None
    try:
        return sample["txt"].decode("utf-8").splitlines()
    except UnicodeDecodeError:
        raise DataError(f"{where}: its .txt captions are not UTF-8 text") from None


def read_retrieval_shards(source: Source, split: str) -> ShardRetrievalSplit:
    """Keys, captions and positive pairs of one split (one pass over the shards, images undecoded)."""
    layout = read_layout(source, split)
    keys: dict[str, int] = {}  # key -> shard index
    captions: list[tuple[str, list[str] | None]] = []  # (where, lines) per image
    digest = hashlib.sha256()
    for shard in layout.shards:
        for key, data, sample in _samples(source, shard):
            where = f"shard {source.url(shard.relpath)}, sample {key}"
            if key in keys:
                first = source.url(layout.shards[keys[key]].relpath)
                raise DataError(f"{where}: key {key} again (first in shard {first})")
            keys[key] = shard.index
            digest.update(f"{key}\0{len(data)}\0".encode())
            digest.update(data)
            captions.append((where, _captions(sample, where)))
    if not keys:
        raise DataError(f"{layout.describe()}: no samples")
    image_ids = list(keys)
    texts_relpath = f"{split}/{TEXTS_FILE}"
    texts_text = read_text(source, texts_relpath)
    if texts_text is None:
        text_ids, texts, positives = _texts_from_samples(image_ids, captions)
        texts_file = None
    else:
        texts_file = source.url(texts_relpath)
        index = {key: i for i, key in enumerate(image_ids)}
        text_ids, texts, positives = parse_texts(
            texts_text.splitlines(), texts_file, index, f"the shards of {split}"
        )
        _check_txt(captions, texts, positives, texts_file)
    shard_of = [keys[key] for key in image_ids]
    return ShardRetrievalSplit(
        layout, texts_file, image_ids, text_ids, texts, positives, shard_of, digest.hexdigest()
    )


def _texts_from_samples(image_ids: list[str], captions: list) -> tuple[list, list, list]:
    """CLIP_benchmark's reading: each caption of a sample matches that sample's image only."""
    text_ids, texts, positives = [], [], []
    for image, (key, (where, lines)) in enumerate(zip(image_ids, captions)):
        if lines is None:
            raise DataError(f"{where}: no .txt captions (a retrieval sample needs an image and captions)")
        if not lines:
            raise DataError(f"{where}: an empty .txt (no caption)")
        for j, line in enumerate(lines):
            if not line.strip():
                raise DataError(f"{where}: caption {j + 1} of its .txt is empty")
            text_ids.append(f"{key}#{j}")
            texts.append(line)
            positives.append([image])
    return text_ids, texts, positives


def _check_txt(captions: list, texts: list[str], positives: list[list[int]], texts_file: str) -> None:
    """Each sample's ``.txt`` must hold, in texts.jsonl's order, the captions that name its image:
    otherwise CLIP_benchmark and we would read two different datasets from the same shards."""
    expected: list[list[str]] = [[] for _ in captions]
    for text, images in zip(texts, positives):
        for image in images:
            expected[image].append(txt_line(text))
    for (where, lines), wanted in zip(captions, expected):
        if (lines or []) != wanted:
            raise DataError(
                f"{where}: its .txt captions are not those {texts_file} gives its image "
                f"({len(lines or [])} lines, {len(wanted)} captions there)"
            )
