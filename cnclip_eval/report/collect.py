"""Read result files (named, or every result in a folder) into leaderboard entries."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from cnclip_eval.errors import UserError
from cnclip_eval.report.leaderboard import Entry
from cnclip_eval.results import load_predictions, load_result

log = logging.getLogger(__name__)


def result_files(paths: list[Path]) -> list[Path]:
    """Named files as they are; folders give their ``*.json`` result records (not recursively)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.glob("*.json") if _looks_like_result(p)))
        elif path.is_file():
            files.append(path)
        else:
            raise UserError(f"{path}: no such result file or folder")
    files = list(dict.fromkeys(f.resolve() for f in files))  # a file named twice counts once
    if not files:
        raise UserError(
            "no result files in " + ", ".join(map(str, paths)) + " (expected *.json written by cnclip-eval)"
        )
    return files


def _looks_like_result(path: Path) -> bool:
    """Folders also hold other JSON (a leaderboard written next to the results): parse each file
    whole (the schema marker may come last, after kilobytes of provenance) and name what is skipped."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        log.warning("%s: not a result file (unreadable JSON: %s); skipped", path, error)
        return False
    if isinstance(data, dict) and "schema_version" in data and "main_metric" in data:
        return True
    log.warning("%s: not a cnclip-eval result (no schema_version and main_metric); skipped", path)
    return False


def load_entries(paths: list[Path]) -> list[Entry]:
    entries = []
    for path in result_files(paths):
        record = load_result(path)
        entries.append(Entry(record, _predictions_loader(path, record), str(path)))
    return entries


def _predictions_loader(path: Path, record):
    def load():
        if not record.predictions:
            log.info("%s: no per-sample predictions; no interval or paired test", path)
            return None
        try:
            return load_predictions(path, record)
        except UserError as error:  # intervals are extras: the scores stand without them
            log.warning("%s", error)
            return None

    return load
