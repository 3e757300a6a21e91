"""The LLM answer cache: one JSON file per (class name, query), written as each answer arrives.

A killed generation resumes where it stopped and never asks the same question twice. The key is a
hash of everything that changes an answer: model, endpoint URL, language, the exact messages sent
(class name, question, length limit), temperature and n. A file holds the raw answers so far, so
a (class, query) that needs several requests (servers that ignore ``n``) resumes mid-way too.
The API key is never part of the key or of a file.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from cnclip_eval.fileio import atomic_write_json, sha256_json
from cnclip_eval.prompts.cleanup import clean_answers

log = logging.getLogger(__name__)

CACHE_FORMAT = 1


def answer_key(inputs: dict[str, Any]) -> str:
    return sha256_json({"format": CACHE_FORMAT, **inputs})


class AnswerCache:
    """``root/ab/abcdef....json`` files: ``{"request": {...}, "answers": [...]}``."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def load(self, key: str) -> list[str]:
        """The answers cached under ``key`` so far ([] when none, or when the file is unreadable)."""
        path = self.path(key)
        if not path.is_file():
            return []
        try:
            answers = json.loads(path.read_text(encoding="utf-8"))["answers"]
        except (OSError, ValueError, KeyError, TypeError) as error:
            log.warning("ignoring unreadable cached answers %s (%s); asking again", path, error)
            return []
        if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
            log.warning("ignoring malformed cached answers %s; asking again", path)
            return []
        # empty completions cached by older versions are no answers: ask for them again
        return [answer for answer in answers if clean_answers([answer])]

    def save(self, key: str, request: dict[str, Any], answers: list[str]) -> None:
        """``request``: what was asked, for people reading the cache (must hold no secret)."""
        atomic_write_json(self.path(key), {"request": request, "answers": answers})
