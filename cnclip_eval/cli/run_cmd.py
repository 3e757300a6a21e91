"""Run a suite (YAML): every model x dataset x method, skipping results that exist, then the leaderboard."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("suite", type=Path, help="suite file, e.g. benchmarks/smoke.yaml")
    parser.add_argument(
        "--output-dir", type=Path, default=Path("results"), help="result files (default results/)"
    )
    parser.add_argument("--cache-dir", type=Path, help="feature/classifier cache")
    parser.add_argument("--model-cache-dir", type=Path, help="downloaded weights")
    parser.add_argument("--device", help="override the suite's device")
    parser.add_argument("--limit", type=int, help="override the suite's sample limit")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    from cnclip_eval.cli.output import print_leaderboard
    from cnclip_eval.engine import evaluate, planned_stems
    from cnclip_eval.naming import refuse_collisions
    from cnclip_eval.suite import suite_configs

    configs = suite_configs(
        args.suite,
        output_dir=args.output_dir,
        cache_dir=args.cache_dir,
        model_cache_dir=args.model_cache_dir,
        device=args.device,
        limit=args.limit,
        progress=not args.no_progress and sys.stderr.isatty(),
    )
    refuse_collisions([planned for config in configs for planned in planned_stems(config)])
    records = [record for config in configs for record in evaluate(config)]
    print_leaderboard(records, args.output_dir)
    return 0
