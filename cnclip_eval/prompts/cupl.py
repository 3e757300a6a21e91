"""Import CuPL's published ImageNet-1k descriptions (English) as a prompt pack.

clip_benchmark ships CuPL's GPT-3 descriptions (Pratt et al., arXiv 2209.03320) as
``clip_benchmark/datasets/cupl_prompts.json``: ``{"imagenet1k": {english name: [150 descriptions]}}``,
998 names for 1000 classes. They are mapped to class indices through the index-aligned list
``en_classnames.json["imagenet1k"]``.

Duplicate names: ImageNet-1k's English list names two classes "missile" (657, 744) and two
"sunglasses" (836, 837). CuPL keyed its descriptions by name, so there is only one list for each:
both indices get the same descriptions. The import logs a warning and records the shared indices
in the pack's ``notes``; expect the two classes of each pair to be hard to tell apart with this
pack alone.

Descriptions are whitespace-normalized; descriptions repeated within a class
(about 3% of CuPL's, ignoring case) are dropped, keeping the first,
unless ``keep_duplicates`` (which reproduces CuPL's weighting exactly).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from cnclip_eval.errors import UserError
from cnclip_eval.fileio import sha256_file
from cnclip_eval.prompts.cleanup import dedupe
from cnclip_eval.prompts.pack import GeneratorInfo, PackClass, PromptPack, make_pack, tool_version

log = logging.getLogger(__name__)

DATASET = "imagenet1k"


def clip_benchmark_file(name: str) -> Path:
    import clip_benchmark.datasets

    return Path(clip_benchmark.datasets.__file__).parent / name


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: no such file (is clip_benchmark>=1.6 installed?)") from None
    except ValueError as error:
        raise UserError(f"{path}: not valid JSON ({error})") from None


def import_cupl(
    cupl_path: Path | None = None, classnames_path: Path | None = None, keep_duplicates: bool = False
) -> PromptPack:
    """The English ImageNet-1k pack from CuPL's descriptions (paths default to clip_benchmark's)."""
    cupl_path = Path(cupl_path or clip_benchmark_file("cupl_prompts.json"))
    classnames_path = Path(classnames_path or clip_benchmark_file("en_classnames.json"))
    by_name = _read_json(cupl_path).get(DATASET)
    names = _read_json(classnames_path).get(DATASET)
    if not isinstance(by_name, dict) or not isinstance(names, list):
        raise UserError(f"{cupl_path} / {classnames_path}: expected an {DATASET!r} entry in each")
    missing = [f"{i} ({n})" for i, n in enumerate(names) if n not in by_name]
    if missing:
        raise UserError(f"{cupl_path}: no descriptions for classes {', '.join(missing[:10])}")
    classes, dropped = [], 0
    for index, name in enumerate(names):
        descriptions = [" ".join(d.split()) for d in by_name[name] if d.strip()]
        if not keep_duplicates:
            unique = dedupe(descriptions)
            dropped += len(descriptions) - len(unique)
            descriptions = unique
        classes.append(PackClass(index, name, tuple(descriptions)))
    notes = _notes(names, by_name, dropped, keep_duplicates)
    generator = GeneratorInfo(
        kind="import",
        endpoint="clip_benchmark-cupl",
        date=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        tool=tool_version(),
        source={
            "file": cupl_path.name,
            "sha256": sha256_file(cupl_path),
            "classnames_file": classnames_path.name,
            "package": f"clip_benchmark {_version('clip_benchmark')}",
            "paper": "arXiv 2209.03320 (CuPL, GPT-3 descriptions)",
        },
    )
    return make_pack(DATASET, "en", generator, classes, notes)


def shared_names(names: list[str]) -> dict[str, list[int]]:
    """Names that label more than one class index, with those indices."""
    indices: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        indices.setdefault(name, []).append(i)
    return {name: ix for name, ix in indices.items() if len(ix) > 1}


def _notes(names: list[str], by_name: dict, dropped: int, keep_duplicates: bool) -> list[str]:
    notes = []
    shared = shared_names(names)
    if shared:
        listed = "; ".join(f"{n!r}: {', '.join(map(str, ix))}" for n, ix in shared.items())
        log.warning("CuPL keys descriptions by name; these classes share one list: %s", listed)
        notes.append(f"CuPL keys descriptions by English name; classes sharing a name share them: {listed}")
    unused = sorted(set(by_name) - set(names))
    if unused:
        notes.append(f"CuPL names not in the class list, ignored: {', '.join(unused[:20])}")
    if keep_duplicates:
        notes.append("duplicate descriptions kept, as in CuPL")
    else:
        notes.append(f"{dropped} duplicate descriptions within a class dropped")
    return notes


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "unknown"
