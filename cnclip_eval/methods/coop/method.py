"""``coop`` as a method: a trained context, checked against the model and class list, then encoded."""

from __future__ import annotations

from pathlib import Path

from cnclip_eval.errors import UserError
from cnclip_eval.fileio import sha256_file, sha256_json
from cnclip_eval.methods.base import Classifier, DatasetTexts, MethodBase, MethodContext, Option

# Contexts that ship with the package, found by name when --coop-context is not given, as packs
# are: ``{model}__{dataset}.safetensors`` (the demo model's context for demo-shapes).
SHIPPED_DIR = Path(__file__).parent / "shipped"


def shipped_context(model_id: str, dataset: str) -> Path | None:
    path = SHIPPED_DIR / f"{model_id}__{dataset}.safetensors"
    return path if path.is_file() else None


class CoopContext(MethodBase):
    name = "coop"
    kind = "few-shot"
    requires = ("text_input_embeddings",)
    summary = (
        "CoOp learnable context vectors, trained few-shot with `cnclip-eval coop train` (arXiv 2109.01134)"
    )
    options: tuple[Option, ...] = (
        Option(
            "context",
            str,
            None,
            "a context file from `cnclip-eval coop train`; None: the one shipped for this model and dataset",
        ),
    )

    def cache_inputs(self, texts: DatasetTexts, options: dict) -> dict:
        if options.get("context"):
            return {}  # a named file is fingerprinted by the engine
        shipped = sorted(SHIPPED_DIR.glob(f"*__{texts.dataset}.safetensors"))
        return {"shipped": {p.name: sha256_file(p) for p in shipped}}

    def build(self, ctx: MethodContext) -> Classifier:
        import torch
        import torch.nn.functional as F

        from cnclip_eval.methods.coop.context_io import load_context
        from cnclip_eval.methods.coop.text_path import encode_with_context, name_token_ids

        path = ctx.options.get("context") or shipped_context(ctx.model_id, ctx.texts.dataset)
        if not path:
            raise UserError(
                f"method 'coop' needs --coop-context FILE (none ships for model {ctx.model_id} on "
                f"{ctx.texts.dataset}); train one with `cnclip-eval coop train`"
            )
        context, meta = load_context(path)
        check_fit(path, meta, ctx)
        model = ctx.encoder.model  # the LoadedModel: its text_input_embeddings capability
        with torch.inference_mode():
            features = encode_with_context(
                model,
                context.to(model.device),
                name_token_ids(model, ctx.texts.classnames),
                meta["recipe"]["position"],
            )
        return Classifier(
            F.normalize(features.float(), dim=-1).cpu(),
            {
                "context": str(path),
                "context_sha256": sha256_file(path),
                "shots": meta["shots"],
                "seed": meta["seed"],
                "trained_on": meta["dataset"],
                "final_loss": meta["final_loss"],
            },
        )


def check_fit(path, meta: dict, ctx: MethodContext) -> None:
    """Refuse a context trained for another model or another class list, saying which differs."""
    if meta["weights_id"] != ctx.weights_id:
        raise UserError(
            f"{path}: trained for model {meta['model_id']} (weights {meta['weights_id'][:24]}), "
            f"not for {ctx.model_id} (weights {str(ctx.weights_id)[:24]})"
        )
    if meta["classnames_sha256"] != sha256_json(ctx.texts.classnames):
        raise UserError(
            f"{path}: trained for another class list ({meta['num_classes']} classes of {meta['dataset']}); "
            f"this dataset has {len(ctx.texts.classnames)} classes"
        )
