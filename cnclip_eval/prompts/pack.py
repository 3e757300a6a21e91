"""Prompt packs: per-class text descriptions for one dataset in one language, as validated JSON.

A pack is data, not code: the ``llm`` method reads it, ``cnclip-eval prompts generate`` and
``prompts import-cupl`` write it, ``prompts check`` audits it. Classes are keyed by their *index*
(the label), never by name, because ImageNet-1k repeats names in English ("missile",
"sunglasses") and in Chinese.

Schema (``schema_version`` 1)::

    {
      "schema_version": 1,
      "dataset": "imagenet1k",            # catalog name, or the folder name of a local dataset
      "language": "zh",                   # "zh" or "en": the language of names and descriptions
      "generator": {
        "kind": "llm",                    # "llm" (generated) or "import" (converted from a file)
        "llm_model": "qwen2.5:7b",        # null for imports
        "endpoint": "openai-compatible",  # endpoint kind; for imports the source's name
        "base_url_host": "127.0.0.1:11434", # host[:port] only: no path, user, password or query; or null
        "temperature": 0.99,              # null for imports
        "n": 5,                           # answers per (class, query); null for imports
        "max_chars": 40,                  # the length the queries asked for; null for imports
        "queries": ["{c}长什么样？", ...],  # the question templates, "{c}" = class name
        "system": "你为图像识别撰写简短的外观描述。",  # the system message sent with every question
        "instruction": "请只用一句话回答，不超过{max_chars}个字，...",  # appended to every question
        "date": "2025-01-31T12:00:00+00:00",
        "tool": "cnclip-eval 0.1.0 (git 1a2b3c…)",
        "source": null                    # imports: {"file": ..., "sha256": ..., "package": ...}
      },
      "notes": ["..."],                   # free-form remarks, e.g. classes that share descriptions
      "content_sha256": "<64 hex>",       # see content_hash()
      "classes": {
        "0": {"name": "丁鲷", "descriptions": ["丁鲷是一种身体呈橄榄绿色的淡水鱼。", ...]},
        "1": {"name": "金鱼", "descriptions": [...]},
        ...
      }
    }

``content_sha256`` is the sha256 of the canonical classes content: the compact UTF-8 JSON of
``[[name, [descriptions...]], ...]`` in index order (:func:`content_hash`). It identifies what a
classifier was built from, so results record it; :func:`load_pack` refuses a pack whose content no
longer matches it (a hand edit must be recorded with ``prompts check --rehash``).

Loading checks the structure only (types, index keys, the hash). Whether a pack fits a dataset's
class list is :func:`validate_against`'s job, because one pack file can be checked against several
class lists (the catalog's, a user's ``--classnames`` file).
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cnclip_eval.errors import UserError
from cnclip_eval.fileio import atomic_write_json, sha256_json

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
LANGUAGES = ("zh", "en")
GENERATOR_KINDS = ("llm", "import")


def _shipped_packs_dir() -> Path:
    """The shipped packs ("{dataset}.{language}.json"), which live in the repository's ``prompts/``.

    A wheel installs that folder as ``cnclip_eval/_packs`` (pyproject's package-dir); a checkout or an
    editable install reads the repository's own folder, so an edited pack is used at once.
    """
    installed = Path(__file__).resolve().parents[1] / "_packs"
    return installed if installed.is_dir() else Path(__file__).resolve().parents[2] / "prompts"


PACKS_DIR = _shipped_packs_dir()
_SHOWN = 10  # classes named in one error message before "... and N more"


@dataclass(frozen=True)
class GeneratorInfo:
    """How a pack was made; enough to make it again (the API key is never part of it)."""

    kind: str  # "llm" | "import"
    endpoint: str  # "openai-compatible", or the import's source kind (e.g. "clip_benchmark-cupl")
    date: str  # ISO 8601
    tool: str  # "cnclip-eval <version>"
    llm_model: str | None = None
    base_url_host: str | None = None
    temperature: float | None = None
    n: int | None = None
    max_chars: int | None = None
    queries: tuple[str, ...] = ()
    system: str | None = None  # the system message
    instruction: str | None = None  # the rules appended to each question ("{c}", "{max_chars}")
    source: dict[str, Any] | None = None


@dataclass(frozen=True)
class PackClass:
    index: int  # the label
    name: str
    descriptions: tuple[str, ...]


@dataclass(frozen=True)
class PromptPack:
    dataset: str
    language: str
    generator: GeneratorInfo
    classes: tuple[PackClass, ...]  # sorted by index; indices need not be contiguous until validated
    notes: tuple[str, ...] = ()
    schema_version: int = SCHEMA_VERSION
    content_sha256: str = field(default="")  # filled in by make_pack / load_pack

    def descriptions_per_class(self) -> list[list[str]]:
        """Descriptions in index order (call :func:`validate_against` first for a complete list)."""
        return [list(c.descriptions) for c in self.classes]

    def names(self) -> list[str]:
        return [c.name for c in self.classes]

    @property
    def num_descriptions(self) -> int:
        return sum(len(c.descriptions) for c in self.classes)


def content_hash(classes: tuple[PackClass, ...] | list[PackClass]) -> str:
    """sha256 of the canonical classes content, ``[[name, [descriptions]], ...]`` in index order."""
    ordered = sorted(classes, key=lambda c: c.index)
    return sha256_json([[c.name, list(c.descriptions)] for c in ordered])


def make_pack(
    dataset: str,
    language: str,
    generator: GeneratorInfo,
    classes: list[PackClass],
    notes: list[str] | tuple[str, ...] = (),
) -> PromptPack:
    """A pack with its classes sorted by index and its content hash computed."""
    if language not in LANGUAGES:
        raise UserError(f"prompt pack language must be one of {', '.join(LANGUAGES)}, not {language!r}")
    ordered = tuple(sorted(classes, key=lambda c: c.index))
    return PromptPack(
        dataset, language, generator, ordered, tuple(notes), SCHEMA_VERSION, content_hash(ordered)
    )


def tool_version() -> str:
    """``cnclip-eval <version>``, with the git commit when run from a checkout."""
    from cnclip_eval import __version__
    from cnclip_eval.provenance import git_revision

    revision = git_revision()
    return f"cnclip-eval {__version__}" + (f" (git {revision})" if revision else "")


def rehash(pack: PromptPack) -> PromptPack:
    return replace(pack, content_sha256=content_hash(pack.classes))


# --------------------------------------------------------------------------- reading and writing


def pack_to_json(pack: PromptPack) -> dict[str, Any]:
    generator = {
        "kind": pack.generator.kind,
        "llm_model": pack.generator.llm_model,
        "endpoint": pack.generator.endpoint,
        "base_url_host": pack.generator.base_url_host,
        "temperature": pack.generator.temperature,
        "n": pack.generator.n,
        "max_chars": pack.generator.max_chars,
        "queries": list(pack.generator.queries),
        "system": pack.generator.system,
        "instruction": pack.generator.instruction,
        "date": pack.generator.date,
        "tool": pack.generator.tool,
        "source": pack.generator.source,
    }
    return {
        "schema_version": pack.schema_version,
        "dataset": pack.dataset,
        "language": pack.language,
        "generator": generator,
        "notes": list(pack.notes),
        "content_sha256": pack.content_sha256,
        "classes": {
            str(c.index): {"name": c.name, "descriptions": list(c.descriptions)} for c in pack.classes
        },
    }


def save_pack(pack: PromptPack, path: str | os.PathLike) -> Path:
    """Write ``pack`` atomically (a reader never sees half a file); the hash is recomputed first."""
    return atomic_write_json(path, pack_to_json(rehash(pack)))


def load_pack(path: str | os.PathLike, verify_hash: bool = True) -> PromptPack:
    """Read and structurally validate a pack; errors name the file and the offending field.

    ``verify_hash=False`` accepts content that changed since it was written (for ``--rehash``).
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: no such prompt pack") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UserError(f"{path}: not a JSON prompt pack ({error})") from None
    pack = pack_from_json(data, str(path))
    recorded = data.get("content_sha256")
    if verify_hash and recorded != pack.content_sha256:
        raise UserError(
            f"{path}: content_sha256 {str(recorded)[:12]}… does not match the classes' content "
            f"({pack.content_sha256[:12]}…): the pack changed after it was written. If you edited it "
            f"on purpose, record the new hash with `cnclip-eval prompts check --rehash {path}`"
        )
    return pack


def pack_from_json(data: Any, where: str) -> PromptPack:
    """A :class:`PromptPack` from parsed JSON; ``where`` names the source in errors."""
    if not isinstance(data, dict):
        raise UserError(f"{where}: a prompt pack is a JSON object, found {type(data).__name__}")
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise UserError(
            f"{where}: schema_version {version!r} is not supported (this cnclip-eval reads {SCHEMA_VERSION})"
        )
    dataset = _require(data, "dataset", str, where)
    language = _require(data, "language", str, where)
    if language not in LANGUAGES:
        raise UserError(f"{where}: language must be one of {', '.join(LANGUAGES)}, not {language!r}")
    notes = data.get("notes", [])
    if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
        raise UserError(f"{where}: 'notes' must be a list of strings")
    generator = _generator_from_json(_require(data, "generator", dict, where), where)
    classes = _classes_from_json(_require(data, "classes", dict, where), where)
    return make_pack(dataset, language, generator, classes, notes)


def _require(data: dict, key: str, kind: type, where: str) -> Any:
    if key not in data:
        raise UserError(f"{where}: missing field {key!r}")
    value = data[key]
    if not isinstance(value, kind):
        raise UserError(f"{where}: field {key!r} must be a {kind.__name__}, found {type(value).__name__}")
    return value


def _generator_from_json(data: dict, where: str) -> GeneratorInfo:
    where = f"{where}: generator"
    kind = _require(data, "kind", str, where)
    if kind not in GENERATOR_KINDS:
        raise UserError(f"{where}: kind must be one of {', '.join(GENERATOR_KINDS)}, not {kind!r}")
    queries = data.get("queries") or []
    if not isinstance(queries, list) or not all(isinstance(q, str) for q in queries):
        raise UserError(f"{where}: 'queries' must be a list of strings")
    host = data.get("base_url_host")
    if host is not None and (not isinstance(host, str) or re.search(r"[/@?#\s]", host)):
        raise UserError(f"{where}: base_url_host must be a bare host name (no path, user or query)")
    optional = {
        "llm_model": str,
        "temperature": (int, float),
        "n": int,
        "max_chars": int,
        "system": str,
        "instruction": str,
        "source": dict,
    }
    for key, types in optional.items():
        if data.get(key) is not None and not isinstance(data[key], types):
            raise UserError(f"{where}: field {key!r} has the wrong type ({type(data[key]).__name__})")
    if kind == "llm" and not data.get("llm_model"):
        raise UserError(f"{where}: an 'llm' pack must name its llm_model")
    return GeneratorInfo(
        kind=kind,
        endpoint=_require(data, "endpoint", str, where),
        date=_require(data, "date", str, where),
        tool=_require(data, "tool", str, where),
        llm_model=data.get("llm_model"),
        base_url_host=host,
        temperature=data.get("temperature"),
        n=data.get("n"),
        max_chars=data.get("max_chars"),
        queries=tuple(queries),
        system=data.get("system"),
        instruction=data.get("instruction"),
        source=data.get("source"),
    )


def _classes_from_json(data: dict, where: str) -> list[PackClass]:
    classes = []
    for key, entry in data.items():
        if not re.fullmatch(r"0|[1-9][0-9]*", key):
            raise UserError(f"{where}: class key {key!r} is not a class index (0, 1, 2, ...)")
        here = f"{where}: class {key}"
        if not isinstance(entry, dict):
            raise UserError(f"{here}: must be an object with 'name' and 'descriptions'")
        name = _require(entry, "name", str, here)
        descriptions = _require(entry, "descriptions", list, here)
        bad = [i for i, d in enumerate(descriptions) if not isinstance(d, str)]
        if bad:
            raise UserError(f"{here} ({name}): description #{bad[0]} is not a string")
        classes.append(PackClass(int(key), name, tuple(descriptions)))
    return classes


# --------------------------------------------------------------------------- fitting a dataset


def validate_against(pack: PromptPack, classnames: list[str], names: str = "error") -> list[int]:
    """Check that ``pack`` covers exactly the classes ``0..len(classnames)-1``, each with descriptions.

    ``names``: what a name that differs from ``classnames[i]`` does: ``"error"``, ``"warn"`` (log
    it; e.g. a pack made from another Chinese translation) or ``"ignore"``. Returns the indices
    whose names differ.
    """
    where = f"prompt pack for {pack.dataset!r} ({pack.language})"
    indices = {c.index for c in pack.classes}
    problems = []
    if len(pack.classes) != len(classnames):
        problems.append(f"it has {len(pack.classes)} classes, the dataset has {len(classnames)}")
    missing = [i for i in range(len(classnames)) if i not in indices]
    if missing:
        problems.append("missing classes " + _name_list(missing, classnames))
    extra = sorted(i for i in indices if i >= len(classnames))
    if extra:
        problems.append("extra classes beyond the dataset's " + _name_list(extra, pack_names(pack)))
    empty = [c.index for c in pack.classes if not any(d.strip() for d in c.descriptions)]
    if empty:
        problems.append("classes without descriptions " + _name_list(empty, pack_names(pack)))
    if problems:
        raise UserError(f"{where} does not fit the dataset: " + "; ".join(problems))
    mismatched = [c.index for c in pack.classes if c.name.strip() != classnames[c.index].strip()]
    if mismatched and names != "ignore":
        pack_name = pack_names(pack)
        shown = ", ".join(f"{i} {pack_name[i]!r} vs {classnames[i]!r}" for i in mismatched[:_SHOWN])
        more = f" and {len(mismatched) - _SHOWN} more" if len(mismatched) > _SHOWN else ""
        message = f"{where}: class names differ from the dataset's at index {shown}{more}"
        if names == "error":
            raise UserError(message)
        log.warning("%s (using the pack's descriptions by index)", message)
    return mismatched


def pack_names(pack: PromptPack) -> dict[int, str]:
    return {c.index: c.name for c in pack.classes}


def _name_list(indices: list[int], names: list[str] | dict[int, str]) -> str:
    def label(i: int) -> str:
        known = names.get(i) if isinstance(names, dict) else (names[i] if i < len(names) else None)
        return f"{i} ({known})" if known is not None else str(i)

    shown = ", ".join(label(i) for i in indices[:_SHOWN])
    return shown + (f" and {len(indices) - _SHOWN} more" if len(indices) > _SHOWN else "")


def find_pack(dataset: str, language: str, explicit_path: str | os.PathLike | None = None) -> Path:
    """The pack to use: ``explicit_path`` if given, else the shipped ``packs/{dataset}.{language}.json``."""
    if explicit_path is not None and str(explicit_path):
        path = Path(explicit_path).expanduser()
        if not path.is_file():
            raise UserError(f"prompt pack {path}: no such file")
        return path
    name = Path(str(dataset)).name or str(dataset)
    path = PACKS_DIR / f"{name}.{language}.json"
    if path.is_file():
        return path
    shipped = sorted(p.name for p in PACKS_DIR.glob("*.json")) if PACKS_DIR.is_dir() else []
    hint = (
        f" Build one with `cnclip-eval prompts generate --dataset {dataset} --lang {language} "
        f"--llm-model MODEL --out PACK.json`"
    )
    if name == "imagenet1k" and language == "en":
        hint += " or `cnclip-eval prompts import-cupl --out PACK.json`"
    raise UserError(
        f"no prompt pack for dataset {dataset!r} in language {language!r}: looked for {path} "
        f"(shipped packs: {', '.join(shipped) or 'none'}).{hint}, then pass it with --llm-pack PACK.json"
    )
