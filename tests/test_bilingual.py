"""bilingual: w=1 is the Chinese classifier, w=0 the English one, rows are unit-norm."""

from __future__ import annotations

import pytest
import torch

from cnclip_eval.errors import UserError
from cnclip_eval.methods import DatasetTexts, MethodContext
from cnclip_eval.methods.base import resolve_options
from cnclip_eval.methods.bilingual import BilingualEnsemble
from cnclip_eval.text import TextEncoder, classifier_from_prompts

from conftest import CLASSNAMES_EN, CLASSNAMES_ZH, TEMPLATES_ZH

TEMPLATES_EN = ["a photo of a {c}.", "a picture of the {c}."]


def build(tiny_model, classnames_en=CLASSNAMES_EN, **options):
    method = BilingualEnsemble()
    texts = DatasetTexts("shapes", CLASSNAMES_ZH, classnames_en, TEMPLATES_ZH, TEMPLATES_EN)
    encoder = TextEncoder(tiny_model, "cpu")
    ctx = MethodContext(encoder, texts, "tiny", None, resolve_options(method, options))
    return method.build(ctx), encoder


def side(encoder, names, templates):
    return classifier_from_prompts(encoder, [[t.format(c=n) for t in templates] for n in names])


def test_weight_one_is_chinese_only_and_zero_is_english_only(tiny_model):
    zh_only, encoder = build(tiny_model, weight="1")
    en_only, _ = build(tiny_model, weight="0")
    assert torch.allclose(zh_only.weights, side(encoder, CLASSNAMES_ZH, TEMPLATES_ZH), atol=1e-6)
    assert torch.allclose(en_only.weights, side(encoder, CLASSNAMES_EN, TEMPLATES_EN), atol=1e-6)


def test_rows_are_unit_norm_and_between_the_sides(tiny_model):
    mixed, encoder = build(tiny_model, weight="0.3")
    assert torch.allclose(mixed.weights.norm(dim=-1), torch.ones(len(CLASSNAMES_ZH)), atol=1e-6)
    zh, en = side(encoder, CLASSNAMES_ZH, TEMPLATES_ZH), side(encoder, CLASSNAMES_EN, TEMPLATES_EN)
    expected = torch.nn.functional.normalize(0.3 * zh + 0.7 * en, dim=-1)
    assert torch.allclose(mixed.weights, expected, atol=1e-6)
    assert mixed.provenance["weight"] == 0.3 and mixed.provenance["en"]["prompts"] == 10


def test_needs_english_names(tiny_model):
    with pytest.raises(UserError, match="English class names"):
        build(tiny_model, classnames_en=None)


def test_weight_outside_the_unit_interval_is_refused():
    with pytest.raises(UserError, match="weight"):
        resolve_options(BilingualEnsemble(), {"weight": "1.5"})


def test_end_to_end(run_cli, shard_dir, tmp_path):
    names = tmp_path / "en.txt"
    names.write_text("\n".join(CLASSNAMES_EN) + "\n", encoding="utf-8")
    code, out, err = run_cli(
        "--dataset",
        shard_dir,
        "--model",
        "tiny",
        "--method",
        "baseline,bilingual",
        "--classnames-en",
        names,
        "--bilingual-weight",
        "0.7",
        "--output-dir",
        tmp_path / "r",
    )
    assert code == 0, err
    assert "bilingual" in out
