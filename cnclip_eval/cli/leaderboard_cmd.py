"""Build a leaderboard from result files: datasets as columns, (model, method) as rows."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cnclip_eval.report.leaderboard import DEFAULT_BASELINE_METHOD
from cnclip_eval.report.stats import DEFAULT_RESAMPLES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", nargs="+", type=Path, help="result JSON files or folders of them")
    parser.add_argument("--format", default="md", help="md (default), latex, csv, html or json")
    parser.add_argument("--out", type=Path, help="write here instead of printing")
    parser.add_argument("--plot", type=Path, help="also write a PNG chart of the deltas")
    parser.add_argument(
        "--baseline-method",
        default=DEFAULT_BASELINE_METHOD,
        help=f"method (run name) the deltas are taken against (default {DEFAULT_BASELINE_METHOD})",
    )
    parser.add_argument(
        "--no-confidence", action="store_true", help="skip bootstrap intervals and paired tests"
    )
    parser.add_argument("--resamples", type=int, default=DEFAULT_RESAMPLES, help="bootstrap resamples")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed")


def build(args: argparse.Namespace):
    from cnclip_eval.report.collect import load_entries
    from cnclip_eval.report.leaderboard import build_leaderboard

    return build_leaderboard(
        load_entries(args.results),
        baseline_method=args.baseline_method,
        confidence=not args.no_confidence,
        resamples=args.resamples,
        seed=args.seed,
    )


def run(args: argparse.Namespace) -> int:
    from cnclip_eval.errors import UserError
    from cnclip_eval.fileio import atomic_write_text
    from cnclip_eval.report.render import FORMATS

    renderer = FORMATS.get(args.format)  # an unknown format fails before any file is read
    if args.resamples < 1:
        raise UserError(f"--resamples {args.resamples}: expected at least 1")
    board = build(args)
    text = renderer(board)
    if args.out:
        atomic_write_text(args.out, text)
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    if args.plot:
        from cnclip_eval.report.plot import plot_deltas

        print(f"wrote {plot_deltas(board, args.plot)}", file=sys.stderr)
    return 0
