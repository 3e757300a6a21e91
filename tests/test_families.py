"""Every registered method on a tiny model of every family: a unit-norm (C, D) classifier (a few-shot
method: a result fitted on the train split), or, where the method needs a capability the model lacks,
a refusal naming both."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from cnclip_eval.config import MethodSpec, RunConfig
from cnclip_eval.data.resolve import DatasetRequest, resolve_dataset
from cnclip_eval.engine import prepare_methods
from cnclip_eval.errors import UserError
from cnclip_eval.features import ClassifierCache
from cnclip_eval.image_features import dataset_features
from cnclip_eval.methods import METHODS
from cnclip_eval.methods.base import refuse_for_model
from cnclip_eval.methods.fewshot import is_few_shot
from cnclip_eval.models import ModelRequest, load_model
from cnclip_eval.tasks.base import MethodRun
from cnclip_eval.tasks.classification import CLASSIFICATION, build_classifier
from cnclip_eval.text import TextEncoder

from conftest import assert_clean_error, make_dataset
from hf_tiny import KINDS, make_checkpoint
from openclip_tiny import KINDS as OPEN_CLIP_KINDS
from openclip_tiny import register as register_open_clip

# a tiny model of every family (a new family adds its builder here): folder -> the --model name
# (writing the checkpoint or registering the config the name reads)
TINY_MODEL_NAMES = {
    "cn_clip": lambda folder: "tiny",
    **{
        f"transformers-{kind}": (lambda folder, kind=kind: f"transformers:{make_checkpoint(kind, folder)}")
        for kind in KINDS
    },
    **{
        f"open_clip-{kind}": (lambda folder, kind=kind: f"open_clip:{register_open_clip(kind, folder)}")
        for kind in OPEN_CLIP_KINDS
    },
}
# folder -> LoadedModel
TINY_MODELS = {
    family: (lambda folder, name=name: load_model(ModelRequest(name(folder))))
    for family, name in TINY_MODEL_NAMES.items()
}


@pytest.fixture(scope="module")
def demo_shapes():
    return resolve_dataset(DatasetRequest("demo-shapes"))


@pytest.fixture(scope="module", params=sorted(TINY_MODELS))
def family_model(request, tmp_path_factory):
    return TINY_MODELS[request.param](tmp_path_factory.mktemp(request.param))


def coop_context(model, dataset, folder: Path) -> Path:
    """A context trained for ``model`` on random features (two epochs: only its shape matters here)."""
    from cnclip_eval.fileio import sha256_json
    from cnclip_eval.methods.coop.context_io import save_context
    from cnclip_eval.methods.coop.train import Recipe, train_context

    dim = model.encode_image(torch.zeros(1, 3, model.image_size, model.image_size)).shape[-1]
    features = torch.nn.functional.normalize(torch.randn(2 * dataset.num_classes, dim), dim=-1)
    labels = torch.arange(2 * dataset.num_classes) % dataset.num_classes
    recipe = Recipe(n_ctx=2, epochs=2, batch_size=16)
    from cnclip_eval.tasks.classification import dataset_texts

    classnames = dataset_texts(dataset, None, model.languages).classnames  # the names the model reads
    context, log = train_context(model, classnames, features, labels, recipe, shots=2)
    meta = {
        "model_id": model.model_id,
        "weights_id": model.weights_id,
        "dataset": dataset.name,
        "num_classes": dataset.num_classes,
        "classnames_sha256": sha256_json(classnames),
        "shots": 2,
        "seed": 0,
        "recipe": recipe.as_dict(),
        "final_loss": log["losses"][-1],
    }
    return save_context(folder / "ctx.safetensors", context, meta)


@pytest.mark.parametrize("method_name", METHODS.names())
def test_every_method_gives_a_unit_norm_classifier_on_every_family(
    method_name, family_model, demo_shapes, tmp_path
):
    method = METHODS.get(method_name)()
    english_only = "zh" not in family_model.languages
    options = {"lang": "en"} if method_name == "llm" and english_only else {}  # the English pack
    if method.refuses(options, family_model.languages):  # Chinese-only texts for an English-only model
        assert english_only and method_name in {"bilingual", "waffle"}
        with pytest.raises(
            UserError, match=f"method '{method_name}' cannot run on model {family_model.model_id}"
        ):
            refuse_for_model([(None, method, options)], family_model.model_id, family_model.family, ("en",))
        return
    if any(c not in family_model.capabilities for c in getattr(method, "requires", ())):
        with pytest.raises(UserError, match=rf"{family_model.model_id}|{family_model.family}"):
            coop_context(family_model, demo_shapes, tmp_path)
        return
    if method_name == "coop":
        options = {"context": str(coop_context(family_model, demo_shapes, tmp_path))}
    if is_few_shot(method):  # it scores image features: fitted on demo-shapes' train split
        return few_shot_runs(family_model, demo_shapes, method_name, tmp_path)
    [(spec, method, options)] = prepare_methods((MethodSpec(method_name, options=options),))
    encoder = TextEncoder(family_model, "cpu", batch_size=16)
    weights, _, _ = build_classifier(
        family_model, demo_shapes, spec, method, options, encoder, ClassifierCache(tmp_path), "fp32"
    )
    dim = family_model.encode_image(
        torch.zeros(1, 3, family_model.image_size, family_model.image_size)
    ).shape[-1]
    assert weights.shape == (demo_shapes.num_classes, dim)
    assert torch.allclose(weights.norm(dim=-1), torch.ones(demo_shapes.num_classes), atol=1e-5)


FEW_SHOT_OPTIONS = {"shots": 2, "val_shots": 2}
QUICK = {"tip-adapter-f": {"epochs": 2}, "linear-probe": {"steps": 10}}


def few_shot_runs(model, dataset, method_name: str, folder: Path) -> None:
    """A few-shot method on ``model``: a result whose logits rank the test images (top-1 in [0, 100])."""
    options = {**FEW_SHOT_OPTIONS, **QUICK.get(method_name, {})}
    [(spec, method, options)] = prepare_methods((MethodSpec(method_name, options=options),))
    config = RunConfig(models=(model.model_id,), datasets=(), methods=(), progress=False, num_workers=0)
    features = dataset_features(model, dataset, config, folder)
    names = {"run_name": method_name, "dataset_tag": "", "stem": method_name}
    run = MethodRun(
        model, dataset, features, spec, method, options, TextEncoder(model, "cpu", batch_size=16),
        ClassifierCache(folder), config, "cpu", names, folder,
    )  # fmt: skip
    record, predictions = CLASSIFICATION.run(run)
    assert 0.0 <= record.metrics["top1"] <= 100.0
    assert predictions.topk.shape == (dataset.expected_samples, 5)
    assert record.provenance["method"]["details"]["n_shots"] == 2 * dataset.num_classes


def test_a_method_needing_a_missing_capability_is_refused_up_front(run_cli, tmp_path, shard_dir, capsys):
    """CoOp on CLIP (no inputs_embeds in its text tower): one line naming both, before any image."""
    folder = make_checkpoint("clip", tmp_path / "clip")
    capsys.readouterr()  # the checkpoint writer's progress bar
    code, _, err = run_cli(
        "--model", f"transformers:{folder}", "--dataset", shard_dir, "--classnames-en", shard_dir / "classnames.txt",
        "--method", "coop", "--coop-context", tmp_path / "none.safetensors", "--output-dir", tmp_path / "out",
    )  # fmt: skip
    assert_clean_error(code, err, "'coop'", "text input embeddings", f"transformers:{folder}", "transformers")
    assert not (tmp_path / "cache" / "features").exists()  # refused before any image was encoded


@pytest.mark.parametrize("kind", ["chinese_clip", "altclip"])
def test_coop_text_path_without_context_equals_encode_text(kind, tmp_path):
    """The inputs_embeds path reproduces get_text_features: an empty context gives the class names'
    own features, so CoOp runs the same tower the baseline does."""
    from cnclip_eval.methods.coop.text_path import encode_with_context, name_token_ids

    model = load_model(ModelRequest(f"transformers:{make_checkpoint(kind, tmp_path / kind)}"))
    names = ["红色的圆形", "蓝色的方块", "black and white checks"]
    hidden = model.capabilities["text_input_embeddings"].hidden_size
    with torch.no_grad():
        ours = encode_with_context(model, torch.zeros(0, hidden), name_token_ids(model, names))
        ids, _ = model.tokenizer(names)
        tokens = torch.full((len(ids), max(map(len, ids))), model.tokenizer.pad_id)
        mask = torch.zeros_like(tokens)
        for row, tokens_row in enumerate(ids):
            tokens[row, : len(tokens_row)], mask[row, : len(tokens_row)] = torch.tensor(tokens_row), 1
        theirs = model.module.get_text_features(input_ids=tokens, attention_mask=mask).pooler_output
    assert torch.max(torch.abs(ours - theirs)).item() < 1e-5


def test_coop_training_on_a_model_without_input_embeddings_is_one_line(run_cli, tmp_path, capsys):
    folder = make_checkpoint("siglip", tmp_path / "siglip")
    capsys.readouterr()
    root = make_dataset(tmp_path / "wds", n=10, num_shards=1, split="train")
    code, _, err = run_cli(
        "coop", "train", "--dataset", root, "--model", f"transformers:{folder}", "--shots", "1",
        "--device", "cpu", "--out", tmp_path / "c.safetensors",
    )  # fmt: skip
    assert_clean_error(code, err, "text input embeddings", f"transformers:{folder}")
    assert not (tmp_path / "cache" / "features").exists()
