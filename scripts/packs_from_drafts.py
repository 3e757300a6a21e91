"""Turn description drafts written in a developer session into shipped prompt packs.

The drafts (``cnclip_eval/prompts/drafts/<dataset>.<lang>.json``, not shipped) were written by a
language model (Claude, in a cnclip-eval developer session) answering the same questions that
``cnclip-eval prompts generate`` asks (``cnclip_eval/prompts/queries.py``), five answers per class.
This script records that in each pack's generator header, so nobody mistakes them for GPT-3
outputs, and writes ``cnclip_eval/prompts/packs/<dataset>.<lang>.json``. Run from the repo root:

    python scripts/packs_from_drafts.py cnclip_eval/prompts/drafts/*.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from cnclip_eval import __version__
from cnclip_eval.prompts.pack import PACKS_DIR, GeneratorInfo, PackClass, make_pack, save_pack
from cnclip_eval.prompts.queries import queries_for

AUTHOR_MODEL = "claude (cnclip-eval developer session)"
DRAFT_DATE = "2026-11-23"
# drafts use ELEVATER's keys; packs are found by the catalog's dataset name
CATALOG_NAMES = {"eurosat_clip": "eurosat", "resisc45_clip": "resisc45", "fgvc-aircraft-2013b-variants102": "fgvc-aircraft"}


def convert(draft_path: Path) -> Path:
    draft = json.loads(draft_path.read_text(encoding="utf-8"))
    language = draft["language"]
    generator = GeneratorInfo(
        kind="llm",
        endpoint="agent-session",
        date=DRAFT_DATE,
        tool=f"cnclip-eval {__version__}",
        llm_model=AUTHOR_MODEL,
        n=5,
        max_chars=40 if language == "zh" else None,
        queries=queries_for(language),
    )
    classes = [PackClass(c["index"], c["name"], tuple(c["descriptions"])) for c in draft["classes"]]
    notes = ["written by a language model in a developer session, following cnclip-eval's query templates"]
    dataset = CATALOG_NAMES.get(draft["dataset"], draft["dataset"])
    pack = make_pack(dataset, language, generator, classes, notes)
    return save_pack(pack, PACKS_DIR / f"{dataset}.{language}.json")


if __name__ == "__main__":
    for argument in sys.argv[1:]:
        print(convert(Path(argument)))
