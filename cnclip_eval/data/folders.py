"""Image-folder trees, scanned into a conversion plan (nothing is decoded): the reading half of
``cnclip-eval convert``; :mod:`cnclip_eval.data.convert` writes the plan as shards.

Two source layouts, told apart by the class folder names::

    ELEVATER (CN-CLIP)  <src>/<split>/000/x.jpg   label = int(folder name); class names from
                        <src>/label_cn.txt (line i = label i), English from label_en.txt or label.txt
    ImageFolder         <src>/<split>/<class>/x.jpg   label = index of the folder name among the sorted
                        class folder names of all splits; the folder names are the class names

The tree is ELEVATER's when ``label_cn.txt`` exists or every class folder name is a number. Files
are ordered so that every class is spread evenly over the split, so each shard holds every class.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cnclip_eval.data.spec import read_classname_file
from cnclip_eval.errors import UserError
from cnclip_eval.fileio import sha256_json

MANIFEST_FORMAT = 1
IMAGES_PER_SHARD = 2000  # the default shard size: a few hundred MB, like CLIP_benchmark's shards
IMAGE_SUFFIXES = {".jpg": "jpg", ".jpeg": "jpeg", ".png": "png", ".webp": "webp"}
MAX_KEY_LENGTH = 80  # USTAR names are at most 100 characters, and the key gets an extension
_NUMBER = re.compile(r"[0-9]+")
_NOT_KEY = re.compile(r"[^0-9A-Za-z_-]+")


@dataclass(frozen=True)
class ImageFile:
    path: Path
    relpath: str  # inside the split folder, "000/img_123.jpg"
    label: int
    image_format: str  # jpg | jpeg | png | webp (the file's own extension, lower case)
    size: int
    key: str = ""  # unique in the split, no dots


@dataclass(frozen=True)
class SplitPlan:
    name: str
    files: tuple[ImageFile, ...]  # in archive order: classes interleaved
    num_shards: int

    def shard_files(self, index: int) -> tuple[ImageFile, ...]:
        bounds = np.linspace(0, len(self.files), self.num_shards + 1).astype(int)
        return self.files[bounds[index] : bounds[index + 1]]

    def manifest(self) -> dict:
        listing = sorted([f.relpath, f.label, f.size] for f in self.files)
        return {"images": len(self.files), "files_sha256": sha256_json(listing), "nshards": self.num_shards}


@dataclass(frozen=True)
class ConversionPlan:
    source: Path
    layout: str  # "elevater" | "imagefolder"
    classnames: list[str]
    classnames_en: list[str] | None
    splits: tuple[SplitPlan, ...]
    skipped: tuple[str, ...]  # "<split>/<relpath>" of files with unsupported extensions

    def manifest(self) -> dict:
        return {
            "format": MANIFEST_FORMAT,
            "source": str(self.source),
            "layout": self.layout,
            "classnames_sha256": sha256_json(self.classnames),
            "classnames_en_sha256": sha256_json(self.classnames_en) if self.classnames_en else None,
            "splits": {split.name: split.manifest() for split in self.splits},
        }


# ---------------------------------------------------------------------------------------------
# Reading the source tree


def plan_conversion(
    source: Path, splits: list[str] | None = None, num_shards: int | None = None
) -> ConversionPlan:
    """Scan ``source`` (nothing is decoded yet): its layout, class names and each split's files."""
    source = Path(source).expanduser().resolve()
    if not source.is_dir():
        raise UserError(f"{source}: no such folder (expected <source>/<split>/<class>/<image>)")
    found = _split_folders(source)
    chosen = splits or found
    missing = [s for s in chosen if s not in found]
    if missing:
        raise UserError(
            f"{source / missing[0]}: no such split folder with class folders; found: {', '.join(found)}"
        )
    class_dirs = {split: _class_folders(source / split) for split in found}
    layout, classnames, classnames_en, label_of = _read_labels(source, class_dirs)
    skipped: list[str] = []
    plans = tuple(
        _plan_split(source / split, class_dirs[split], label_of, num_shards, skipped) for split in chosen
    )
    return ConversionPlan(source, layout, classnames, classnames_en, plans, tuple(skipped))


def _split_folders(source: Path) -> list[str]:
    """Sub-folders of ``source`` that hold class folders."""
    splits = [
        d.name
        for d in sorted(source.iterdir())
        if d.is_dir() and not d.name.startswith(".") and _class_folders(d)
    ]
    if not splits:
        raise UserError(
            f"{source}: no split folders (expected {source}/test/<class>/<image> ...; "
            "if this folder is itself one split, give its parent)"
        )
    return splits


def _class_folders(split_dir: Path) -> list[Path]:
    return [d for d in sorted(split_dir.iterdir()) if d.is_dir() and not d.name.startswith(".")]


def _read_labels(source: Path, class_dirs: dict[str, list[Path]]):
    """(layout, class names, English names or None, folder -> label) for the whole tree."""
    names = sorted({d.name for dirs in class_dirs.values() for d in dirs})
    label_cn, english = source / "label_cn.txt", _english_file(source)
    if not label_cn.is_file() and not all(_NUMBER.fullmatch(n) for n in names):
        return "imagefolder", names, None, _imagefolder_labels(names)
    if label_cn.is_file():
        classnames = read_classname_file(label_cn)
        classnames_en = read_classname_file(english, len(classnames)) if english else None
        names_file = label_cn
    elif english is not None:
        classnames = classnames_en = read_classname_file(english)
        names_file = english
    else:
        raise UserError(
            f"{label_cn}: missing; class folders named by number (000, 001, ...) are label indices "
            "(CN-CLIP's ELEVATER layout), whose class names label_cn.txt gives, one per line"
        )
    return "elevater", classnames, classnames_en, _elevater_labels(names_file, len(classnames))


def _english_file(source: Path) -> Path | None:
    return next((p for p in (source / "label_en.txt", source / "label.txt") if p.is_file()), None)


def _imagefolder_labels(names: list[str]) -> Callable[[Path], int]:
    index = {name: i for i, name in enumerate(names)}
    return lambda class_dir: index[class_dir.name]


def _elevater_labels(names_file: Path, count: int) -> Callable[[Path], int]:
    def label_of(class_dir: Path) -> int:
        if _NUMBER.fullmatch(class_dir.name) and int(class_dir.name) < count:
            return int(class_dir.name)
        raise UserError(
            f"{class_dir}: folder name {class_dir.name!r} is not a label index of {names_file} "
            f"({count} class names: 000 .. {count - 1:03d})"
        )

    return label_of


def _plan_split(split_dir, class_dirs, label_of, num_shards, skipped) -> SplitPlan:
    per_class: dict[int, list[ImageFile]] = {}
    for class_dir in class_dirs:
        label = label_of(class_dir)
        per_class.setdefault(label, []).extend(_list_images(split_dir, class_dir, label, skipped))
    files = assign_keys(_interleave(list(per_class.values())))
    if not files:
        raise UserError(f"{split_dir}: no images (.{', .'.join(sorted(set(IMAGE_SUFFIXES.values())))})")
    wanted = num_shards or math.ceil(len(files) / IMAGES_PER_SHARD)
    return SplitPlan(split_dir.name, tuple(files), max(1, min(wanted, len(files))))


def _list_images(split_dir: Path, class_dir: Path, label: int, skipped: list[str]) -> list[ImageFile]:
    images = []
    for path in sorted(p for p in class_dir.rglob("*") if p.is_file()):
        relpath = path.relative_to(split_dir).as_posix()
        if any(part.startswith(".") for part in path.relative_to(class_dir).parts):
            continue  # .DS_Store, editor files: not images, not worth a warning
        image_format = IMAGE_SUFFIXES.get(path.suffix.lower())
        if image_format is None:
            skipped.append(f"{split_dir.name}/{relpath}")
            continue
        images.append(ImageFile(path, relpath, label, image_format, path.stat().st_size))
    return images


def _interleave(per_class: list[list[ImageFile]]) -> list[ImageFile]:
    """Spread each class evenly over the split: sample i of a class of n sits at (i + 1/2) / n."""
    ranked = [((i + 0.5) / len(files), f.label, i, f) for files in per_class for i, f in enumerate(files)]
    return [item[-1] for item in sorted(ranked, key=lambda item: item[:3])]


def assign_keys(files: list[ImageFile]) -> list[ImageFile]:
    """Keys from the relative path ("000/img.123.jpg" -> "000_img_123"), made unique in order."""
    used: set[str] = set()
    keyed = []
    for f in files:
        stem = f.relpath.rsplit(".", 1)[0]
        # a leading "__" would make webdataset skip the sample
        key = _NOT_KEY.sub("_", stem).strip("_-") or "image"
        if len(key) > MAX_KEY_LENGTH:
            key = f"{key[: MAX_KEY_LENGTH - 9]}_{hashlib.sha1(stem.encode()).hexdigest()[:8]}"
        unique, n = key, 1
        while unique in used:
            n += 1
            unique = f"{key}_{n}"
        used.add(unique)
        keyed.append(ImageFile(f.path, f.relpath, f.label, f.image_format, f.size, unique))
    return keyed
