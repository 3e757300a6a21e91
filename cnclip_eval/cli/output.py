"""Terminal output shared by commands: the result table printed at the end of a run."""

from __future__ import annotations

from pathlib import Path

from tabulate import tabulate

from cnclip_eval.report.render import points
from cnclip_eval.results import ResultRecord


def print_results(records: list[ResultRecord], output_dir: Path | None = None) -> None:
    if not records:
        print("no results")
        return
    metric_names = list(dict.fromkeys(name for r in records for name in r.metrics))
    rows = [
        [
            r.model,
            r.dataset,
            r.run_name,
            r.n_samples,
            *(points(r.metrics[m]) if m in r.metrics else "" for m in metric_names),
        ]
        for r in records
    ]
    print(tabulate(rows, headers=["model", "dataset", "method", "n", *metric_names], tablefmt="github"))
    if output_dir is not None:
        print(
            f"\nresults: {output_dir}/ (main metric per dataset: "
            + ", ".join(sorted({f"{r.dataset}={r.main_metric}" for r in records}))
            + ")"
        )


def print_leaderboard(records: list[ResultRecord], output_dir: Path) -> None:
    """The suite's closing table: the markdown leaderboard of exactly this suite's results."""
    from cnclip_eval.report.collect import load_entries
    from cnclip_eval.report.leaderboard import build_leaderboard
    from cnclip_eval.report.render import render_markdown

    if not records:
        print("no results")
        return
    paths = [output_dir / f"{r.stem()}.json" for r in records]
    print(render_markdown(build_leaderboard(load_entries(paths))))
    print(f"results: {output_dir}/ (`cnclip-eval leaderboard {output_dir} --format html|latex|csv|json`)")
