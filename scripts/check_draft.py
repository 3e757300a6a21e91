"""Check a description draft (``cnclip_eval/prompts/drafts/*.json``) before it becomes a pack.

The same rules as ``cnclip-eval prompts check --strict`` for complete packs, but a draft may
cover only part of a dataset (``--partial``) and may use ELEVATER's dataset keys. Prints every
problem and exits 1 if there is any.

    python3 scripts/check_draft.py cnclip_eval/prompts/drafts/dtd.zh.json
"""

from __future__ import annotations

import json
import re
import sys
from collections import defaultdict
from pathlib import Path

CLASSNAMES = Path(__file__).resolve().parent.parent / "cnclip_eval" / "data" / "classnames"
LATIN = re.compile(r"[A-Za-z]")


def classnames(dataset: str, language: str) -> list[str]:
    candidates = [CLASSNAMES / f"{dataset}.{language}.txt"]
    if dataset == "imagenet1k" and language == "zh":
        candidates.insert(0, CLASSNAMES / "imagenet1k.zh.txt")
    for path in candidates:
        if path.is_file():
            return path.read_text(encoding="utf-8").splitlines()
    raise SystemExit(f"no class-name file for {dataset} ({language}) under {CLASSNAMES}")


def problems(draft: dict, partial: bool) -> list[str]:
    from cnclip_eval.prompts.quality import other_classes_named

    language = draft["language"]
    names = classnames(draft["dataset"], language)
    name_set = set(names)
    found: list[str] = []
    owners: dict[str, set[int]] = defaultdict(set)
    seen = set()
    for c in draft["classes"]:
        i, name, descriptions = c["index"], c["name"], c["descriptions"]
        seen.add(i)
        if not 0 <= i < len(names) or names[i] != name:
            expected = names[i] if 0 <= i < len(names) else "(out of range)"
            found.append(f"class {i}: name {name!r} but the class-name file says {expected!r}")
        if len(descriptions) != 5:
            found.append(f"class {i} {name}: {len(descriptions)} descriptions, expected 5")
        for d in descriptions:
            if language == "zh":
                if name not in d:
                    found.append(f"class {i} {name}: does not contain the name: {d}")
                if len(d) > 40:
                    found.append(f"class {i} {name}: {len(d)} > 40 characters: {d}")
                if LATIN.search(d.replace(name, "")):
                    found.append(f"class {i} {name}: Latin letters outside the name: {d}")
            elif " ".join(name.lower().split()) not in " ".join(d.lower().split()):
                found.append(f"class {i} {name}: does not contain the name: {d}")
            others = other_classes_named(d, name, name_set, language)
            if others:
                found.append(f"class {i} {name}: names another class ({', '.join(others)}): {d}")
            owners[" ".join(d.lower().split())].add(i)
    for text, classes in owners.items():
        if len(classes) > 1:
            found.append(f"classes {sorted(classes)} share a description: {text}")
    for c in draft["classes"]:
        if len(set(c["descriptions"])) != len(c["descriptions"]):
            found.append(f"class {c['index']}: repeated description")
    if not partial:
        missing = sorted(set(range(len(names))) - seen)
        if missing:
            found.append(f"{len(missing)} classes missing: {missing[:20]}")
    return found


def main(argv: list[str]) -> int:
    partial = "--partial" in argv
    status = 0
    for argument in (a for a in argv if a != "--partial"):
        draft = json.loads(Path(argument).read_text(encoding="utf-8"))
        found = problems(draft, partial)
        print(f"{argument}: {len(draft['classes'])} classes, {len(found)} problems")
        for line in found:
            print("  " + line)
        status |= bool(found)
    return status


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
