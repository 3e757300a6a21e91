"""Turning raw LLM answers into descriptions: one line each, no numbering, quotes or duplicates.

Models asked for one sentence still answer "1. ...\\n2. ...", wrap the sentence in quotes, or
(reasoning models served by Ollama / vLLM) prepend a ``<think>`` block. Each line of an answer
becomes a candidate description; the rules are deliberately conservative (nothing is rewritten,
only wrapped noise removed) so that a description always is the model's own words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_THINK = re.compile(r"<think>.*?(</think>|$)", re.DOTALL | re.IGNORECASE)
# "1." "2)" "3、" "(4)" "（5）" "- " "* " "• " "·" at the start of a line
_NUMBERING = re.compile(r"^\s*(?:\d{1,3}[.)、:：](?!\d)|[（(]\d{1,3}[)）]|[-*•·●▪](?=\s))\s*")
_QUOTES = {'"': '"', "'": "'", "“": "”", "‘": "’", "「": "」", "『": "』", "«": "»", "《": "》"}
_SPACES = re.compile(r"\s+")


def dedupe_key(text: str) -> str:
    """Two descriptions are the same when they differ only in case and whitespace."""
    return " ".join(text.split()).casefold()


def clean_line(line: str) -> str:
    """One description from one line: numbering, bullets and wrapping quotes removed."""
    line = _NUMBERING.sub("", line.strip()).strip()
    line = line.strip("*_`").strip()  # markdown emphasis around the whole line
    while len(line) >= 2 and _QUOTES.get(line[0]) == line[-1]:
        line = line[1:-1].strip()
    return _SPACES.sub(" ", line)


def dedupe(texts: Iterable[str]) -> list[str]:
    """``texts`` without repeats (by :func:`dedupe_key`), first occurrence kept, order kept."""
    seen: set[str] = set()
    unique = []
    for text in texts:
        key = dedupe_key(text)
        if key not in seen:
            seen.add(key)
            unique.append(text)
    return unique


def clean_answers(answers: Iterable[str | None]) -> list[str]:
    """All descriptions in ``answers``, in order: stripped, unnumbered, unquoted, deduplicated, non-empty."""
    lines = (line for answer in answers for line in _THINK.sub("", answer or "").splitlines())
    return dedupe(d for d in map(clean_line, lines) if d)
