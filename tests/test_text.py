"""Text encoding: exact tokenization, trimmed padding, truncation counts, classifier maths."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from cnclip_eval.models.cnclip_text import tokenize_ids
from cnclip_eval.text import TextEncoder, classifier_from_prompts

PROMPTS = ["红色的圆形的照片", "一张蓝色的方块的图片", "猫", "a photo of a dog.", "黑白格子" * 3]


def test_tokenize_ids_equals_cn_clip():
    from cn_clip.clip import tokenize

    long_text = "一只非常非常长的描述" * 10
    ids, truncated = tokenize_ids([*PROMPTS, long_text])
    reference = tokenize([*PROMPTS, long_text])
    for row, tokens in enumerate(ids):
        assert reference[row, : len(tokens)].tolist() == tokens
        assert not reference[row, len(tokens) :].any()
    assert truncated == 1
    assert len(ids[-1]) == 52


def test_trimmed_padding_equals_full_length(tiny_model):
    from cn_clip.clip import tokenize

    encoder = TextEncoder(tiny_model, "cpu", batch_size=2)
    ours = encoder.encode(PROMPTS)
    with torch.no_grad():
        full = F.normalize(tiny_model.module.encode_text(tokenize(PROMPTS)), dim=-1)
    assert torch.max(torch.abs(ours - full)).item() < 1e-5
    assert encoder.truncated == 0 and encoder.encoded == len(PROMPTS)


def test_truncation_is_counted(tiny_model):
    encoder = TextEncoder(tiny_model, "cpu")
    encoder.encode(["短", "很长" * 60, "也很长" * 40])
    assert encoder.truncated == 2


def test_classifier_is_mean_of_normalized_prompts(tiny_model):
    encoder = TextEncoder(tiny_model, "cpu", batch_size=3)
    prompts = [PROMPTS[:2], PROMPTS[2:3], PROMPTS[3:]]
    classifier = classifier_from_prompts(encoder, prompts)
    assert classifier.shape[0] == 3
    assert torch.allclose(classifier.norm(dim=-1), torch.ones(3), atol=1e-6)
    expected = F.normalize(encoder.encode(PROMPTS[3:]).mean(0), dim=-1)
    assert torch.allclose(classifier[2], expected, atol=1e-6)


EDGE_CASES = [
    "Café naïve ÉCOLE",
    "ｆｕｌｌｗｉｄｔｈ　ＡＢＣ１２３",
    "emoji 😀 test",
    "tab\tnew\nline\r",
    "\x00ctrl\x07chars",
    "a" * 250,  # longer than a word may be: [UNK]
    "x" + "ab" * 99,  # just under the limit
    "超长" * 100,
    "don't stop—now…",
    "¿Qué? ¡Sí!",
    "ﬁ ligature Ångström İstanbul ß straße Σίσυφος",
    "e\u0301 combining \u200b zero width",
    "한국어 日本語 ﾊﾝｶｸ ⅷ ① ㈱",
    "[CLS] [SEP] [PAD] [UNK]",
    "",
    "   ",
]


def shipped_texts() -> list[str]:
    """Every template, class name and pack description the package ships."""
    import json
    from pathlib import Path

    import cnclip_eval
    from cnclip_eval.prompts.pack import PACKS_DIR
    from cnclip_eval.templates import TEMPLATE_SETS, resolve_templates

    root = Path(cnclip_eval.__file__).parent
    texts = [t for e in TEMPLATE_SETS.entries() for t in resolve_templates(e.name)]
    for path in (root / "data" / "classnames").glob("*.txt"):
        texts += path.read_text(encoding="utf-8").splitlines()
    for path in PACKS_DIR.glob("*.json"):
        for c in json.loads(path.read_text(encoding="utf-8"))["classes"].values():
            texts += [c["name"], *c["descriptions"]]
    return list(dict.fromkeys(texts))


def test_fast_word_pieces_equal_cn_clips_tokenizer():
    from cnclip_eval.models.cnclip_text import _fast_tokenizer, reference_word_piece_ids, word_piece_ids

    assert _fast_tokenizer() is not None, "tokenizers is a dependency: the fast path must be in use"
    texts = [*shipped_texts(), *EDGE_CASES]
    assert len(texts) > 20_000
    fast, reference = word_piece_ids(texts), reference_word_piece_ids(texts)
    mismatched = [t for t, a, b in zip(texts, fast, reference) if a != b]
    assert not mismatched, mismatched[:5]


def test_repeated_prompts_are_encoded_once_and_still_counted(tiny_model, monkeypatch):
    encoder = TextEncoder(tiny_model, "cpu")
    first = encoder.encode(["短", "很长" * 60])
    calls = []
    original = tiny_model.module.encode_text
    monkeypatch.setattr(
        tiny_model.module, "encode_text", lambda tokens: calls.append(len(tokens)) or original(tokens)
    )
    again = encoder.encode(["很长" * 60, "短", "新的"])
    assert calls == [1]  # only the new prompt reached the text tower
    assert torch.equal(again[:2], first.flip(0))
    assert encoder.truncated == 2 and encoder.encoded == 5  # the long prompt counts each time it is used


def test_fast_path_equals_cn_clip_on_every_code_point_it_takes():
    """Each character of FAST_SAFE_RANGES, alone and between Latin and CJK neighbours."""
    from cnclip_eval.models.cnclip_text import FAST_SAFE_RANGES, _fast_tokenizer, reference_word_piece_ids

    fast = _fast_tokenizer()
    points = [c for a, b in FAST_SAFE_RANGES for c in range(a, b + 1)]
    texts = [f"a{chr(c)}b 猫{chr(c)}咪 {chr(c)}" for c in points]
    ours = [e.ids for e in fast.encode_batch(texts, add_special_tokens=False)]
    theirs = reference_word_piece_ids(texts)
    differing = [hex(c) for c, a, b in zip(points, ours, theirs) if a != b]
    assert not differing, differing[:20]


def test_texts_outside_the_safe_ranges_take_cn_clips_path():
    from cnclip_eval.models.cnclip_text import reference_word_piece_ids, word_piece_ids

    # private use, enclosed, CJK ext. E, a word-final capital sigma (Python lower-cases it to ς)
    texts = ["猫\ue000咪", "①② 猫", "a\U0002b820b", "plain 猫", "ΟΔΟΣ", "猫ΑΣ咪", "ΑΣ-ΒΣ"]
    assert word_piece_ids(texts) == reference_word_piece_ids(texts)
