"""Image folders -> CLIP_benchmark's webdataset layout (``cnclip-eval convert``).

Two source layouts, told apart by the class folder names::

    ELEVATER (CN-CLIP)  <src>/<split>/000/x.jpg   label = int(folder name); class names from
                        <src>/label_cn.txt (line i = label i), English from label_en.txt or label.txt
    ImageFolder         <src>/<split>/<class>/x.jpg   label = index of the folder name among the sorted
                        class folder names of all splits; the folder names are the class names

The tree is ELEVATER's when ``label_cn.txt`` exists or every class folder name is a number.

Output (see ``layout``): ``<out>/<split>/{0..N-1}.tar``, ``<out>/<split>/nshards.txt``,
``<out>/classnames.txt``, ``<out>/classnames_en.txt`` when English names exist, and
``<out>/.convert.json``, a manifest of what the folder holds (source, class names, and per split
the image count, a hash of the file list and the shard count). The manifest is written first, so
a stopped conversion is recognised as ours; then each shard, atomically; then ``nshards.txt`` and
the class names. A re-run with the same manifest writes only the shards that are missing.

Image bytes are copied as they are (no re-encoding); samples are ordered so that every class is
spread evenly over the split, so each shard holds every class.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cnclip_eval.data.catalog import read_classname_file
from cnclip_eval.data.writer import Sample, write_metadata, write_shard
from cnclip_eval.errors import DataError, UserError
from cnclip_eval.fileio import atomic_write_json, atomic_write_text, sha256_json

MANIFEST = ".convert.json"
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


@dataclass
class SplitReport:
    name: str
    images: int
    shards: int
    shards_written: int = 0


@dataclass
class ConvertReport:
    out: Path
    up_to_date: bool
    splits: list[SplitReport] = field(default_factory=list)
    skipped: tuple[str, ...] = ()


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
    files = _assign_keys(_interleave(list(per_class.values())))
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


def _assign_keys(files: list[ImageFile]) -> list[ImageFile]:
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


# ---------------------------------------------------------------------------------------------
# Writing the shards


def convert(
    plan: ConversionPlan, out: Path, overwrite: bool = False, progress: bool = False
) -> ConvertReport:
    """Write (or finish writing) ``plan`` into ``out``; does nothing when ``out`` is up to date."""
    from tqdm import tqdm

    out = Path(out).expanduser().resolve()
    if out == plan.source or plan.source in out.parents:
        raise UserError(f"{out}: the output folder is inside the source {plan.source}; choose another --out")
    if out.exists() and not out.is_dir():
        raise UserError(f"{out}: exists and is not a folder; --out must be a folder")
    previous = _read_manifest(out)
    if overwrite:
        _remove_outputs(out, plan, previous)
        previous = None
    elif previous is None and out.is_dir() and any(out.iterdir()):
        raise UserError(
            f"{out}: not empty and not made by `cnclip-eval convert` (no {MANIFEST}); "
            "choose another --out or pass --overwrite"
        )
    manifest = _merge(previous, plan.manifest(), out)
    reports = [SplitReport(s.name, len(s.files), s.num_shards) for s in plan.splits]
    todo = {s.name: _missing_shards(out, s) for s in plan.splits}
    if manifest == previous and _is_finished(out, plan, todo):
        return ConvertReport(out, True, reports, plan.skipped)
    if manifest != previous:
        atomic_write_json(out / MANIFEST, manifest)  # first: claims the folder, records what it will hold
    total = sum(len(s.shard_files(i)) for s in plan.splits for i in todo[s.name])
    with tqdm(total=total, unit="img", desc="convert", disable=not progress, leave=False) as bar:
        for split, report in zip(plan.splits, reports):
            report.shards_written = _write_split(out, split, todo[split.name], bar)
    _write_classnames(out, plan)  # last, with nshards.txt: a reader never sees a half-made dataset
    return ConvertReport(out, False, reports, plan.skipped)


def _read_manifest(out: Path) -> dict | None:
    path = out / MANIFEST
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UserError(f"{path}: unreadable conversion manifest ({error}); pass --overwrite") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("splits"), dict):
        raise UserError(f"{path}: not a conversion manifest; pass --overwrite")
    return manifest


def _merge(previous: dict | None, manifest: dict, out: Path) -> dict:
    """The manifest after this run: ``previous`` plus any new splits; refuses a conflicting one."""
    if previous is None:
        return manifest
    why = None
    if previous.get("source") != manifest["source"]:
        why = f"made from {previous.get('source')}, not {manifest['source']}"
    elif any(previous.get(k) != manifest[k] for k in ("format", "layout", "classnames_sha256")):
        why = "with other class names or another source layout"
    elif previous.get("classnames_en_sha256") != manifest["classnames_en_sha256"]:
        why = "with other English class names"
    for name, entry in manifest["splits"].items():
        old = previous["splits"].get(name)
        if why is None and old is not None and old != entry:
            why = (
                f"of split {name!r} in {old.get('nshards')} shards, not {entry['nshards']}"
                if {**old, "nshards": entry["nshards"]} == entry
                else f"of another set of {name!r} images ({old.get('images')} then, {entry['images']} now)"
            )
    if why is not None:
        raise UserError(
            f"{out}: holds a conversion {why}; pass --overwrite to replace it, or choose another --out"
        )
    return {**manifest, "splits": {**previous["splits"], **manifest["splits"]}}


def _remove_outputs(out: Path, plan: ConversionPlan, previous: dict | None) -> None:
    """--overwrite: remove the files of the layout, and only those (never a whole folder)."""
    (out / MANIFEST).unlink(missing_ok=True)  # first, so a stopped overwrite is not taken as finished
    for name in (
        "classnames.txt",
        "classnames_en.txt",
        "zeroshot_classification_templates.txt",
        "dataset_type.txt",
    ):
        (out / name).unlink(missing_ok=True)
    splits = {s.name for s in plan.splits} | set((previous or {}).get("splits", {}))
    for split_dir in (out / name for name in sorted(splits)):
        if split_dir.is_dir():
            for path in split_dir.iterdir():
                if path.is_file() and (re.fullmatch(r"[0-9]+\.tar", path.name) or path.name == "nshards.txt"):
                    path.unlink()


def _missing_shards(out: Path, split: SplitPlan) -> list[int]:
    return [i for i in range(split.num_shards) if not (out / split.name / f"{i}.tar").is_file()]


def _is_finished(out: Path, plan: ConversionPlan, todo: dict[str, list[int]]) -> bool:
    texts = {f"{s.name}/nshards.txt": f"{s.num_shards}\n" for s in plan.splits}
    texts["classnames.txt"] = _lines(plan.classnames)
    if plan.classnames_en:
        texts["classnames_en.txt"] = _lines(plan.classnames_en)
    return not any(todo.values()) and all(_read(out / path) == text for path, text in texts.items())


def _write_split(out: Path, split: SplitPlan, shards: list[int], bar) -> int:
    for index in shards:
        write_shard(out / split.name / f"{index}.tar", _samples(split.shard_files(index), bar))
    _write_if_changed(out / split.name / "nshards.txt", f"{split.num_shards}\n")
    return len(shards)


def _samples(files: tuple[ImageFile, ...], bar) -> Iterator[Sample]:
    # stream of Sample(key="000_img_1", image=<the file's bytes>, image_format="jpg", label=0)
    for f in files:
        yield Sample(f.key, _read_image(f), f.image_format, f.label)
        bar.update(1)


def _read_image(f: ImageFile) -> bytes:
    """The file's bytes, once PIL has checked that they are an image."""
    import io

    from PIL import Image, UnidentifiedImageError

    try:
        data = f.path.read_bytes()
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
    except (OSError, SyntaxError, ValueError, UnidentifiedImageError, Image.DecompressionBombError) as error:
        raise DataError(
            f"{f.path}: not a readable image ({error}); fix or remove it, then run again with --overwrite"
        ) from None
    return data


def _write_classnames(out: Path, plan: ConversionPlan) -> None:
    if _read(out / "classnames.txt") != _lines(plan.classnames):
        write_metadata(out, plan.classnames)
    if plan.classnames_en:
        # the folder reader (``resolve``) does not read it; kept for --classnames-en and for people
        _write_if_changed(out / "classnames_en.txt", _lines(plan.classnames_en))


def _lines(names: list[str]) -> str:
    return "\n".join(names) + "\n"


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (FileNotFoundError, UnicodeDecodeError):
        return None


def _write_if_changed(path: Path, text: str) -> None:
    if _read(path) != text:
        atomic_write_text(path, text)
