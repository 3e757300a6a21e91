"""Writing datasets in CLIP_benchmark's webdataset layout (see ``layout``).

Used by ``cnclip-eval convert``, the demo dataset generator and the tests. Archives are
deterministic (fixed owner and mtime, samples in the given order), and each file, shard or
metadata text, is written atomically, so a converter that is stopped can be re-run.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cnclip_eval.fileio import atomic_write, atomic_write_text


@dataclass(frozen=True)
class Sample:
    key: str  # unique within the split, no dots
    image: bytes  # encoded image
    image_format: str  # webp | png | jpg | jpeg
    label: int | np.ndarray  # class index, or (C,) 0/1 vector for multi-label data


@dataclass(frozen=True)
class RetrievalSample:
    key: str  # unique within the split, no dots
    image: bytes  # encoded image
    image_format: str  # webp | png | jpg | jpeg
    captions: tuple[str, ...]  # its .txt, one line each (may be empty: an image no caption names)


def encode_image(image, image_format: str = "webp", quality: int = 95) -> bytes:
    """PIL image -> bytes; webp is written lossless (as CLIP_benchmark's converter does)."""
    buffer = io.BytesIO()
    pil_format = {"jpg": "JPEG", "jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}[image_format]
    options = (
        {"lossless": True} if pil_format == "WEBP" else {"quality": quality} if pil_format == "JPEG" else {}
    )
    image.save(buffer, format=pil_format, **options)
    return buffer.getvalue()


def _add(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), 0, 0o644
    archive.addfile(info, io.BytesIO(data))


def sample_files(sample: Sample) -> Iterator[tuple[str, bytes]]:
    yield f"{sample.key}.{sample.image_format}", sample.image
    if isinstance(sample.label, np.ndarray):
        buffer = io.BytesIO()
        np.save(buffer, sample.label.astype(np.int8), allow_pickle=False)
        yield f"{sample.key}.npy", buffer.getvalue()
    else:
        yield f"{sample.key}.cls", str(int(sample.label)).encode()


def retrieval_sample_files(sample: RetrievalSample) -> Iterator[tuple[str, bytes]]:
    """CLIP_benchmark's retrieval sample: the image and a .txt of its captions, one a line."""
    from cnclip_eval.data.retrieval_shards import txt_line

    yield f"{sample.key}.{sample.image_format}", sample.image
    yield f"{sample.key}.txt", "\n".join(txt_line(c) for c in sample.captions).encode("utf-8")


def write_shard(
    path: Path, samples: Iterable, files: Callable[[object], Iterator[tuple[str, bytes]]] = sample_files
) -> int:
    """``samples`` (:class:`Sample` or, with ``files=retrieval_sample_files``, :class:`RetrievalSample`)
    into one tar archive."""
    count = 0

    def write(f) -> None:
        nonlocal count
        with tarfile.open(fileobj=f, mode="w", format=tarfile.USTAR_FORMAT) as archive:
            for sample in samples:
                for name, data in files(sample):
                    _add(archive, name, data)
                count += 1

    atomic_write(path, write)
    return count


def write_metadata(
    root: Path, classnames: list[str], templates: list[str] | None = None, multilabel: bool = False
) -> None:
    atomic_write_text(root / "classnames.txt", "\n".join(classnames) + "\n")
    if templates:
        atomic_write_text(root / "zeroshot_classification_templates.txt", "\n".join(templates) + "\n")
    if multilabel:
        atomic_write_text(root / "dataset_type.txt", "multilabel\n")


def write_retrieval_split(
    root: Path, split: str, samples: list[RetrievalSample], num_shards: int
) -> list[int]:
    """CLIP_benchmark's retrieval layout: ``dataset_type.txt`` says ``retrieval``, then the shards."""
    atomic_write_text(root / "dataset_type.txt", "retrieval\n")
    return write_split(root, split, samples, num_shards, retrieval_sample_files)


def write_split(
    root: Path, split: str, samples: list, num_shards: int, files: Callable = sample_files
) -> list[int]:
    """Deal samples into ``num_shards`` contiguous shards; returns the count in each."""
    bounds = np.linspace(0, len(samples), num_shards + 1).astype(int)
    counts = [
        write_shard(root / split / f"{i}.tar", samples[bounds[i] : bounds[i + 1]], files)
        for i in range(num_shards)
    ]
    atomic_write_text(root / split / "nshards.txt", f"{num_shards}\n")
    return counts
