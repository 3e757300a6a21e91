"""Text encoding: exact tokenization, trimmed padding, truncation counts, classifier maths."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from cnclip_eval.text import TextEncoder, classifier_from_prompts, tokenize_ids

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

    encoder = TextEncoder(tiny_model.module, "cpu", batch_size=2)
    ours = encoder.encode(PROMPTS)
    with torch.no_grad():
        full = F.normalize(tiny_model.module.encode_text(tokenize(PROMPTS)), dim=-1)
    assert torch.max(torch.abs(ours - full)).item() < 1e-5
    assert encoder.truncated == 0 and encoder.encoded == len(PROMPTS)


def test_truncation_is_counted(tiny_model):
    encoder = TextEncoder(tiny_model.module, "cpu")
    encoder.encode(["短", "很长" * 60, "也很长" * 40])
    assert encoder.truncated == 2


def test_classifier_is_mean_of_normalized_prompts(tiny_model):
    encoder = TextEncoder(tiny_model.module, "cpu", batch_size=3)
    prompts = [PROMPTS[:2], PROMPTS[2:3], PROMPTS[3:]]
    classifier = classifier_from_prompts(encoder, prompts)
    assert classifier.shape[0] == 3
    assert torch.allclose(classifier.norm(dim=-1), torch.ones(3), atol=1e-6)
    expected = F.normalize(encoder.encode(PROMPTS[3:]).mean(0), dim=-1)
    assert torch.allclose(classifier[2], expected, atol=1e-6)
