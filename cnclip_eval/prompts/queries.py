"""The questions put to the LLM, per language, and the chat messages built from them.

English follows CuPL (Pratt et al., arXiv 2209.03320, its ImageNet questions). The Chinese ones
ask the same things in natural Chinese rather than word-for-word translations ("{c}长什么样？").
Every question asks for ONE short visual description that names the class: CN-CLIP reads at most
50 word pieces, and a description that names its class keeps the label's signal in the embedding.
"""

from __future__ import annotations

QUERIES: dict[str, tuple[str, ...]] = {
    "en": (
        "Describe what a {c} looks like.",
        "How can you identify a {c}?",
        "What does a {c} look like?",
        "Describe an image from the internet of a {c}.",
        "Describe a photo of a {c}.",
        "Write a caption of an image of a {c}.",
    ),
    "zh": (
        "{c}长什么样？",
        "如何辨认{c}？",
        "描述一张{c}的照片。",
        "网上一张{c}的图片看起来是什么样的？",
        "{c}有哪些外观特征？",
        "为一张{c}的图片写一句说明。",
    ),
}

SYSTEM: dict[str, str] = {
    "en": "You write short visual descriptions of things, used to recognise them in photos.",
    "zh": "你为图像识别撰写简短的外观描述。",
}

# Appended to every question: the length limit and the rule that the answer names the class.
INSTRUCTION: dict[str, str] = {
    "en": (
        " Answer with ONE sentence of at most {max_chars} characters that names the {c} "
        "and says what it looks like. Output only that sentence."
    ),
    "zh": "请只用一句话回答，不超过{max_chars}个字，句中要提到“{c}”并描述其外观。只输出这句话。",
}


def queries_for(language: str) -> tuple[str, ...]:
    try:
        return QUERIES[language]
    except KeyError:
        raise ValueError(f"no queries for language {language!r}; known: {', '.join(QUERIES)}") from None


def build_messages(language: str, query: str, classname: str, max_chars: int) -> list[dict[str, str]]:
    """The chat messages for one (class, query): a system line, then the question and the rules."""
    question = query.format(c=classname)
    rules = INSTRUCTION[language].format(c=classname, max_chars=max_chars)
    return [
        {"role": "system", "content": SYSTEM[language]},
        {"role": "user", "content": question + rules},
    ]
