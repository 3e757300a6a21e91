"""The stricter checks a shipped pack must pass (``prompts check --strict``), beyond usability.

A good description names its class as the catalog spells it (so the label's signal stays in the
embedding), is short, is written in the pack's language, and belongs to one class only: a text
shared by two classes pulls their classifier rows together, and so does a text that names another
class ("比737-500长", "旁边配一球冰淇淋"): the other name's tokens land in this class's embedding.
Say what tells the class apart in its own terms instead.
"""

from __future__ import annotations

import re
from collections import defaultdict

from cnclip_eval.prompts.cleanup import dedupe_key
from cnclip_eval.prompts.pack import PromptPack

LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
LATIN_LETTER = re.compile(r"[A-Za-z]")


def not_chinese(description: str, classname: str) -> bool:
    """No Chinese character, or more Latin letters than Chinese ones, once the class's own name
    (which may be Latin: "iPod") is left out: an English answer in a Chinese pack."""
    text = description.replace(classname, "")
    cjk = len(CJK.findall(text))
    return cjk == 0 or len(LATIN_LETTER.findall(text)) > cjk


def wrong_language(language: str, classes) -> list[tuple]:
    """(class, its descriptions not in the pack's language), for Chinese packs."""
    if language != "zh":
        return []
    wrong = [(c, [d for d in c.descriptions if not_chinese(d, c.name)]) for c in classes]
    return [(c, texts) for c, texts in wrong if texts]


def shared_across_classes(pack: PromptPack) -> dict[int, list[str]]:
    """Descriptions that two classes of other names both hold (classes of one name share theirs by
    design, see ``generate``): such a text pulls two classifier rows together."""
    owners: dict[str, set[str]] = defaultdict(set)
    for c in pack.classes:
        for d in c.descriptions:
            owners[dedupe_key(d)].add(c.name)
    shared = {c.index: [d for d in c.descriptions if len(owners[dedupe_key(d)]) > 1] for c in pack.classes}
    return {index: texts for index, texts in shared.items() if texts}


def essential_problems(pack: PromptPack) -> dict[str, dict[int, list[str]]]:
    """What every pack must pass (``prompts check`` without ``--strict``)."""
    problems = {
        "shared with another class": shared_across_classes(pack),
        "not in Chinese": {c.index: texts for c, texts in wrong_language(pack.language, pack.classes)},
    }
    return {kind: offenders for kind, offenders in problems.items() if offenders}


def quality_problems(
    pack: PromptPack, min_descriptions: int = 5, max_chars: int = 40
) -> dict[str, dict[int, list[str]]]:
    """Problem kind -> class index -> the offending descriptions (or a one-line reason)."""
    problems: dict[str, dict[int, list[str]]] = defaultdict(dict)
    owners: dict[str, set[int]] = defaultdict(set)
    for c in pack.classes:
        if len(c.descriptions) < min_descriptions:
            problems[f"fewer than {min_descriptions} descriptions"][c.index] = [
                f"{len(c.descriptions)} descriptions"
            ]
        unnamed = [d for d in c.descriptions if not _names(d, c.name, pack.language)]
        if unnamed:
            problems["does not name the class"][c.index] = unnamed
        if pack.language == "zh":
            long = [d for d in c.descriptions if len(d) > max_chars]
            if long:
                problems[f"longer than {max_chars} characters"][c.index] = long
            latin = [d for d in c.descriptions if LATIN_WORD.search(d.replace(c.name, ""))]
            if latin:
                problems["English words in a Chinese pack"][c.index] = latin
        for d in c.descriptions:
            owners[dedupe_key(d)].add(c.index)
    names = {c.name for c in pack.classes}
    for c in pack.classes:
        naming_others = [d for d in c.descriptions if other_classes_named(d, c.name, names, pack.language)]
        if naming_others:
            problems["names another class"][c.index] = naming_others
    for c in pack.classes:
        shared = [d for d in c.descriptions if len(owners[dedupe_key(d)]) > 1]
        if shared:
            problems["shared with another class"][c.index] = shared
    return dict(problems)


def _names(description: str, name: str, language: str) -> bool:
    if language == "zh":
        return name in description
    return " ".join(name.lower().split()) in " ".join(description.lower().split())


def other_classes_named(description: str, own: str, names: set[str], language: str) -> list[str]:
    """The other class names ``description`` mentions, by the rules of :func:`quality_problems`.

    Names inside the class's own name do not count (猫 in 波斯猫); one-character Chinese names and
    English names under three letters are too common inside other words to check. English names match
    whole words, case-insensitively.
    """
    found = []
    for other in names:
        if other == own or other.lower() in own.lower():
            continue
        if language == "zh":
            if len(other) >= 2 and other in description:
                found.append(other)
        elif len(other) >= 3 and re.search(
            rf"(?<![a-z]){re.escape(other.lower())}(?![a-z])", description.lower()
        ):
            found.append(other)
    return sorted(found)
