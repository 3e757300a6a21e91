"""Audit a prompt pack: schema, fit to a class list, duplicates, and CN-CLIP's 52-token context.

A description longer than 50 word pieces is cut by ``cn_clip.clip.tokenize`` (context 52 =
``[CLS]`` + 50 + ``[SEP]``), so its end never reaches the model; English text splits into many
pieces in CN-CLIP's vocabulary, so English packs hit this far more often than Chinese ones.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cnclip_eval.errors import UserError
from cnclip_eval.prompts.cleanup import dedupe_key
from cnclip_eval.prompts.pack import PromptPack, load_pack, validate_against

log = logging.getLogger(__name__)


@dataclass
class CheckReport:
    path: Path
    pack: PromptPack | None = None
    errors: list[str] = field(default_factory=list)  # schema, fit: the pack cannot be used
    duplicates: dict[int, list[str]] = field(default_factory=dict)  # class index -> repeated texts
    truncated: dict[int, int] = field(default_factory=dict)  # class index -> descriptions cut
    name_mismatches: list[int] = field(default_factory=list)
    tokenizer: str | None = None  # why token lengths were not checked, or None
    # kind -> class -> texts: shared across classes, not in the pack's language; more with --strict
    quality: dict[str, dict[int, list[str]]] = field(default_factory=dict)

    def ok(self, allow_truncated: bool = False) -> bool:
        usable = not self.errors and not self.duplicates and (allow_truncated or not self.truncated)
        return usable and not self.quality


def check_pack(
    path: Path,
    classnames_for: Callable[[PromptPack], list[str] | None] | None = None,
    count_tokens: bool = True,
    strict: bool = False,
) -> CheckReport:
    """Everything wrong with the pack at ``path`` (never raises for a bad pack: it reports).

    ``classnames_for(pack)``: the class names to check it against (e.g. the catalog's for its
    dataset and language), or None to check the pack on its own.
    """
    report = CheckReport(Path(path))
    classnames = None
    try:
        report.pack = pack = load_pack(path)
        classnames = classnames_for(pack) if classnames_for else None
        if classnames is not None:
            names = "warn" if pack.language == "zh" else "error"  # Chinese names vary by translation
            report.name_mismatches = validate_against(pack, classnames, names=names)
    except UserError as error:
        report.errors.append(str(error))
        if report.pack is None:
            return report
    empty = [f"{c.index} ({c.name})" for c in pack.classes if not c.descriptions]
    if empty and classnames is None:
        report.errors.append(f"classes without descriptions: {', '.join(empty[:10])}")
    report.duplicates = find_duplicates(pack)
    from cnclip_eval.prompts.quality import essential_problems, quality_problems

    report.quality = essential_problems(pack)
    if strict:
        report.quality = {**report.quality, **quality_problems(pack)}
    if count_tokens:
        report.truncated, report.tokenizer = count_truncated(pack)
    else:
        report.tokenizer = "skipped (--no-tokens)"
    return report


def find_duplicates(pack: PromptPack) -> dict[int, list[str]]:
    duplicates = {}
    for c in pack.classes:
        seen: set[str] = set()
        repeated = []
        for description in c.descriptions:
            key = dedupe_key(description)
            if key in seen:
                repeated.append(description)
            seen.add(key)
        if repeated:
            duplicates[c.index] = repeated
    return duplicates


def count_truncated(pack: PromptPack) -> tuple[dict[int, int], str | None]:
    """Per class, how many descriptions exceed CN-CLIP's context; (counts, why not checked)."""
    try:
        from cn_clip.clip import _tokenizer  # noqa: F401  (tokenize_ids imports it lazily)

        from cnclip_eval.models.cnclip_text import tokenize_ids
    except ImportError as error:
        return {}, f"not checked: CN-CLIP's tokenizer is unavailable ({error})"
    truncated = {}
    for c in pack.classes:
        if c.descriptions:
            _, cut = tokenize_ids(list(c.descriptions))
            if cut:
                truncated[c.index] = cut
    return truncated, None
