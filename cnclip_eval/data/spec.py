"""A dataset's catalog entry: the frozen spec and its class-name files (no registration here).

Modules that define specs (``elevater``, ``cnclip_eval.demo.dataset``) import this one;
:mod:`cnclip_eval.data.catalog` imports them and registers their specs, so registration runs in
one direction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cnclip_eval.data.layout import class_name_lines
from cnclip_eval.errors import DataError

CLASSNAMES_DIR = Path(__file__).parent / "classnames"


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    num_classes: int
    source: str | None  # default shard source ("hf://...", URL); None: no public shards, use --data-root
    classnames_zh: dict[str, str]  # variant -> file name in classnames/; the first is the default
    classnames_en: str | None = None  # file name in classnames/
    templates: str = "cnclip183"  # a template set name (cnclip_eval.templates); see cnclip_eval.protocol
    templates_en: str = "en80"
    task: str = "multiclass"  # multiclass | multilabel | binary
    main_metric: str = "top1"
    metrics: tuple[str, ...] = ("top1", "top5", "mean_per_class_recall")
    splits: tuple[str, ...] = ("test",)
    num_samples: dict[str, int] = field(default_factory=dict)  # split -> expected count
    aliases: tuple[str, ...] = ()
    notes: str = ""

    @property
    def default_variant(self) -> str:
        return next(iter(self.classnames_zh))

    def read_classnames(self, variant: str | None = None) -> list[str]:
        variant = variant or self.default_variant
        if variant not in self.classnames_zh:
            raise DataError(
                f"dataset {self.name!r} has no class-name list {variant!r}; its lists: {', '.join(self.classnames_zh)}"
            )
        return read_classname_file(CLASSNAMES_DIR / self.classnames_zh[variant], self.num_classes)

    def read_classnames_en(self) -> list[str] | None:
        if self.classnames_en is None:
            return None
        return read_classname_file(CLASSNAMES_DIR / self.classnames_en, self.num_classes)


def read_classname_file(path: Path, expected: int | None = None) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: no such class-name file") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: class-name file is not UTF-8 text") from None
    names = class_name_lines(text, str(path))
    if expected is not None and len(names) != expected:
        raise DataError(
            f"{path}: {len(names)} class names, expected {expected} (one per line, index = label)"
        )
    return names
