"""``bilingual``: each class's Chinese and English text embeddings, normalized, weighted, renormalized.

    w_c = normalize(w * zh_c + (1 - w) * en_c)

``zh_c`` is the class's Chinese classifier row (its templates filled with the Chinese name, or its
descriptions from a zh prompt pack) and ``en_c`` the English one. ``weight=1`` is the Chinese-only
classifier (``baseline`` with templates), ``weight=0`` the English-only one: report that beside any
bilingual number, since CN-CLIP's vocabulary holds few English word pieces.
"""

from __future__ import annotations

from cnclip_eval.methods.base import (
    Classifier,
    DatasetTexts,
    MethodBase,
    MethodContext,
    Option,
    require_english,
)

SOURCES = ("templates", "descriptions")


def _weight(value: str) -> float:
    weight = float(value)
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"weight {weight} is outside [0, 1]")
    return weight


class BilingualEnsemble(MethodBase):
    name = "bilingual"
    summary = "Chinese + English text-embedding ensemble: normalize(w * zh + (1 - w) * en)"
    options: tuple[Option, ...] = (
        Option("weight", _weight, 0.5, "weight w of the Chinese side, in [0, 1]"),
        Option("source", str, "templates", "what each side encodes: templates or pack descriptions", SOURCES),
        Option("pack_zh", str, None, "Chinese prompt pack (source=descriptions; default: the shipped one)"),
        Option("pack_en", str, None, "English prompt pack (source=descriptions; default: the shipped one)"),
    )

    def cache_inputs(self, texts: DatasetTexts, options: dict) -> dict:
        if options.get("source") != "descriptions":
            return {}
        from cnclip_eval.methods.llm import LlmDescriptions

        llm = LlmDescriptions()
        return {
            lang: llm.cache_inputs(texts, {"lang": lang, "pack": options.get(f"pack_{lang}")})
            for lang in ("zh", "en")
        }

    def refuses(self, options: dict, languages: tuple[str, ...]) -> str | None:
        if "zh" not in languages:
            return "it ensembles Chinese and English prompts, and the model reads no Chinese (use baseline)"
        return None

    def build(self, ctx: MethodContext) -> Classifier:
        import torch.nn.functional as F

        from cnclip_eval.text import classifier_from_prompts

        weight, source = ctx.options.get("weight", 0.5), ctx.options.get("source", "templates")
        details: dict = {"weight": weight, "source": source}
        sides = {}
        for lang in ("zh", "en"):
            prompts, side_details = side_prompts(ctx, lang, source)
            before = ctx.encoder.truncated
            sides[lang] = classifier_from_prompts(ctx.encoder, prompts)  # (C, D), rows unit-norm
            details[lang] = {
                **side_details,
                "prompts": sum(map(len, prompts)),
                "truncated_prompts": ctx.encoder.truncated - before,
            }
        combined = F.normalize(weight * sides["zh"] + (1.0 - weight) * sides["en"], dim=-1)  # (C, D)
        return Classifier(combined, details)


def side_prompts(ctx: MethodContext, language: str, source: str) -> tuple[list[list[str]], dict]:
    """One language's prompts per class, and what they came from."""
    texts = ctx.texts
    if source == "descriptions":
        from cnclip_eval.methods.llm import pack_prompts

        options = {"lang": language, "pack": ctx.options.get(f"pack_{language}"), "mode": "descriptions"}
        prompts, pack, path, _ = pack_prompts(texts, options)
        return prompts, {"pack": str(path), "pack_sha256": pack.content_sha256}
    if language == "zh":
        names, templates = texts.classnames, texts.templates
    else:
        names, templates = require_english(texts, "bilingual"), texts.templates_en
    return [[t.format(c=name) for t in templates] for name in names], {"n_templates": len(templates)}
