"""The ``llm`` method: a prompt pack in, an L2-normalized (C, D) classifier out.

Most tests use a fake encoder (deterministic hash vectors) with the ``encode``/``truncated``
interface the method may rely on; one runs the real CLI end to end with the tiny model.
"""

from __future__ import annotations

import hashlib
import json
import logging

import pytest
import torch
import torch.nn.functional as F

from cnclip_eval.errors import UserError
from cnclip_eval.methods import METHODS, DatasetTexts, MethodContext
from cnclip_eval.methods.base import resolve_options
from cnclip_eval.methods.llm import LlmDescriptions
from cnclip_eval.prompts import pack as pack_module
from cnclip_eval.prompts.pack import GeneratorInfo, PackClass, make_pack, save_pack

from conftest import CLASSNAMES_EN, CLASSNAMES_ZH

DIM = 16


class FakeEncoder:
    """Text -> fixed pseudo-random unit vector; counts texts over 20 characters as truncated."""

    def __init__(self) -> None:
        self.truncated = 0
        self.seen: list[str] = []

    def encode(self, texts: list[str]) -> torch.Tensor:
        self.seen.extend(texts)
        self.truncated += sum(len(t) > 20 for t in texts)
        return F.normalize(torch.stack([vector(t) for t in texts]), dim=-1)  # (N, D)


def vector(text: str) -> torch.Tensor:
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    return torch.randn(DIM, generator=torch.Generator().manual_seed(seed))


def descriptions_for(names: list[str]) -> list[list[str]]:
    return [[f"{n}的外观特征", f"一张{n}的照片里能看到它的形状", f"{n}很好认"] for n in names]


def write_pack(path, names=CLASSNAMES_ZH, language="zh", dataset="shapes", descriptions=None):
    generator = GeneratorInfo("llm", "openai-compatible", "2025-01-01", "test", llm_model="fake-qwen")
    descriptions = descriptions or descriptions_for(names)
    classes = [PackClass(i, n, tuple(d)) for i, (n, d) in enumerate(zip(names, descriptions))]
    return save_pack(make_pack(dataset, language, generator, classes), path)


def context(options: dict, classnames=CLASSNAMES_ZH, classnames_en=CLASSNAMES_EN, encoder=None):
    method = LlmDescriptions()
    texts = DatasetTexts(
        "shapes", list(classnames), classnames_en, ["{c}的照片", "一张{c}的图片"], ["a photo of a {c}."]
    )
    return MethodContext(
        encoder or FakeEncoder(), texts, "fake-model", None, resolve_options(method, options)
    )


def expected_weights(prompts_per_class: list[list[str]]) -> torch.Tensor:
    rows = [
        F.normalize(torch.stack([vector(p) for p in prompts]), dim=-1).mean(0)
        for prompts in prompts_per_class
    ]
    return F.normalize(torch.stack(rows), dim=-1)  # (C, D)


def test_is_registered_with_its_options():
    method = METHODS.get("llm")()
    assert {o.name for o in method.options} == {"pack", "mode", "lang"}
    assert resolve_options(method, {}) == {"pack": None, "mode": "descriptions", "lang": "zh"}
    with pytest.raises(UserError, match="mode"):
        resolve_options(method, {"mode": "everything"})


def test_descriptions_replace_the_label(tmp_path):
    path = write_pack(tmp_path / "p.json")
    ctx = context({"pack": str(path)})
    classifier = LlmDescriptions().build(ctx)
    assert classifier.weights.shape == (5, DIM) and classifier.weights.dtype == torch.float32
    torch.testing.assert_close(classifier.weights, expected_weights(descriptions_for(CLASSNAMES_ZH)))
    provenance = classifier.provenance
    assert provenance["pack"] == str(path) and len(provenance["pack_sha256"]) == 64
    assert provenance["mode"] == "descriptions" and provenance["n_prompts"] == 15
    assert provenance["truncated_prompts"] == 0 and provenance["name_mismatches"] == 0


def test_descriptions_plus_templates_average_everything(tmp_path):
    path = write_pack(tmp_path / "p.json")
    encoder = FakeEncoder()
    encoder.truncated = 7  # counts before this method must not be attributed to it
    classifier = LlmDescriptions().build(
        context({"pack": str(path), "mode": "descriptions+templates"}, encoder=encoder)
    )
    prompts = [
        d + [f"{n}的照片", f"一张{n}的图片"] for n, d in zip(CLASSNAMES_ZH, descriptions_for(CLASSNAMES_ZH))
    ]
    torch.testing.assert_close(classifier.weights, expected_weights(prompts))
    assert classifier.provenance["n_prompts"] == 25
    long = sum(len(p) > 20 for row in prompts for p in row)
    assert classifier.provenance["truncated_prompts"] == long


def test_english_pack_with_english_templates(tmp_path):
    en_descriptions = [[f"A {n} seen from above.", f"The {n} is easy to spot."] for n in CLASSNAMES_EN]
    path = write_pack(tmp_path / "en.json", CLASSNAMES_EN, "en", descriptions=en_descriptions)
    ctx = context({"pack": str(path), "lang": "en", "mode": "descriptions+templates"})
    classifier = LlmDescriptions().build(ctx)
    prompts = [d + [f"a photo of a {n}."] for n, d in zip(CLASSNAMES_EN, en_descriptions)]
    torch.testing.assert_close(classifier.weights, expected_weights(prompts))
    with pytest.raises(UserError, match="English class names"):
        LlmDescriptions().build(context({"pack": str(path), "lang": "en", "mode": "descriptions+templates"},
                                        classnames_en=None))  # fmt: skip


def test_refuses_a_pack_that_does_not_fit(tmp_path):
    short = write_pack(tmp_path / "short.json", CLASSNAMES_ZH[:4])
    with pytest.raises(UserError, match=r"missing classes 4 \(黑白格子\)"):
        LlmDescriptions().build(context({"pack": str(short)}))
    english = write_pack(tmp_path / "en.json", CLASSNAMES_EN, "en")
    with pytest.raises(UserError, match="--llm-lang"):
        LlmDescriptions().build(context({"pack": str(english)}))


def test_chinese_spelling_mismatch_only_warns(tmp_path, caplog):
    names = ["红色圆形", *CLASSNAMES_ZH[1:]]
    path = write_pack(tmp_path / "p.json", names)
    with caplog.at_level(logging.WARNING):
        classifier = LlmDescriptions().build(context({"pack": str(path)}))
    assert "红色圆形" in caplog.text and classifier.provenance["name_mismatches"] == 1


def test_default_pack_is_the_shipped_one(tmp_path, monkeypatch):
    monkeypatch.setattr(pack_module, "PACKS_DIR", tmp_path)
    with pytest.raises(UserError, match=r"no prompt pack for dataset 'shapes'.*--llm-pack"):
        LlmDescriptions().build(context({}))
    path = write_pack(tmp_path / "shapes.zh.json")
    assert LlmDescriptions().build(context({})).provenance["pack"] == str(path)


def test_end_to_end_with_the_tiny_model(run_cli, shard_dir, tmp_path):
    pack = write_pack(tmp_path / "shapes.zh.json", dataset=shard_dir.name)
    out = tmp_path / "results"
    code, stdout, err = run_cli(
        "--dataset", shard_dir, "--model", "tiny", "--output-dir", out, "--num-workers", "0",
        "--method", "llm", "--llm-pack", pack, "--llm-mode", "descriptions+templates",
    )  # fmt: skip
    assert code == 0, err
    assert "llm" in stdout
    (result,) = out.glob("*llm*.json")
    details = json.loads(result.read_text(encoding="utf-8"))["provenance"]["method"]["details"]
    assert details["mode"] == "descriptions+templates" and details["pack"] == str(pack)
    assert details["n_descriptions"] == 15


def test_a_changed_default_pack_is_not_served_from_the_cache(run_cli, shard_dir, tmp_path, monkeypatch):
    """The shipped pack is named by no option, so its content must be part of the cache keys."""
    monkeypatch.setattr(pack_module, "PACKS_DIR", tmp_path)
    path = tmp_path / f"{shard_dir.name}.zh.json"
    argv = ["--dataset", shard_dir, "--model", "tiny", "--num-workers", "0", "--method", "llm"]
    write_pack(path, dataset=shard_dir.name)
    assert run_cli(*argv, "--output-dir", tmp_path / "a")[0] == 0
    write_pack(path, dataset=shard_dir.name, descriptions=[[f"完全不同的{n}"] for n in CLASSNAMES_ZH])
    code, _, err = run_cli(*argv, "--output-dir", tmp_path / "b")
    assert code == 0, err
    (result,) = (tmp_path / "b").glob("*llm*.json")
    provenance = json.loads(result.read_text(encoding="utf-8"))["provenance"]
    assert provenance["classifier"]["from_cache"] is False
    assert provenance["method"]["details"]["n_descriptions"] == 5
