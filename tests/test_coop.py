"""CoOp: the text path reproduces encode_text; training learns, deterministically; contexts are checked."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from cnclip_eval.methods.coop.context_io import load_context
from cnclip_eval.methods.coop.text_path import encode_with_context, name_token_ids, phrase_token_ids
from cnclip_eval.methods.coop.train import Recipe, train_context

from conftest import CLASSNAMES_ZH, make_dataset


def reference(model, texts):
    from cn_clip.clip import tokenize

    with torch.no_grad():
        return model.encode_text(tokenize(texts))


def coop_train(run_cli, root, out, *options: str):
    """``cnclip-eval coop train`` of the tiny model on ``root`` into ``out``: (code, stdout, stderr)."""
    return run_cli(
        "coop", "train", "--dataset", root, "--model", "tiny", "--out", out, "--device", "cpu", *options
    )


def evaluate_coop(run_cli, root, context, output_dir, *options: str):
    return run_cli(
        "--dataset", root, "--model", "tiny", "--coop-context", context, "--output-dir", output_dir, *options
    )


def test_empty_context_equals_encode_text(tiny_model):
    with torch.no_grad():
        ours = encode_with_context(tiny_model, torch.zeros(0, 64), name_token_ids(tiny_model, CLASSNAMES_ZH))
    assert torch.allclose(ours, reference(tiny_model.module, CLASSNAMES_ZH), atol=1e-5)


@pytest.mark.parametrize(
    ("position", "text"), [("end", "一张图片{c}"), ("front", "{c}一张图片"), ("middle", "一张{c}图片")]
)
def test_template_words_as_context_equal_encode_text(tiny_model, position, text):
    model = tiny_model.module
    with torch.no_grad():
        context = model.bert.embeddings.word_embeddings(
            torch.tensor(phrase_token_ids(tiny_model, "一张图片"))
        )
        ours = encode_with_context(tiny_model, context, name_token_ids(tiny_model, CLASSNAMES_ZH), position)
    assert torch.allclose(ours, reference(model, [text.format(c=c) for c in CLASSNAMES_ZH]), atol=1e-5)


def features_and_labels(n_per_class=4, dim=64):
    """Image features in one cluster per class: a few-shot problem the context can learn."""
    generator = torch.Generator().manual_seed(3)
    centres = F.normalize(torch.randn(len(CLASSNAMES_ZH), dim, generator=generator), dim=-1)
    labels = torch.arange(n_per_class * len(CLASSNAMES_ZH)) % len(CLASSNAMES_ZH)
    noise = 0.3 * torch.randn(len(labels), dim, generator=generator)
    return F.normalize(centres[labels] + noise, dim=-1), labels


def test_training_lowers_the_loss_and_is_deterministic(tiny_model):
    features, labels = features_and_labels()
    recipe = Recipe(n_ctx=4, epochs=30, lr=0.5, batch_size=10, seed=1, csc=True)
    context, log = train_context(tiny_model, CLASSNAMES_ZH, features, labels, recipe, shots=4)
    again, _ = train_context(tiny_model, CLASSNAMES_ZH, features, labels, recipe, shots=4)
    assert torch.equal(context, again)
    assert log["losses"][-1] < log["losses"][0]
    assert log["train_accuracy_after"] > log["train_accuracy_before"]
    assert context.shape == (len(CLASSNAMES_ZH), 4, 64)  # class-specific contexts


def test_kgcoop_keeps_the_learned_prompts_near_the_hand_written_ones(tiny_model):
    """KgCoOp's term: with a strong weight the learned class features end closer (cosine) to the
    hand-written prompts' features than plain CoOp's from the same start (and the term needs them)."""
    from cnclip_eval.text import TextEncoder, classifier_from_prompts

    features, labels = features_and_labels()
    anchor = classifier_from_prompts(TextEncoder(tiny_model), [[f"一张{c}的照片"] for c in CLASSNAMES_ZH])
    names = name_token_ids(tiny_model, CLASSNAMES_ZH)

    def closeness(kg_weight: float) -> float:
        recipe = Recipe(n_ctx=4, epochs=20, lr=0.5, batch_size=10, seed=1, kg_weight=kg_weight)
        context, _ = train_context(tiny_model, CLASSNAMES_ZH, features, labels, recipe, 4, anchor=anchor)
        with torch.no_grad():
            text = F.normalize(encode_with_context(tiny_model, context, names), dim=-1)
        return float(F.cosine_similarity(text, anchor, dim=-1).mean())

    # the tiny random tower's features are all close; the distance left is what the term shrinks
    assert 1 - closeness(50.0) < 0.5 * (1 - closeness(0.0))
    with pytest.raises(ValueError, match="anchor"):
        train_context(tiny_model, CLASSNAMES_ZH, features, labels, Recipe(kg_weight=1.0, epochs=1), 4)


def test_train_then_evaluate_end_to_end(run_cli, tmp_path, tiny_model):
    root = make_dataset(tmp_path / "wds", n=40, num_shards=2, seed=5, split="train")
    make_dataset(root, n=20, num_shards=2, seed=6, split="test")
    context = tmp_path / "ctx.safetensors"
    code, out, err = coop_train(
        run_cli, root, context, "--shots", "4", "--n-ctx", "4", "--epochs", "3", "--kg-weight", "8"
    )
    assert code == 0, err
    assert "4 shots" in out
    _, meta = load_context(context)
    assert (
        meta["shots"] == 4
        and meta["recipe"]["kg_weight"] == 8.0
        and len(meta["samples"]) == 20
        and json.loads(context.with_suffix(".json").read_text())
    )
    code, out, err = evaluate_coop(run_cli, root, context, tmp_path / "r", "--method", "baseline,coop")
    assert code == 0, err
    assert "coop" in out
    # another model, or another class list: refused with what differs
    code, _, err = evaluate_coop(run_cli, root, context, tmp_path / "r2", "--seed", "9", "--method", "coop")
    assert code == 2 and "trained for model tiny" in err
    names = tmp_path / "names.txt"
    names.write_text("\n".join(reversed(CLASSNAMES_ZH)) + "\n", encoding="utf-8")
    code, _, err = evaluate_coop(
        run_cli, root, context, tmp_path / "r3", "--classnames", names, "--method", "coop"
    )
    assert code == 2 and "another class list" in err


def test_too_few_shots_names_the_classes(run_cli, tmp_path):
    root = make_dataset(tmp_path / "wds", n=10, num_shards=1, split="train")
    code, _, err = coop_train(run_cli, root, tmp_path / "c.safetensors", "--shots", "3")
    assert code == 2 and "fewer train images" in err and "红色的圆形 (2)" in err


def test_missing_context_option(run_cli, shard_dir, tmp_path):
    code, _, err = run_cli(
        "--dataset", shard_dir, "--model", "tiny", "--method", "coop", "--output-dir", tmp_path
    )
    assert code == 2 and "--coop-context" in err


def test_augmented_training_is_repeatable_and_differs_from_cached(run_cli, tmp_path):
    """--augment re-encodes cropped/flipped shots each epoch: a different context, the same one twice."""
    root = make_dataset(tmp_path / "wds", n=40, num_shards=2, seed=5, split="train")
    contexts = {}
    for name, extra in (("plain", ()), ("aug1", ("--augment",)), ("aug2", ("--augment",))):
        out = tmp_path / f"{name}.safetensors"
        code, _, err = coop_train(run_cli, root, out, "--shots", "2", "--n-ctx", "4", "--epochs", "2", *extra)
        assert code == 0, err
        contexts[name] = load_context(out)
    assert contexts["aug1"][1]["augment"] is True and contexts["plain"][1]["augment"] is False
    assert torch.equal(contexts["aug1"][0], contexts["aug2"][0])
    assert not torch.equal(contexts["aug1"][0], contexts["plain"][0])
