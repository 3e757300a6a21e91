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


def class_name_lines(text: str, where: str) -> list[str]:
    """One class name per line, index = label: a blank line inside the list would shift every
    later label by one, so it is refused, not skipped (blank lines at the end are dropped)."""
    names = [line.strip() for line in text.splitlines()]
    while names and not names[-1]:
        names.pop()
    empty = [i for i, name in enumerate(names) if not name]
    if empty:
        raise DataError(f"{where}: empty class name at line(s) {', '.join(str(i + 1) for i in empty[:5])}")
    return names


def read_classnames(source: Source, relpath: str = "classnames.txt") -> list[str] | None:
    text = read_text(source, relpath)
    return None if text is None else class_name_lines(text, source.url(relpath))


def read_templates(source: Source) -> list[str] | None:
    return read_lines(source, "zeroshot_classification_templates.txt")
