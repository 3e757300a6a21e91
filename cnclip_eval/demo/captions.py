"""Caption and prompt templates for the demo model, in Chinese and English.

Training captions are a template filled with the class name, sometimes followed by a remark that
holds for every class ("，背景很干净"). The remarks teach the text tower to look for the colour and
form words inside longer text, which is what class descriptions (the ``llm`` method) give it.

The evaluation sets ``demo-zh`` and ``demo-en`` share no template with training, so the reported
accuracy measures images *and* phrasings the model has not seen. A test checks that.
"""

from __future__ import annotations

import torch

TRAIN_TEMPLATES_ZH = (
    "{c}",
    "一个{c}",
    "{c}的图片",
    "一张{c}的图片",
    "这是一个{c}",
    "图中有一个{c}",
    "画着{c}的图",
    "一幅{c}的画",
    "{c}的照片",
    "一张有{c}的照片",
    "一个简单的{c}",
    "{c}的示意图",
    "图片里是{c}",
    "看起来像{c}",
    "模糊的{c}图片",
    "{c}的小图",
    "这张图画的是{c}",
    "{c}的插图",
    "低分辨率的{c}图片",
    "我看到了一个{c}",
    "一张关于{c}的图",
    "这是{c}",
)
TRAIN_TEMPLATES_EN = (
    "{c}",
    "a {c}",
    "a picture of a {c}",
    "a photo of a {c}",
    "an image of a {c}",
    "a drawing of a {c}",
    "this is a {c}",
    "a simple {c}",
    "there is a {c} in the picture",
    "a blurry image of a {c}",
    "a low resolution picture of a {c}",
    "an illustration of a {c}",
    "a small image of {c}",
    "the {c}",
    "a sketch of the {c}",
    "a picture showing {c}",
)
REMARKS_ZH = (
    "，背景很干净",
    "，画得很简单",
    "，图片有点模糊",
    "，看得很清楚",
    "，颜色很鲜艳",
    "，在图片中间附近",
)
REMARKS_EN = (", on a plain background", ", a simple drawing", ", slightly blurry", ", clearly visible")
REMARK_PROBABILITY = 0.3
ENGLISH_PROBABILITY = 0.4  # Chinese stays the main language, English must still mean something

# evaluation templates: none of them occurs in training
EVAL_TEMPLATES_ZH = (
    "一张{c}的图像",
    "图上画了一个{c}",
    "{c}的简笔画",
    "这幅图里有{c}",
    "一个{c}的图形",
    "{c}的低分辨率照片",
    "一张画有{c}的卡片",
    "{c}的特写",
)
EVAL_TEMPLATES_EN = (
    "a photo of the {c}.",
    "an image showing a {c}.",
    "a rendering of a {c}.",
    "a close-up of the {c}.",
    "a low resolution photo of a {c}.",
    "a card with a {c} on it.",
)


def templates_zh() -> list[str]:
    """The ``demo-zh`` template set (a ``TEMPLATE_SETS`` entry)."""
    return list(EVAL_TEMPLATES_ZH)


def templates_en() -> list[str]:
    """The ``demo-en`` template set (a ``TEMPLATE_SETS`` entry)."""
    return list(EVAL_TEMPLATES_EN)


def sample_caption(name_zh: str, name_en: str, generator: torch.Generator) -> str:
    """One training caption for a class: language, template and remark drawn from ``generator``."""
    language, template, remark, which = torch.rand(4, generator=generator).tolist()
    if language < ENGLISH_PROBABILITY:
        name, templates, remarks = name_en, TRAIN_TEMPLATES_EN, REMARKS_EN
    else:
        name, templates, remarks = name_zh, TRAIN_TEMPLATES_ZH, REMARKS_ZH
    caption = templates[int(template * len(templates))].format(c=name)
    if remark < REMARK_PROBABILITY:
        caption += remarks[int(which * len(remarks))]
    return caption
