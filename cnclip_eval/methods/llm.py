"""``llm``: CuPL-style class descriptions from a prompt pack (Pratt et al., arXiv 2209.03320).

Each class is represented by the descriptions an LLM wrote for it ("丁鲷是一种橄榄绿色的淡水鱼"),
each encoded, normalized and averaged, instead of (``descriptions``) or together with
(``descriptions+templates``) the template prompts "{c}的照片", .... CuPL combined both in one
average; with ``descriptions+templates`` every description and every template prompt weighs the
same. ``name+descriptions`` is DCLIP's form instead of CuPL's: each prompt is the class name followed
by one description (``NAMED_FORMS``); the ``waffle`` control uses the same form with random words. The descriptions come from a pack (``cnclip_eval.prompts``) written by
``cnclip-eval prompts generate`` or ``prompts import-cupl``; the method never calls an LLM.
"""

from __future__ import annotations

import logging

from cnclip_eval.errors import UserError
from cnclip_eval.methods.base import (
    Classifier,
    DatasetTexts,
    MethodBase,
    MethodContext,
    Option,
    require_english,
)

log = logging.getLogger(__name__)

MODES = ("descriptions", "descriptions+templates", "name+descriptions")
# DCLIP's form (Menon & Vondrick, arXiv 2210.07183), "{c}, which (is/has) {d}": the class name kept,
# the description appended. Our packs hold whole sentences, so a colon reads naturally in both languages.
NAMED_FORMS = {"zh": "{c}：{d}", "en": "{c}: {d}"}


class LlmDescriptions(MethodBase):
    name = "llm"
    summary = "CuPL-style LLM class descriptions (arXiv 2209.03320) read from a prompt pack"
    options: tuple[Option, ...] = (
        Option("pack", str, None, "prompt pack JSON; None: the shipped {dataset}.{lang}.json"),
        Option(
            "mode",
            str,
            "descriptions",
            "descriptions alone (CuPL), averaged with the template prompts, or each after the class name (DCLIP)",
            MODES,
        ),
        Option("lang", str, "zh", "language of the pack: zh (Chinese names) or en", ("zh", "en")),
    )

    def cache_inputs(self, texts: DatasetTexts, options: dict) -> dict:
        """The pack's content, also when it is the shipped default that no option names."""
        from cnclip_eval.fileio import sha256_file
        from cnclip_eval.prompts.pack import find_pack

        try:
            path = find_pack(texts.dataset, options.get("lang", "zh"), options.get("pack"))
        except UserError:
            return {}  # build() raises the same error with its full message
        return {"pack_file_sha256": sha256_file(path)}

    def refuses(self, options: dict, languages: tuple[str, ...]) -> str | None:
        if options.get("lang", "zh") not in languages:
            return f"the pack is in {options.get('lang', 'zh')!r}; pass --llm-lang {languages[0]}"
        return None

    def build(self, ctx: MethodContext) -> Classifier:
        from cnclip_eval.text import classifier_from_prompts

        mode = ctx.options.get("mode", "descriptions")
        prompts, pack, path, mismatched = pack_prompts(ctx.texts, ctx.options)
        truncated_before = ctx.encoder.truncated
        weights = classifier_from_prompts(ctx.encoder, prompts)  # (C, D), rows L2-normalized
        return Classifier(
            weights,
            {
                "pack": str(path),
                "pack_sha256": pack.content_sha256,
                "pack_language": pack.language,
                "pack_generator": {"kind": pack.generator.kind, "llm_model": pack.generator.llm_model},
                "mode": mode,
                "n_descriptions": pack.num_descriptions,
                "n_prompts": sum(map(len, prompts)),
                "name_mismatches": len(mismatched),
                "truncated_prompts": ctx.encoder.truncated - truncated_before,
            },
        )


def pack_prompts(texts: DatasetTexts, options: dict):
    """(prompts per class, pack, its path, mismatched names): what the method encodes, also for export."""
    from cnclip_eval.prompts.pack import find_pack, load_pack, validate_against

    language, mode = options.get("lang", "zh"), options.get("mode", "descriptions")
    path = find_pack(texts.dataset, language, options.get("pack"))
    pack = load_pack(path)
    if pack.language != language:
        raise UserError(
            f"prompt pack {path} is in {pack.language!r} but --llm-lang is {language!r}: "
            f"pass --llm-lang {pack.language} or another pack"
        )
    if pack.dataset != texts.dataset:
        log.warning("prompt pack %s was made for %r, used for %r", path, pack.dataset, texts.dataset)
    if language == "zh":
        mismatched = validate_against(pack, texts.classnames, names="warn")
    elif texts.classnames_en:
        mismatched = validate_against(pack, texts.classnames_en, names="warn")
    else:  # English names unknown: indices and count are all that can be checked
        mismatched = validate_against(pack, texts.classnames, names="ignore")
    prompts = pack.descriptions_per_class()
    if mode == "name+descriptions":
        names = texts.classnames if language == "zh" else require_english(texts, "llm")
        form = NAMED_FORMS[language]
        prompts = [[form.format(c=name, d=d) for d in ds] for name, ds in zip(names, prompts)]
    if mode == "descriptions+templates":
        for prompts_of_class, template_prompts in zip(prompts, template_prompts_for(texts, language)):
            prompts_of_class.extend(template_prompts)
    return prompts, pack, path, mismatched


def template_prompts_for(texts: DatasetTexts, language: str) -> list[list[str]]:
    """Per class, the dataset's templates filled with its name in ``language``."""
    if language == "zh":
        names, templates = texts.classnames, texts.templates
    else:
        names, templates = require_english(texts, "llm"), texts.templates_en
    if not templates:
        raise UserError(
            f"--llm-mode descriptions+templates: dataset {texts.dataset!r} has no {language} templates"
        )
    return [[t.format(c=name) for t in templates] for name in names]
