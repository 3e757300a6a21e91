"""Names of results: the run label a reader sees and the file a result is written to.

Two results may share a model, a dataset name and a method and still measure different things: two
shard folders both called ``shards``, ``imagenet1k`` with another class-name list, ``bilingual``
with another weight. Each input that differs from the defaults therefore goes into a short tag (a
hash) at the end of the file name, and into the labels: the run name shows the options that
differ (``bilingual(weight=0)``), and a dataset keeps its tag so that the leaderboard can tell
same-named datasets apart. Default inputs keep the plain ``<model>__<dataset>__<method>`` name.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from cnclip_eval.fileio import sha256_json

TAG_LENGTH = 8  # hex digits: a tag only tells apart the handful of variants in one results folder


def _value(value: Any) -> Any:
    """An option value as it identifies an input: a named file by its absolute path."""
    if isinstance(value, str) and value and Path(value).is_file():
        return str(Path(value).resolve())
    return value


def _shown(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def method_differences(spec, method, options: dict[str, Any]) -> dict[str, Any]:
    """The method's options (parsed) that differ from its defaults, plus a per-method template set."""
    defaults = {option.name: option.default for option in method.options}
    differing = {k: v for k, v in options.items() if k in defaults and v != defaults[k]}
    if spec.templates:
        differing["templates"] = spec.templates
    return differing


def run_label(spec, method, options: dict[str, Any]) -> str:
    """``label`` when the user gave one, else the method with the options that differ:
    ``bilingual(weight=0)``; the plain method name for its defaults."""
    if spec.label:
        return spec.label
    differing = method_differences(spec, method, options)
    if not differing:
        return spec.name
    return f"{spec.name}({', '.join(f'{k}={_shown(v)}' for k, v in differing.items())})"


def seed_group_label(spec, method, options: dict[str, Any]) -> str:
    """The run label with the ``seed`` option at its default: results that differ only by seed share
    it, and the leaderboard shows them as one row, mean +- std over the seeds."""
    defaults = {option.name: option.default for option in method.options}
    if "seed" not in defaults or spec.label:
        return run_label(spec, method, options)
    return run_label(spec, method, {**options, "seed": defaults["seed"]})


def dataset_differences(request, dataset) -> dict[str, Any]:
    """What sets this dataset apart from another of its name: a folder's location (a folder's name
    says nothing of which folder), and any class-name or template choice other than the default."""
    spec = dataset.spec
    defaults = {
        "classnames": spec.default_variant if spec else None,
        "templates": spec.templates if spec else None,
        "templates_en": spec.templates_en if spec else "en80",
    }
    differing: dict[str, Any] = {} if spec else {"source": dataset.layout.source.describe()}
    for key in ("classnames", "classnames_en", "templates", "templates_en"):
        value = getattr(request, key)
        if value is not None and value != defaults.get(key):
            differing[key] = _value(value)
    return differing


def tag(differences: dict[str, Any]) -> str:
    """A short hash of ``differences``; "" when there are none, so default inputs keep plain names."""
    return sha256_json(differences)[:TAG_LENGTH] if differences else ""


def safe(name: str) -> str:
    """A file-name-safe form of a model, dataset or run name (paths become their last part)."""
    name = Path(name).name if ("/" in name or "\\" in name) else name
    return re.sub(r"[^\w.@+-]+", "_", name)


def result_stem(model: str, dataset: str, method: str, split: str, result_tag: str) -> str:
    """``model__dataset__method`` (``__split`` for a split other than test, ``__tag`` for inputs
    other than the defaults), so no result replaces another made from other inputs."""
    parts = (model, dataset, method) + (() if split == "test" else (split,))
    stem = "__".join(safe(part) for part in parts)
    return f"{stem}__{result_tag}" if result_tag else stem


def result_names(model: str, arch: str | None, request, dataset, spec, method, options) -> dict[str, str]:
    """Everything one (model, dataset, method) result is named by: its run label, dataset tag and
    file stem."""
    dataset_diff = dataset_differences(request, dataset)
    method_diff = {k: _value(v) for k, v in method_differences(spec, method, options).items()}
    model_diff = {"arch": arch} if arch else {}
    differences = {"dataset": dataset_diff, "method": method_diff, **model_diff}
    result_tag = tag(differences if any(differences.values()) else {})
    return {
        "run_name": run_label(spec, method, options),
        "seed_group": seed_group_label(spec, method, options),
        "dataset_tag": tag(dataset_diff),
        "stem": result_stem(model, dataset.name, spec.label or spec.name, dataset.layout.split, result_tag),
    }


def refuse_collisions(planned: list[tuple[str, str]]) -> None:
    """``(stem, what)`` pairs of one run or suite: two results that would share a file are refused
    before any work, since the second would silently replace the first."""
    from cnclip_eval.errors import UserError

    seen: dict[str, str] = {}
    for stem, what in planned:
        if stem in seen:
            raise UserError(
                f"{seen[stem]} and {what} would both be written to {stem}.json; "
                "give the methods distinct labels, or the datasets or models distinct names"
            )
        seen[stem] = what
