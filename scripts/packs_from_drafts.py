"""Turn description drafts written in a developer session into shipped prompt packs.

The drafts (``cnclip_eval/prompts/drafts/<dataset>.<lang>.json``, not shipped) were written by a
language model (Claude, in a cnclip-eval developer session) answering the same questions that
``cnclip-eval prompts generate`` asks (``cnclip_eval/prompts/queries.py``), five answers per class.
This script records that in each pack's generator header, so nobody mistakes them for GPT-3
outputs, and writes ``prompts/<dataset>.<lang>.json``. Run from the repo root:

    python scripts/packs_from_drafts.py [--date YYYY-MM-DD] cnclip_eval/prompts/drafts/*.json

A draft may come in parts (``imagenet1k.zh.part000.json``, ...): the parts of one dataset and
language are merged, and must cover every class exactly once.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import defaultdict
from pathlib import Path

from cnclip_eval import __version__
from cnclip_eval.prompts.pack import PACKS_DIR, GeneratorInfo, PackClass, make_pack, save_pack
from cnclip_eval.prompts.queries import queries_for

AUTHOR_MODEL = "claude (cnclip-eval developer session)"
FIRST_DRAFT_DATE = "2026-11-23"  # the first six datasets
# drafts use ELEVATER's keys; packs are found by the catalog's dataset name
CATALOG_NAMES = {
    "eurosat_clip": "eurosat",
    "resisc45_clip": "resisc45",
    "fgvc-aircraft-2013b-variants102": "fgvc-aircraft",
}


def read_drafts(paths: list[Path]) -> dict[tuple[str, str], list[dict]]:
    """(dataset, language) -> its classes, merged over the parts of a split draft."""
    merged: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for path in paths:
        draft = json.loads(path.read_text(encoding="utf-8"))
        merged[draft["dataset"], draft["language"]].extend(draft["classes"])
    for (dataset, language), classes in merged.items():
        classes.sort(key=lambda c: c["index"])
        indices = [c["index"] for c in classes]
        if indices != list(range(len(indices))):
            raise SystemExit(f"{dataset} ({language}): the drafts do not cover classes 0..N-1 exactly once")
    return merged


def convert(dataset: str, language: str, classes: list[dict], date: str) -> Path:
    generator = GeneratorInfo(
        kind="llm",
        endpoint="agent-session",
        date=date,
        tool=f"cnclip-eval {__version__}",
        llm_model=AUTHOR_MODEL,
        n=5,
        max_chars=40 if language == "zh" else None,
        queries=queries_for(language),
    )
    pack_classes = [PackClass(c["index"], c["name"], tuple(c["descriptions"])) for c in classes]
    notes = ["written by a language model in a developer session, following cnclip-eval's query templates"]
    name = CATALOG_NAMES.get(dataset, dataset)
    pack = make_pack(name, language, generator, pack_classes, notes)
    return save_pack(pack, PACKS_DIR / f"{name}.{language}.json")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="turn description drafts into shipped packs")
    parser.add_argument("drafts", nargs="+", type=Path)
    parser.add_argument("--date", default=FIRST_DRAFT_DATE, help="the day the drafts were written")
    args = parser.parse_args(argv)
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", args.date):
        parser.error(f"--date {args.date}: expected YYYY-MM-DD")
    for (dataset, language), classes in read_drafts(args.drafts).items():
        print(convert(dataset, language, classes, args.date))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
