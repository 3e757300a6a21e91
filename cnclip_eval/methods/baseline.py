"""``baseline``: the CLIP template ensemble ("{c}的照片", ...) averaged per class."""

from __future__ import annotations

from cnclip_eval.methods.base import Classifier, MethodBase, MethodContext, Option


class TemplateEnsemble(MethodBase):
    name = "baseline"
    summary = "template ensemble: every --templates template filled with the Chinese class name, averaged"
    options: tuple[Option, ...] = ()

    def build(self, ctx: MethodContext) -> Classifier:
        from cnclip_eval.text import classifier_from_prompts

        texts = ctx.texts
        prompts = [[t.format(c=name) for t in texts.templates] for name in texts.classnames]
        truncated_before = ctx.encoder.truncated
        weights = classifier_from_prompts(ctx.encoder, prompts)
        return Classifier(
            weights,
            {
                "n_templates": len(texts.templates),
                "truncated_prompts": ctx.encoder.truncated - truncated_before,
            },
        )
