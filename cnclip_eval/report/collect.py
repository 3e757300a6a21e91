"""Read result files (named, or every result in a folder) into leaderboard entries."""

from __future__ import annotations

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
    """Folders also hold other JSON (a leaderboard written next to the results); skip it quietly."""
    try:
        head = path.read_text(encoding="utf-8")[:4096]
    except (OSError, UnicodeDecodeError):
        return False
    return '"schema_version"' in head and '"main_metric"' in head


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
