"""``--model transformers:...``: our logits equal transformers' own pipeline (its processor,
``get_image_features`` / ``get_text_features``) on a tiny random checkpoint of every family."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cnclip_eval.config import MethodSpec
from cnclip_eval.data.resolve import DatasetRequest, resolve_dataset
from cnclip_eval.engine import prepare_methods
from cnclip_eval.features import ClassifierCache
from cnclip_eval.image_features import compute_features, feature_cache_for
from cnclip_eval.models import ModelRequest, identify_model, load_model
from cnclip_eval.tasks.classification import build_classifier, dataset_texts
from cnclip_eval.text import TextEncoder

from conftest import CLASSNAMES_EN, make_dataset
from hf_tiny import EN_TEMPLATES, KINDS, hub_offline, make_checkpoint

pytest.importorskip("transformers")


@pytest.fixture(scope="module", params=KINDS)
def checkpoint(request, tmp_path_factory) -> Path:
    return make_checkpoint(request.param, tmp_path_factory.mktemp(request.param))


@pytest.fixture(scope="module")
def bilingual_dir(tmp_path_factory) -> Path:
    """A shard folder with Chinese and English class names (English models read the latter)."""
    root = make_dataset(tmp_path_factory.mktemp("wds_hf"), n=23, num_shards=2, seed=3)
    (root / "classnames_en.txt").write_text("\n".join(CLASSNAMES_EN) + "\n", encoding="utf-8")
    (root / "templates_en.txt").write_text("\n".join(EN_TEMPLATES) + "\n", encoding="utf-8")
    return root


def resolve(root: Path):
    return resolve_dataset(
        DatasetRequest(
            str(root),
            classnames_en=str(root / "classnames_en.txt"),
            templates_en=str(root / "templates_en.txt"),
        )
    )


def ours(model, root: Path, cache_root: Path, batch_size: int = 3):
    dataset = resolve(root)
    cache = feature_cache_for(model, dataset, cache_root, "fp32", None)
    images = compute_features(
        model, dataset, cache, batch_size=5, num_workers=0, precision="fp32", limit=None, progress=False
    )
    [(spec, method, options)] = prepare_methods((MethodSpec("baseline"),))
    encoder = TextEncoder(model, "cpu", batch_size=batch_size)
    weights, _, _ = build_classifier(
        model, dataset, spec, method, options, encoder, ClassifierCache(cache_root), "fp32"
    )
    return model.logit_scale * images.features @ weights.T, images.labels


def shard_images(root: Path):
    from PIL import Image

    images, labels = [], []
    for shard in sorted((root / "test").glob("*.tar"), key=lambda p: int(p.stem)):
        with tarfile.open(shard) as archive:
            for member in sorted(archive.getmembers(), key=lambda m: m.name):
                key, ext = member.name.split(".", 1)
                if ext in ("webp", "jpg"):
                    images.append(Image.open(io.BytesIO(archive.extractfile(member).read())).convert("RGB"))
                    labels.append(int(archive.extractfile(f"{key}.cls").read()))
    return images, np.array(labels)


def reference(folder: Path, root: Path, names: list[str], templates: list[str]):
    """transformers' own: AutoProcessor, get_image_features, get_text_features, the model's scale."""
    from transformers import AutoModel, AutoProcessor

    model, processor = AutoModel.from_pretrained(folder).eval(), AutoProcessor.from_pretrained(folder)
    padding = "max_length" if model.config.model_type == "siglip" else True  # as each model card does
    images, labels = shard_images(root)
    with torch.no_grad():
        pixels = processor(images=images, return_tensors="pt")["pixel_values"]
        image_features = F.normalize(model.get_image_features(pixel_values=pixels).pooler_output, dim=-1)
        rows = []
        for name in names:
            inputs = processor(
                text=[t.format(c=name) for t in templates], padding=padding, return_tensors="pt"
            )
            embedding = F.normalize(model.get_text_features(**inputs).pooler_output, dim=-1).mean(0)
            rows.append(embedding / embedding.norm())
        scale = model.logit_scale.exp()
    return scale * image_features @ torch.stack(rows).T, labels


def test_logits_equal_the_transformers_pipeline(checkpoint, bilingual_dir, tmp_path):
    model = load_model(ModelRequest(f"transformers:{checkpoint}"))
    logits, labels = ours(model, bilingual_dir, tmp_path)
    texts = dataset_texts(resolve(bilingual_dir), None, model.languages)
    theirs, their_labels = reference(checkpoint, bilingual_dir, texts.classnames, texts.templates)
    np.testing.assert_array_equal(labels, their_labels)
    assert torch.max(torch.abs(logits - theirs)).item() <= 1e-4
    assert torch.equal(logits.argmax(1), theirs.argmax(1))


def test_english_only_models_read_english_names(checkpoint, bilingual_dir):
    model = load_model(ModelRequest(f"transformers:{checkpoint}"))
    texts = dataset_texts(resolve(bilingual_dir), None, model.languages)
    english = model.arch.split(":")[0] in {
        "clip",
        "siglip",
    }  # siglip: the tiny one has an English-size vocabulary
    assert (model.languages == ("en",)) == english
    assert (texts.classnames == CLASSNAMES_EN) == english
    assert (texts.templates == EN_TEMPLATES) == english


def test_batching_and_pad_trimming_change_nothing(checkpoint):
    """Length-sorted batches cut to their longest prompt (or padded to the context where the family
    needs it) equal one prompt at a time at full context."""
    model = load_model(ModelRequest(f"transformers:{checkpoint}"))
    prompts = [
        "红色的圆形的照片",
        "a photo of a dog.",
        "猫",
        "一张 blue square 的图片",
        "black and white checks",
    ]
    batched = TextEncoder(model, "cpu", batch_size=2).encode(prompts)
    tokenizer = model.tokenizer
    ids, _ = tokenizer(prompts)
    singles = []
    with torch.no_grad():
        for row in ids:
            width = tokenizer.context_length
            tokens = torch.full((1, width), tokenizer.pad_id)
            tokens[0, : len(row)] = torch.tensor(row)
            mask = (torch.arange(width) < len(row)).long()[None]
            singles.append(F.normalize(model.encode_text(tokens, mask), dim=-1)[0])
    assert torch.max(torch.abs(batched - torch.stack(singles))).item() < 1e-5


def test_identity_is_known_without_loading_and_matches_the_loaded_model(checkpoint):
    request = ModelRequest(f"transformers:{checkpoint}")
    identity = identify_model(request)
    assert identity is not None and identity == load_model(request).identity
    assert identity.family == "transformers" and len(identity.weights_id) == 64


def test_a_folder_without_a_checkpoint_is_one_line(run_cli, tmp_path, bilingual_dir):
    from conftest import assert_clean_error

    code, _, err = run_cli("--model", f"transformers:{tmp_path}", "--dataset", bilingual_dir)
    assert_clean_error(code, err, str(tmp_path))


def test_offline_repo_is_one_line_naming_where_it_tried(run_cli, tmp_path, bilingual_dir, monkeypatch):
    from conftest import assert_clean_error

    hub_offline(monkeypatch)
    code, _, err = run_cli(
        "--model", "altclip", "--model-cache-dir", tmp_path / "hub", "--dataset", bilingual_dir
    )
    assert_clean_error(code, err, "BAAI/AltCLIP", str(tmp_path / "hub"), "--model transformers:/path/to")


def test_a_cn_clip_checkpoint_converted_to_transformers_predicts_the_same(
    tiny_model, bilingual_dir, tmp_path
):
    """The tiny cn_clip model through both providers: cn_clip's, and transformers' chinese_clip after
    converting its weights with our own key mapping. The text towers agree to float precision; the
    image inputs differ slightly (cn_clip's torchvision Resize on PIL vs transformers' PIL image
    processor; measured: cosines within 2e-4), and every prediction is the same."""
    from cnclip_eval.models.arch import load_arch_config

    from hf_tiny import convert_cnclip_checkpoint

    folder = convert_cnclip_checkpoint(tiny_model, load_arch_config(tiny_model.arch), tmp_path / "converted")
    converted = load_model(ModelRequest(f"transformers:{folder}"))
    prompts = ["红色的圆形的照片", "一张蓝色的方块的图片", "a photo of a dog.", "黑白格子" * 3]
    text_ours, text_theirs = (TextEncoder(m).encode(prompts) for m in (tiny_model, converted))
    assert torch.max(torch.abs(text_ours - text_theirs)).item() < 1e-5
    mine, labels = ours(tiny_model, bilingual_dir, tmp_path / "a")
    theirs, their_labels = ours(converted, bilingual_dir, tmp_path / "b")
    np.testing.assert_array_equal(labels, their_labels)
    cosines_mine, cosines_theirs = mine / tiny_model.logit_scale, theirs / converted.logit_scale
    assert torch.max(torch.abs(cosines_mine - cosines_theirs)).item() < 1e-3
    assert torch.equal(mine.argmax(1), theirs.argmax(1))


def test_an_english_only_model_is_evaluated_and_labelled_with_english_names(
    run_cli, bilingual_dir, tmp_path, capsys
):
    """CLIP reads English: it gets the English names and templates, its result records
    texts_language "en", and the leaderboard row says "(English names)"."""
    folder = make_checkpoint("clip", tmp_path / "clip")
    capsys.readouterr()
    out = tmp_path / "results"
    code, _, err = run_cli(
        "--model", f"transformers:{folder},tiny", "--dataset", bilingual_dir,
        "--classnames-en", bilingual_dir / "classnames_en.txt", "--templates-en", bilingual_dir / "templates_en.txt",
        "--output-dir", out, "--num-workers", "0", "--no-progress",
    )  # fmt: skip
    assert code == 0, err
    records = {
        r["provenance"]["model"]["family"]: r
        for r in map(json.loads, map(Path.read_text, out.glob("*.json")))
    }
    assert records["transformers"]["provenance"]["texts_language"] == "en"
    assert "classnames=English class names" in " ".join(
        records["transformers"]["provenance"]["protocol"]["differs"]
    )
    assert records["cn_clip"]["provenance"]["texts_language"] == "zh"
    assert records["transformers"]["provenance"]["image_preprocessing"]["id"].startswith(
        "transformers.CLIPImage"
    )
    code, board, err = run_cli("leaderboard", out)
    assert code == 0, err
    assert f"transformers:{folder} (English names)" in board
    assert "| tiny " in board and "tiny (English names)" not in board


@pytest.mark.parametrize("kind", ["altclip", "siglip"])  # a bilingual one; one English-only and padded
def test_export_of_a_transformers_model_gives_our_accuracy_in_clip_benchmark(
    kind, run_cli, bilingual_dir, tmp_path, capsys
):
    """``cnclip-eval export`` for another family: CLIP_benchmark, given the exported prompts (it
    encodes them itself through our plugin) or the exported classifier, scores as we do."""
    from test_clip_benchmark_plugin import assert_same_metrics, our_metrics
    from test_export import exported_commands, run_exported

    folder = make_checkpoint(kind, tmp_path / kind)
    capsys.readouterr()
    args = ["--dataset", bilingual_dir, "--model", f"transformers:{folder}"]
    args += [
        "--classnames-en",
        bilingual_dir / "classnames_en.txt",
        "--templates-en",
        bilingual_dir / "templates_en.txt",
    ]
    code, stdout, stderr = run_cli("export", *args, "--method", "baseline", "--out", tmp_path / "cb")
    assert code == 0, stderr
    from_prompts, from_classifier = exported_commands(stdout)
    ours = our_metrics(run_cli, tmp_path, *args)
    assert_same_metrics(run_exported(from_prompts), ours)
    assert_same_metrics(run_exported(from_classifier), ours)
