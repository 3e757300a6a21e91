"""CN-CLIP's retrieval format -> CLIP_benchmark's retrieval webdataset layout (``cnclip-eval convert``).

Source: a folder with ``{split}_imgs.tsv`` and ``{split}_texts.jsonl`` (MUGE, Flickr30K-CN, COCO-CN
as CN-CLIP publishes them, :mod:`cnclip_eval.data.cnclip_retrieval`). Output::

    <out>/dataset_type.txt          "retrieval" (CLIP_benchmark's marker; written last)
    <out>/<split>/0.tar ... N-1.tar one sample per image, in the images file's order:
                                    <image id>.jpg|png|webp (the file's bytes as they are) and
                                    <image id>.txt, the captions that name the image, one a line
    <out>/<split>/texts.jsonl       the split's texts file, its lines copied as they are
    <out>/<split>/nshards.txt
    <out>/.convert.json             what the folder holds (source, per split the files' sizes and
                                    mtimes, counts, shards); written first

Why ``texts.jsonl``: CLIP_benchmark's layout gives each caption one image (the sample holding it),
so a MUGE text with several matching images would become several texts with one image each, and
text ids would be lost. Our reader takes the split's texts from ``texts.jsonl`` when it is there,
so the converted shards give exactly the metrics of the original files; CLIP_benchmark, which
ignores it, still reads every caption from the ``.txt`` files. The sample key is the image id, so
ids must be usable as keys (letters, digits, ``_`` and ``-``: a dot or a slash would split them).
An image in a format the layout cannot hold (not JPEG, PNG or WebP) is stored as lossless PNG, so
the decoded pixels are the same. A re-run with the same source writes only missing shards.
"""

from __future__ import annotations

import io
import itertools
import math
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from cnclip_eval.data.cnclip_retrieval import RetrievalSplit, image_bytes, read_retrieval_split, split_files
from cnclip_eval.data.convert import MANIFEST, ConvertReport, SplitReport, earlier_conversion
from cnclip_eval.data.folders import IMAGES_PER_SHARD
from cnclip_eval.data.retrieval_shards import DATASET_TYPE, TEXTS_FILE
from cnclip_eval.data.sources import LocalSource
from cnclip_eval.data.writer import RetrievalSample, retrieval_sample_files, write_shard
from cnclip_eval.errors import DataError, UserError
from cnclip_eval.fileio import atomic_write_json, atomic_write_text

FORMAT = "cnclip-retrieval"
KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,79}")  # a webdataset key that USTAR names can hold
STORED_FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}  # what CLIP_benchmark's loader decodes


def retrieval_splits(source: Path) -> list[str]:
    """The splits of a folder in CN-CLIP's format (``X_imgs.tsv`` with ``X_texts.jsonl``)."""
    found = sorted(p.name.removesuffix("_imgs.tsv") for p in Path(source).glob("*_imgs.tsv"))
    return [s for s in found if all(f.is_file() for f in split_files(Path(source), s))]


def convert_retrieval(
    source: Path,
    out: Path,
    splits: list[str] | None = None,
    num_shards: int | None = None,
    overwrite: bool = False,
    progress: bool = False,
) -> ConvertReport:
    from tqdm import tqdm

    source, out = Path(source).expanduser().resolve(), Path(out).expanduser().resolve()
    if out == source or source in out.parents:
        raise UserError(f"{out}: the output folder is inside the source {source}; choose another --out")
    if out.exists() and not out.is_dir():
        raise UserError(f"{out}: exists and is not a folder; --out must be a folder")
    found = retrieval_splits(source)
    for name in splits or []:
        if name not in found:
            raise UserError(
                f"{source}: no {name}_imgs.tsv with {name}_texts.jsonl; found: {', '.join(found)}"
            )
    data = [read_retrieval_split(source, name) for name in splits or found]  # every check before writing
    counts = [_shard_count(len(d.image_ids), num_shards) for d in data]
    manifest = {
        "format": FORMAT,
        "source": str(source),
        "splits": {_split(d): _split_entry(d, n) for d, n in zip(data, counts)},
    }
    previous = earlier_conversion(out, overwrite, lambda found: _remove_outputs(out, found, manifest))
    merged = _merge(previous, manifest, out)
    reports = [SplitReport(_split(d), len(d.image_ids), n) for d, n in zip(data, counts)]
    todo = [
        [i for i in range(n) if not (out / _split(d) / f"{i}.tar").is_file()] for d, n in zip(data, counts)
    ]
    if merged == previous and not any(todo) and (out / "dataset_type.txt").is_file():
        return ConvertReport(out, True, reports)
    if merged != previous:
        atomic_write_json(out / MANIFEST, merged)  # first: claims the folder, records what it will hold
    total = sum(len(d.image_ids) for d in data)
    with tqdm(total=total, unit="img", desc="convert", disable=not progress, leave=False) as bar:
        for split, count, shards, report in zip(data, counts, todo, reports):
            report.shards_written = _write_split(out, split, count, set(shards), bar)
    atomic_write_text(out / "dataset_type.txt", f"{DATASET_TYPE}\n")  # last: now a reader sees the folder
    return ConvertReport(out, False, reports)


def _split(data: RetrievalSplit) -> str:
    return data.images_file.name.removesuffix("_imgs.tsv")


def _shard_count(images: int, wanted: int | None) -> int:
    return max(1, min(wanted or math.ceil(images / IMAGES_PER_SHARD), images))


def _split_entry(data: RetrievalSplit, num_shards: int) -> dict:
    files = LocalSource(data.images_file.parent)
    return {
        "images": len(data.image_ids),
        "texts": len(data.texts),
        "images_version": files.version(data.images_file.name),
        "texts_version": files.version(data.texts_file.name),
        "nshards": num_shards,
    }


def _merge(previous: dict | None, manifest: dict, out: Path) -> dict:
    """The manifest after this run: ``previous`` plus this run's splits; refuses a conflicting one."""
    if previous is None:
        return manifest
    why = None
    if previous.get("format") != FORMAT or previous.get("source") != manifest["source"]:
        why = f"made from {previous.get('source')} ({previous.get('format', 'image folders')})"
    for name, entry in manifest["splits"].items():
        if why is None and previous["splits"].get(name, entry) != entry:
            why = f"of another version of split {name!r} or in another number of shards"
    if why is not None:
        raise UserError(
            f"{out}: holds a conversion {why}; pass --overwrite to replace it, or choose another --out"
        )
    return {**manifest, "splits": {**previous["splits"], **manifest["splits"]}}


def _remove_outputs(out: Path, previous: dict | None, manifest: dict) -> None:
    """--overwrite: remove the files of the layout, and only those (never a whole folder)."""
    (out / MANIFEST).unlink(missing_ok=True)  # first, so a stopped overwrite is not taken as finished
    for name in ("dataset_type.txt", "classnames.txt", "classnames_en.txt"):
        (out / name).unlink(missing_ok=True)
    for split in sorted(set(manifest["splits"]) | set((previous or {}).get("splits", {}))):
        if (out / split).is_dir():
            for path in (out / split).iterdir():
                if path.is_file() and (
                    re.fullmatch(r"[0-9]+\.tar", path.name) or path.name in ("nshards.txt", TEXTS_FILE)
                ):
                    path.unlink()


def _write_split(out: Path, data: RetrievalSplit, num_shards: int, todo: set[int], bar) -> int:
    captions: list[list[str]] = [[] for _ in data.image_ids]  # per image, the texts naming it in order
    for text, images in zip(data.texts, data.text_to_images):
        for image in images:
            captions[image].append(text)
    bounds = np.linspace(0, len(data.image_ids), num_shards + 1).astype(int)  # as writer.write_split
    samples = _samples(data, captions)
    for index in range(num_shards):
        chunk = itertools.islice(samples, bounds[index + 1] - bounds[index])
        if index in todo:
            write_shard(out / _split(data) / f"{index}.tar", _counted(chunk, bar), retrieval_sample_files)
        else:  # written by an earlier run: its images are skipped, still checked
            for _ in _counted(chunk, bar):
                pass
    lines = [line for line in data.texts_file.read_text(encoding="utf-8").splitlines() if line.strip()]
    atomic_write_text(out / _split(data) / TEXTS_FILE, "\n".join(lines) + "\n")
    atomic_write_text(out / _split(data) / "nshards.txt", f"{num_shards}\n")
    return len(todo)


def _counted(samples: Iterator, bar) -> Iterator:
    for sample in samples:
        yield sample
        bar.update(1)


def _samples(data: RetrievalSplit, captions: list[list[str]]) -> Iterator[RetrievalSample]:
    for (image_id, encoded), texts in zip(image_bytes(data), captions):
        where = f"{data.images_file}: image {image_id}"
        if not KEY.fullmatch(image_id):
            raise DataError(
                f"{where}: the id cannot be a shard sample key (letters, digits, _ and - only, "
                "at most 80 characters)"
            )
        stored, image_format = _stored_image(encoded, where)
        yield RetrievalSample(image_id, stored, image_format, tuple(texts))


def _stored_image(data: bytes, where: str) -> tuple[bytes, str]:
    """(bytes, extension) to store: the bytes as they are where the layout can hold their format;
    otherwise the decoded RGB image as lossless PNG (reading decodes to the same RGB pixels).
    Decoded first: a bad image is refused now, not mid-evaluation."""
    from PIL import Image

    from cnclip_eval.data.shards import decode_rgb

    rgb = decode_rgb(data, f"{where}: not a readable image")
    with Image.open(io.BytesIO(data)) as image:
        image_format = image.format
    if image_format in STORED_FORMATS:
        return data, STORED_FORMATS[image_format]
    buffer = io.BytesIO()
    rgb.save(buffer, format="PNG")
    return buffer.getvalue(), "png"
