"""CLIP_benchmark's webdataset layout, read from any source.

::

    <root>/classnames.txt                          one class name per line, index = label
    <root>/zeroshot_classification_templates.txt   optional, one "{c}" template per line
    <root>/dataset_type.txt                        optional, "multilabel" for .npy labels
    <root>/<split>/nshards.txt                     the number of shards N
    <root>/<split>/0.tar ... <N-1>.tar             samples: <key>.webp|png|jpg|jpeg + <key>.cls|.npy
"""

from __future__ import annotations

from dataclasses import dataclass

from cnclip_eval.data.sources import Source, read_text
from cnclip_eval.errors import DataError


@dataclass(frozen=True)
class Shard:
    index: int
    relpath: str  # "<split>/<index>.tar"


@dataclass(frozen=True)
class ShardLayout:
    source: Source
    split: str
    shards: tuple[Shard, ...]
    multilabel: bool

    def describe(self) -> str:
        return f"{self.source.describe()} [{self.split}: {len(self.shards)} shards]"


def read_layout(source: Source, split: str) -> ShardLayout:
    nshards_path = f"{split}/nshards.txt"
    text = read_text(source, nshards_path)
    if text is None:
        raise DataError(
            f"{source.url(nshards_path)}: missing. Expected CLIP_benchmark's webdataset layout "
            f"(<root>/{split}/nshards.txt and <root>/{split}/0.tar ...); is {split!r} the right --split?"
        )
    try:
        count = int(text.strip())
    except ValueError:
        raise DataError(
            f"{source.url(nshards_path)}: expected a number of shards, found {text.strip()[:40]!r}"
        ) from None
    if count <= 0:
        raise DataError(f"{source.url(nshards_path)}: the number of shards must be positive, found {count}")
    kind = (read_text(source, "dataset_type.txt") or "").strip()
    shards = tuple(Shard(i, f"{split}/{i}.tar") for i in range(count))
    return ShardLayout(source, split, shards, multilabel=kind == "multilabel")


def read_lines(source: Source, relpath: str) -> list[str] | None:
    text = read_text(source, relpath)
    if text is None:
        return None
    return [line.strip() for line in text.splitlines() if line.strip()]


def read_classnames(source: Source) -> list[str] | None:
    return read_lines(source, "classnames.txt")


def read_templates(source: Source) -> list[str] | None:
    return read_lines(source, "zeroshot_classification_templates.txt")
