"""Suites: versioned YAML files naming models x datasets x methods, turned into run configs.

::

    version: 1
    name: smoke
    models: [demo]                        # names, or {name: PATH, arch: VISION@TEXT, datasets: [a, b],
                                          #  methods: [m]} (only these of the suite's datasets, by name,
                                          #  and methods, by run name)
    datasets: [demo-shapes]               # names, or {name, data_root, split, classnames, classnames_en,
                                          #            templates, templates_en}
    methods:                              # names, or {name, label, templates, <the method's options>}
      - baseline                          # an option given as a list runs once per value (a grid):
      - {name: tip-adapter, shots: [1, 2, 4, 8, 16], seed: [1, 2, 3]}   # 15 runs
      - {name: bilingual, weight: 0.7, label: bilingual-w0.7}
    settings: {batch_size: 64, limit: null}   # any RunConfig setting below

Unknown keys and names are refused with their line and the valid choices, before anything runs.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

import yaml

from cnclip_eval.config import MethodSpec, RunConfig
from cnclip_eval.data.resolve import DatasetRequest
from cnclip_eval.errors import UnknownNameError, UserError
from cnclip_eval.method_grid import expand_grid

SUITE_VERSION = 1
TOP_KEYS = {"version", "name", "description", "models", "datasets", "methods", "settings"}
MODEL_KEYS = {"name", "arch", "datasets", "methods"}
DATASET_KEYS = {f.name for f in fields(DatasetRequest)} - {"dataset"} | {"name"}
METHOD_KEYS = {"name", "label", "templates"}
SETTINGS = {
    "batch_size": int,
    "text_batch_size": int,
    "num_workers": int,
    "device": str,
    "precision": str,
    "decode": str,
    "limit": int,
    "seed": int,
}

POSITIVE = {"batch_size", "text_batch_size", "limit"}


class _LineLoader(yaml.SafeLoader):
    """Remembers the line of each mapping key, so errors can point at the suite's text."""

    def construct_mapping(self, node, deep=False):
        # YAML lets a repeated key silently replace the first; in a suite that drops a model or method
        seen: dict[str, int] = {}
        for key, _ in node.value:
            line = key.start_mark.line + 1
            if key.value in seen:
                raise UserError(
                    f"{self.name}:{line}: key {key.value!r} appears twice in one mapping (first on line "
                    f"{seen[key.value]}); the second would silently replace the first"
                )
            seen[key.value] = line
        mapping = super().construct_mapping(node, deep=deep)
        mapping["__lines__"] = {key.value: key.start_mark.line + 1 for key, _ in node.value}
        return mapping


def load_suite(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise UserError(f"{path}: no such suite file") from None
    except IsADirectoryError:
        raise UserError(f"{path}: is a folder, not a suite file") from None
    except UnicodeDecodeError as error:
        raise UserError(
            f"{path}: not UTF-8 text (byte {error.start}: {error.object[error.start : error.start + 2]!r}); "
            "save the suite as UTF-8"
        ) from None
    loader = _LineLoader(text)
    loader.name = str(path)
    try:
        data = loader.get_single_data()
    except yaml.YAMLError as error:
        raise UserError(f"{path}: not valid YAML ({str(error).splitlines()[0]})") from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise UserError(f"{path}: a suite is a mapping with the keys {', '.join(sorted(TOP_KEYS))}")
    _check_keys(path, data, TOP_KEYS, "suite")
    if data.get("version") != SUITE_VERSION:
        raise UserError(f"{path}: expected 'version: {SUITE_VERSION}', found {data.get('version')!r}")
    for key in ("models", "datasets", "methods"):
        if not isinstance(data.get(key), list) or not data[key]:
            raise UserError(f"{path}: '{key}' must be a non-empty list")
    return data


def _check_keys(path: Path, entry: dict, valid: set[str], what: str) -> None:
    lines = entry.get("__lines__", {})
    for key in entry:
        if key != "__lines__" and key not in valid:
            raise UserError(
                f"{path}:{lines.get(key, '?')}: unknown {what} key {key!r}; valid keys: {', '.join(sorted(valid))}"
            )


def _entry(path: Path, item: Any, valid: set[str], what: str) -> dict[str, Any]:
    if isinstance(item, str):
        return {"name": item}
    if not isinstance(item, dict) or "name" not in item:
        raise UserError(f"{path}: each {what} is a name or a mapping with 'name' (found {item!r})")
    _check_keys(path, item, valid, what)
    return {k: v for k, v in item.items() if k != "__lines__"}


def _method_spec(path: Path, item: Any) -> MethodSpec:
    from cnclip_eval.methods import METHODS

    entry = _entry(path, item, METHOD_KEYS | _all_method_options(), "method")
    line = item.get("__lines__", {}).get("name", "?") if isinstance(item, dict) else "?"
    try:
        method = METHODS.get(entry["name"])
    except UnknownNameError as error:
        raise UserError(f"{path}:{line}: {error}") from None
    own = {option.name for option in method.options}
    options = {k: v for k, v in entry.items() if k not in METHOD_KEYS}
    foreign = sorted(set(options) - own)
    if foreign:
        raise UserError(
            f"{path}:{line}: method {entry['name']!r} has no option {', '.join(foreign)}; "
            f"its options: {', '.join(sorted(own)) or '(none)'}"
        )
    return MethodSpec(entry["name"], options, entry.get("label"), entry.get("templates"))


def _item_line(item: Any) -> int | str:
    return item.get("__lines__", {}).get("name", "?") if isinstance(item, dict) else "?"


def _run_label(spec: MethodSpec) -> str:
    from cnclip_eval.methods import METHODS
    from cnclip_eval.methods.base import resolve_options
    from cnclip_eval.naming import run_label

    method = METHODS.get(spec.name)()
    return run_label(spec, method, resolve_options(method, spec.options))


def _all_method_options() -> set[str]:
    from cnclip_eval.methods import METHODS

    return {option.name for entry in METHODS.entries() for option in METHODS.get(entry.name).options}


def _settings(path: Path, data: dict) -> dict[str, Any]:
    settings = data.get("settings") or {}
    if not isinstance(settings, dict):
        raise UserError(f"{path}: 'settings' must be a mapping")
    _check_keys(path, settings, set(SETTINGS), "settings")
    parsed = {}
    for key, value in settings.items():
        if key == "__lines__" or value is None:
            continue
        line = settings["__lines__"][key]
        if not isinstance(value, SETTINGS[key]) or isinstance(value, bool):
            raise UserError(f"{path}:{line}: setting {key!r} must be {SETTINGS[key].__name__}")
        if key in POSITIVE and value <= 0:
            raise UserError(f"{path}:{line}: setting {key!r} must be positive, not {value}")
        if key == "num_workers" and value < 0:
            raise UserError(f"{path}:{line}: setting 'num_workers' must be 0 or more, not {value}")
        parsed[key] = value
    return parsed


def _subset_of(path: Path, item: Any, key: str, entries: tuple, names: list[str]) -> tuple:
    """The suite's datasets or methods, or the subset a model entry names under ``key`` (a published
    table that reports some datasets for one model only; an English-only model without the methods
    that need Chinese)."""
    model = item if isinstance(item, dict) else {"name": item}
    wanted = model.get(key)
    if wanted is None:
        return entries
    line = model.get("__lines__", {}).get(key, "?")
    kind = key.removesuffix("s")
    if not isinstance(wanted, list) or not wanted or not all(isinstance(w, str) for w in wanted):
        raise UserError(f"{path}:{line}: model {model['name']!r}: {key!r} must be a list of {kind} names")
    unknown = [w for w in wanted if w not in names]
    if unknown:
        raise UserError(
            f"{path}:{line}: model {model['name']!r} names {kind} {unknown[0]!r}, which is not among the "
            f"suite's {key} ({', '.join(dict.fromkeys(names))})"
        )
    return tuple(entry for entry, name in zip(entries, names) if name in wanted)


def _check_model(path: Path, name: str, item: Any) -> None:
    from cnclip_eval.models import check_model_name

    try:
        check_model_name(name)
    except UserError as error:
        line = item.get("__lines__", {}).get("name", "?") if isinstance(item, dict) else _line_of(path, name)
        raise UserError(f"{path}:{line}: {error}") from None


def _line_of(path: Path, text: str) -> int | str:
    """The first line of the suite that mentions ``text`` (list items carry no line of their own)."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if text in line:
            return number
    return "?"


def suite_configs(path: str | Path, **overrides: Any) -> list[RunConfig]:
    """One RunConfig per model entry (all datasets and methods), settings then overrides applied."""
    path = Path(path)
    data = load_suite(path)
    datasets = tuple(
        DatasetRequest(dataset=e.pop("name"), **e)
        for e in (_entry(path, item, DATASET_KEYS, "dataset") for item in data["datasets"])
    )
    methods = tuple(
        spec
        for item in data["methods"]
        for spec in expand_grid(_method_spec(path, item), f"{path}:{_item_line(item)}")
    )
    labels = [_run_label(m) for m in methods]
    duplicated = sorted({label for label in labels if labels.count(label) > 1})
    if duplicated:
        raise UserError(f"{path}: methods share the run name {duplicated[0]!r}; give each a distinct 'label'")
    settings = {**_settings(path, data), **{k: v for k, v in overrides.items() if v is not None}}
    models = [(_entry(path, item, MODEL_KEYS, "model"), item) for item in data["models"]]
    for model, item in models:  # every model is known before the first one runs
        _check_model(path, model["name"], item)
    return [
        RunConfig(
            models=(m["name"],),
            datasets=_subset_of(path, item, "datasets", datasets, [d.dataset for d in datasets]),
            methods=_subset_of(path, item, "methods", methods, labels),
            arch=m.get("arch"),
            skip_existing=True,
            **settings,
        )
        for m, item in models
    ]
