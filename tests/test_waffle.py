"""The ``waffle`` control (WaffleCLIP) and ``llm``'s DCLIP form: random descriptors after the class name."""

from __future__ import annotations

import json

import pytest
import torch
from test_llm_method import FakeEncoder, write_pack

from cnclip_eval.errors import UserError
from cnclip_eval.methods import METHODS, DatasetTexts, MethodContext
from cnclip_eval.methods.base import resolve_options
from cnclip_eval.methods.waffle import NAMED_DESCRIPTOR_FORM, random_descriptors, word_pool

from conftest import CLASSNAMES_EN, CLASSNAMES_ZH


def build(method_name: str, options: dict, encoder=None, dataset="shapes"):
    method = METHODS.get(method_name)()
    texts = DatasetTexts(dataset, CLASSNAMES_ZH, CLASSNAMES_EN, ["{c}的照片"], ["a photo of a {c}."])
    encoder = encoder or FakeEncoder()
    ctx = MethodContext(encoder, texts, "m", None, resolve_options(method, options))
    return method.build(ctx), encoder


def test_the_word_pool_is_common_chinese_words():
    pool = word_pool()
    assert len(pool) > 5000 and len(set(pool)) == len(pool)
    assert "苹果" in pool and all(2 <= len(w) <= 4 for w in pool)


def test_one_seed_is_deterministic_and_seeds_differ():
    assert random_descriptors(10, seed=1) == random_descriptors(10, seed=1)
    assert random_descriptors(10, seed=1) != random_descriptors(10, seed=2)


def test_descriptors_come_in_word_and_shuffled_character_pairs():
    descriptors = random_descriptors(6, seed=3)
    pool = set(word_pool())
    for words, characters in zip(descriptors[::2], descriptors[1::2]):
        assert sorted(words) == sorted(characters) and len(words) >= 4
        assert any(words.startswith(w) and words[len(w) :] in pool for w in pool if len(w) <= len(words))


def test_the_character_descriptor_is_never_the_words_again():
    """Seed 1 once shuffled 紧急理智 back into 紧急理智: a random-character descriptor must not be words."""
    for seed in range(1, 40):
        descriptors = random_descriptors(10, seed=seed)
        assert all(w != c for w, c in zip(descriptors[::2], descriptors[1::2])), seed


def test_every_class_gets_the_same_descriptors_after_its_name(tmp_path):
    classifier, encoder = build("waffle", {"count": 4, "seed": 7})
    assert classifier.weights.shape == (len(CLASSNAMES_ZH), 16)
    assert torch.allclose(classifier.weights.norm(dim=1), torch.ones(len(CLASSNAMES_ZH)))
    descriptors = random_descriptors(4, seed=7)
    assert classifier.provenance["descriptors"] == descriptors
    assert encoder.seen == [
        NAMED_DESCRIPTOR_FORM.format(c=c, d=d) for c in CLASSNAMES_ZH for d in descriptors
    ]


def test_the_count_matches_the_llm_pack(tmp_path):
    pack = write_pack(tmp_path / "p.json")  # three descriptions per class
    classifier, encoder = build("waffle", {"pack": str(pack)})
    assert classifier.provenance["n_descriptors"] == 3 and len(encoder.seen) == 3 * len(CLASSNAMES_ZH)


def test_without_a_pack_the_count_must_be_given():
    with pytest.raises(UserError, match="--waffle-count"):
        build("waffle", {}, dataset="no-such-dataset")


def test_dclip_mode_keeps_the_name_before_each_description(tmp_path):
    pack = write_pack(tmp_path / "p.json")
    _, encoder = build("llm", {"pack": str(pack), "mode": "name+descriptions"})
    assert encoder.seen[0] == f"{CLASSNAMES_ZH[0]}：{CLASSNAMES_ZH[0]}的外观特征"
    assert len(encoder.seen) == 3 * len(CLASSNAMES_ZH)


def test_waffle_and_dclip_run_on_the_demo(run_cli, tmp_path):
    code, _, err = run_cli(
        "--model", "demo", "--dataset", "demo-shapes", "--method", "waffle,llm", "--llm-mode", "name+descriptions",
        "--waffle-seed", "2", "--output-dir", tmp_path, "--num-workers", "0",
    )  # fmt: skip
    assert code == 0, err
    results = {
        json.loads(p.read_text())["method"]: json.loads(p.read_text()) for p in tmp_path.glob("*.json")
    }
    assert results["waffle"]["provenance"]["method"]["details"]["n_descriptors"] == 5  # the demo pack's count
    assert results["waffle"]["metrics"]["top1"] > 0.5 and results["llm"]["metrics"]["top1"] > 0.5
