"""Conversion plans -> CLIP_benchmark's webdataset layout (``cnclip-eval convert``); the plans come
from :mod:`cnclip_eval.data.folders`.

Output (see ``layout``): ``<out>/<split>/{0..N-1}.tar``, ``<out>/<split>/nshards.txt``,
``<out>/classnames.txt``, ``<out>/classnames_en.txt`` when English names exist, and
``<out>/.convert.json``, a manifest of what the folder holds (source, class names, and per split
the image count, a hash of the file list and the shard count). The manifest is written first, so
a stopped conversion is recognised as ours; then each shard, atomically; then ``nshards.txt`` and
the class names. A re-run with the same manifest writes only the shards that are missing.
Image bytes are copied as they are (no re-encoding).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cnclip_eval.data.folders import ConversionPlan, ImageFile, SplitPlan
from cnclip_eval.data.writer import Sample, write_metadata, write_shard
from cnclip_eval.errors import DataError, UserError
from cnclip_eval.fileio import atomic_write_json, atomic_write_text

MANIFEST = ".convert.json"


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
    previous = earlier_conversion(out, overwrite, lambda found: _remove_outputs(out, plan, found))
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


def read_manifest(out: Path, tolerate_damage: bool = False) -> dict | None:
    """The manifest of an earlier conversion; a damaged one is an error, or None with --overwrite."""
    path = out / MANIFEST
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(manifest, dict) or not isinstance(manifest.get("splits"), dict):
            raise ValueError("not a conversion manifest")
    except (UnicodeDecodeError, ValueError) as error:  # JSONDecodeError is a ValueError
        if tolerate_damage:
            return None
        raise UserError(f"{path}: unreadable conversion manifest ({error}); pass --overwrite") from None
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


def earlier_conversion(
    out: Path, overwrite: bool, remove_outputs: Callable[[dict | None], None]
) -> dict | None:
    """The manifest of an earlier conversion into ``out``, to resume from; with --overwrite its outputs
    are removed (``remove_outputs(manifest)``) and there is none. A non-empty folder that no conversion
    made is refused."""
    previous = read_manifest(out, tolerate_damage=overwrite)
    if overwrite:
        remove_outputs(previous)
        return None
    if previous is None and out.is_dir() and any(out.iterdir()):
        raise UserError(
            f"{out}: not empty and not made by `cnclip-eval convert` (no {MANIFEST}); "
            "choose another --out or pass --overwrite"
        )
    return previous


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
    """The file's bytes, once PIL has decoded them (``verify`` alone passes a truncated JPEG, which
    would only fail later, in the middle of an evaluation)."""
    import io

    from PIL import Image, UnidentifiedImageError

    from cnclip_eval.data.shards import image_error_reason

    try:
        data = f.path.read_bytes()
        with Image.open(io.BytesIO(data)) as image:
            image.load()
    except (OSError, SyntaxError, ValueError, UnidentifiedImageError, Image.DecompressionBombError) as error:
        raise DataError(
            f"{f.path}: not a readable image ({image_error_reason(error)}); fix or remove it, then run again "
            "with --overwrite"
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
