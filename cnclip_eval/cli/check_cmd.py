"""Compare results with a committed baseline leaderboard; exit 1 if a main metric dropped (or,
where the baseline lists them, another of its scores: a retrieval cell's recalls).

Exit codes: 0 nothing dropped by more than the tolerance, 1 a drop (or a baseline result is
missing), 2 unusable input. Write the baseline with ``cnclip-eval leaderboard --format json``.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from tabulate import tabulate

from cnclip_eval.errors import UserError
from cnclip_eval.report.check import DEFAULT_TOLERANCE


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", nargs="+", type=Path, help="result JSON files or folders of them")
    parser.add_argument("--baseline", type=Path, required=True, help="leaderboard JSON to compare against")
    parser.add_argument(
        "--tolerance",
        type=float,
        default=DEFAULT_TOLERANCE,
        help=f"allowed drop in points (default {DEFAULT_TOLERANCE})",
    )
    parser.add_argument("--all", action="store_true", help="list unchanged results too")


def read_baseline(path: Path) -> dict:
    from cnclip_eval.fileio import read_json
    from cnclip_eval.report.check import validate_leaderboard

    return validate_leaderboard(read_json(path, "baseline leaderboard"), str(path))


def run(args: argparse.Namespace) -> int:
    from cnclip_eval.report.check import compare_boards, failed, results_board
    from cnclip_eval.report.collect import load_entries
    from cnclip_eval.report.render import points, signed_points

    if not (args.tolerance >= 0 and math.isfinite(args.tolerance)):
        raise UserError(f"--tolerance {args.tolerance}: expected a number of points >= 0")
    baseline = read_baseline(args.baseline)
    current, notes = results_board(load_entries(args.results), baseline)
    comparisons = compare_boards(baseline, current)
    shown = [c for c in comparisons if args.all or c.status(args.tolerance) != "ok"]

    def fmt(value):
        return "–" if value is None else points(value)

    rows = [
        [
            c.model,
            c.method,
            c.dataset,
            c.metric,
            fmt(c.baseline),
            fmt(c.current),
            "" if c.change is None else signed_points(c.change),
            c.current_protocol or "",
            c.status(args.tolerance),
        ]
        for c in shown
    ]
    if rows:
        headers = [
            "model",
            "method",
            "dataset",
            "metric",
            "baseline",
            "now",
            "Δ points",
            "protocol",
            "status",
        ]
        print(tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True))
    for note in notes:
        print(f"note: {note}")
    bad = failed(comparisons, args.tolerance)
    print(
        f"\n{len(comparisons)} results compared with {args.baseline} (tolerance {args.tolerance} points): "
        + (f"{len(bad)} failed" if bad else "no regression")
    )
    return 1 if bad else 0
