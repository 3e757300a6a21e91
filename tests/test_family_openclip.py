"""``--model open_clip:...``: our logits equal open_clip's own pipeline (``create_model_and_transforms``'
transform, ``get_tokenizer``, ``encode_image`` / ``encode_text``) on tiny random models of both text
tower kinds, batching and pad trimming change nothing, and the family fails offline in one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cnclip_eval.models import ModelRequest, load_model
from cnclip_eval.tasks.classification import dataset_texts
from cnclip_eval.text import TextEncoder

from conftest import CLASSNAMES_EN, assert_clean_error, make_dataset
from hf_tiny import EN_TEMPLATES
from openclip_tiny import KINDS, register
from test_hf_family import ours, resolve, shard_images

open_clip = pytest.importorskip("open_clip")


@pytest.fixture(scope="module", params=KINDS)
def arch(request, tmp_path_factory) -> str:
    return register(request.param, tmp_path_factory.mktemp(request.param))


@pytest.fixture(scope="module")
def bilingual_dir(tmp_path_factory) -> Path:
    root = make_dataset(tmp_path_factory.mktemp("wds_oc"), n=23, num_shards=2, seed=5)
    (root / "classnames_en.txt").write_text("\n".join(CLASSNAMES_EN) + "\n", encoding="utf-8")
    (root / "templates_en.txt").write_text("\n".join(EN_TEMPLATES) + "\n", encoding="utf-8")
    return root


def reference(arch: str, root: Path, names: list[str], templates: list[str], seed: int = 0):
    """open_clip's own: the model and transform from create_model_and_transforms (same seed), its
    tokenizer padding every prompt to the context, encode_image / encode_text, the model's scale."""
    torch.manual_seed(seed)
    model, _, preprocess = open_clip.create_model_and_transforms(arch, pretrained_text=False)
    tokenizer = open_clip.get_tokenizer(arch)
    model.eval()
    images, labels = shard_images(root)
    with torch.no_grad():
        pixels = torch.stack([preprocess(image) for image in images])
        image_features = F.normalize(model.encode_image(pixels), dim=-1)
        rows = []
        for name in names:
            tokens = tokenizer([t.format(c=name) for t in templates])
            embedding = F.normalize(model.encode_text(tokens), dim=-1).mean(0)
            rows.append(embedding / embedding.norm())
        scale = model.logit_scale.exp()
    return scale * image_features @ torch.stack(rows).T, labels


def test_logits_equal_the_open_clip_pipeline(arch, bilingual_dir, tmp_path):
    model = load_model(ModelRequest(f"open_clip:{arch}"))
    logits, labels = ours(model, bilingual_dir, tmp_path)
    texts = dataset_texts(resolve(bilingual_dir), None, model.languages)
    theirs, their_labels = reference(arch, bilingual_dir, texts.classnames, texts.templates)
    np.testing.assert_array_equal(labels, their_labels)
    assert torch.max(torch.abs(logits - theirs)).item() <= 1e-4
    assert torch.equal(logits.argmax(1), theirs.argmax(1))


def test_languages_follow_the_text_tower(arch, bilingual_dir):
    """CLIP's BPE tower reads English (English names and templates); the XLM-R tower reads Chinese."""
    model = load_model(ModelRequest(f"open_clip:{arch}"))
    texts = dataset_texts(resolve(bilingual_dir), None, model.languages)
    english = arch == "tiny-oc-clip"
    assert (model.languages == ("en",)) == english
    assert (texts.classnames == CLASSNAMES_EN) == english


def test_batching_and_pad_trimming_change_nothing(arch):
    """Length-sorted batches (cut to the longest prompt where the tower's mask allows it) equal
    open_clip's encode_text on each prompt padded to the context, as its tokenizer gives it."""
    model = load_model(ModelRequest(f"open_clip:{arch}"))
    prompts = [
        "红色的圆形的照片",
        "a photo of a dog!",
        "猫",
        "一张 blue square 的图片",
        "black and white checks",
    ]
    batched = TextEncoder(model, "cpu", batch_size=2).encode(prompts)
    with torch.no_grad():
        theirs = F.normalize(model.module.encode_text(open_clip.get_tokenizer(arch)(prompts)), dim=-1)
    assert torch.max(torch.abs(batched - theirs)).item() < 1e-5
    assert model.tokenizer.pad_to_context == (arch == "tiny-oc-clip")


def test_prompts_cut_at_the_context_are_counted(arch):
    model = load_model(ModelRequest(f"open_clip:{arch}"))
    _, cut = model.tokenizer(["猫", "红色 " * 40])
    assert cut == [False, True]


@pytest.mark.parametrize("kind", KINDS)
def test_coop_text_path_without_context_equals_encode_text(kind, tmp_path):
    """Both text towers (XLM-R through inputs_embeds, open_clip's own transformer from its token
    embeddings): the CoOp path with an empty context gives encode_text's features."""
    from cnclip_eval.methods.coop.text_path import encode_with_context, name_token_ids

    model = load_model(ModelRequest(f"open_clip:{register(kind, tmp_path)}"))
    names = ["红色的圆形", "蓝色的方块", "black and white checks"]
    hidden = model.capabilities["text_input_embeddings"].hidden_size
    with torch.no_grad():
        ours_ = encode_with_context(model, torch.zeros(0, hidden), name_token_ids(model, names))
        theirs = model.module.encode_text(open_clip.get_tokenizer(kind)(names))
    assert torch.max(torch.abs(ours_ - theirs)).item() < 1e-5


def test_unknown_arch_and_tag_are_one_line(run_cli, bilingual_dir, tmp_path):
    code, _, err = run_cli("--model", "open_clip:no-such-arch", "--dataset", bilingual_dir)
    assert_clean_error(code, err, "no-such-arch", "open_clip.list_models()")
    code, _, err = run_cli("--model", "open_clip:ViT-B-32:no_such_tag", "--dataset", bilingual_dir)
    assert_clean_error(code, err, "no_such_tag", "laion2b_s34b_b79k")


def test_offline_weights_are_one_line_naming_where_it_tried(run_cli, bilingual_dir, tmp_path, monkeypatch):
    from hf_tiny import hub_offline

    hub_offline(monkeypatch)
    code, _, err = run_cli(
        "--model", "xlm-roberta-base-ViT-B-32", "--model-cache-dir", tmp_path / "hub", "--dataset", bilingual_dir
    )  # fmt: skip
    assert_clean_error(
        code, err, "xlm-roberta-base-ViT-B-32:laion5b_s13b_b90k", str(tmp_path / "hub"), "--model open_clip:"
    )


def test_qa_clip_loads_its_cn_clip_format_checkpoint_from_the_hub_cache(tiny_model, tmp_path, monkeypatch):
    """QA-CLIP's registered names read their file from the Hugging Face cache layout (as
    hf_hub_download leaves it) through cn_clip's loader; offline without it, one line naming the repo."""
    from cnclip_eval.errors import DownloadError
    from cnclip_eval.models import qaclip

    from hf_tiny import hub_offline

    hub_offline(monkeypatch)
    with pytest.raises(DownloadError, match="QA-CLIP-base.pt from Hugging Face TencentARC/QA-CLIP"):
        load_model(ModelRequest("qa-clip-ViT-B-16", cache_dir=tmp_path))
    snapshot = tmp_path / "models--TencentARC--QA-CLIP" / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    (tmp_path / "models--TencentARC--QA-CLIP" / "refs").mkdir()
    (tmp_path / "models--TencentARC--QA-CLIP" / "refs" / "main").write_text("0" * 40)
    torch.save({"state_dict": tiny_model.module.state_dict()}, snapshot / "QA-CLIP-base.pt")
    monkeypatch.setitem(qaclip.CHECKPOINTS, "qa-clip-ViT-B-16", ("QA-CLIP-base.pt", tiny_model.arch))
    loaded = load_model(ModelRequest("qa-clip-ViT-B-16", cache_dir=tmp_path))
    assert loaded.family == "cn_clip" and loaded.source == "Hugging Face TencentARC/QA-CLIP/QA-CLIP-base.pt"
    prompts = ["红色的圆形的照片", "一张蓝色的方块的图片"]
    assert torch.equal(TextEncoder(loaded).encode(prompts), TextEncoder(tiny_model).encode(prompts))


@pytest.mark.parametrize("name", ["open_clip:", "transformers:"])
def test_a_family_prefix_without_a_model_is_one_line(run_cli, bilingual_dir, name):
    code, _, err = run_cli("--model", name, "--dataset", bilingual_dir)
    assert_clean_error(code, err, f"--model {name}", "name the model after the prefix")
