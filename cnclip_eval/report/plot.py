"""A PNG bar chart of each method's delta against the baseline, per dataset (matplotlib)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cnclip_eval.fileio import atomic_write
from cnclip_eval.report.leaderboard import Leaderboard


def plot_deltas(board: Leaderboard, path: Path) -> Path:
    """Grouped bars: datasets on the x axis, one bar per (model, method) row that has deltas.

    Significant deltas are drawn solid, the others hatched, so the chart says what the table says.
    """
    import matplotlib

    matplotlib.use("Agg")  # files only: no display here or in CI
    import matplotlib.pyplot as plt

    rows = [r for r in board.rows if any(c.delta is not None for c in r.cells.values())]
    figure, axes = plt.subplots(figsize=(max(6.0, 1.2 * len(board.datasets) + 2), 4.5), dpi=120)
    width = 0.8 / max(1, len(rows))
    positions = np.arange(len(board.datasets))
    for i, row in enumerate(rows):
        cells = [row.cells.get(d) for d in board.datasets]
        heights = [100 * c.delta if c is not None and c.delta is not None else 0.0 for c in cells]
        bars = axes.bar(
            positions + (i - (len(rows) - 1) / 2) * width, heights, width, label=f"{row.label} / {row.method}"
        )
        for bar, cell in zip(bars, cells):
            if cell is None or not cell.significant:
                bar.set_hatch("//")
                bar.set_alpha(0.6)
    axes.axhline(0, color="black", linewidth=0.8)
    axes.margins(y=0.15)  # room above and below, so a zero or one-sided delta still shows its axis
    axes.set_xticks(positions, board.datasets, rotation=30, ha="right")
    axes.set_ylabel(f"Δ points vs {board.baseline_method}")
    axes.set_title("Change against the baseline method (solid: p < 0.05)")
    if rows:
        axes.legend(fontsize="small")
    figure.tight_layout()
    atomic_write(path, lambda f: figure.savefig(f, format="png"))
    plt.close(figure)
    return path
