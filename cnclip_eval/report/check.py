"""The regression gate: compare a leaderboard with a committed baseline leaderboard (JSON).

Pure: two leaderboard JSON objects in, a list of comparisons and a verdict out. A cell fails when
its main metric dropped by more than the tolerance (in points), and when the baseline has a cell
the new results lack (a gate that passes because a result vanished guards nothing). New cells are
reported, never fail.
"""

from __future__ import annotations

from dataclasses import dataclass

from cnclip_eval.errors import UserError
from cnclip_eval.report.render import LEADERBOARD_KIND, LEADERBOARD_SCHEMA

DEFAULT_TOLERANCE = 0.5  # points


@dataclass(frozen=True)
class Comparison:
    model: str
    method: str
    dataset: str
    metric: str
    baseline: float | None  # fractions; None: the cell is missing on that side
    current: float | None

    @property
    def change(self) -> float | None:
        if self.baseline is None or self.current is None:
            return None
        return self.current - self.baseline

    def status(self, tolerance_points: float) -> str:
        if self.current is None:
            return "missing"
        if self.baseline is None:
            return "new"
        change = 100 * self.change
        if change < -tolerance_points:
            return "dropped"
        if change > tolerance_points:
            return "improved"
        return "ok"


FAILING = {"dropped", "missing"}


def validate_leaderboard(data: object, source: str) -> dict:
    if not isinstance(data, dict) or data.get("kind") != LEADERBOARD_KIND:
        raise UserError(
            f"{source}: not a leaderboard JSON (write one with `cnclip-eval leaderboard --format json`)"
        )
    if data.get("schema_version") != LEADERBOARD_SCHEMA:
        raise UserError(
            f"{source}: leaderboard schema_version {data.get('schema_version')!r}, expected {LEADERBOARD_SCHEMA}"
        )
    rows = data.get("rows")
    if not isinstance(rows, list) or not all(isinstance(r, dict) and "cells" in r for r in rows):
        raise UserError(f"{source}: 'rows' must be a list of rows with 'cells'")
    return data


def _cells(board: dict) -> dict[tuple[str, str, str], tuple[str, float]]:
    return {
        (row["model"], row["method"], dataset): (cell["metric"], float(cell["score"]))
        for row in board["rows"]
        for dataset, cell in row["cells"].items()
    }


def compare_boards(baseline: dict, current: dict) -> list[Comparison]:
    old, new = _cells(baseline), _cells(current)
    comparisons = []
    for key in list(old) + [k for k in new if k not in old]:
        metric = (old.get(key) or new.get(key))[0]
        if key in old and key in new and old[key][0] != new[key][0]:
            raise UserError(
                f"{'/'.join(key)}: the baseline scores {old[key][0]}, the results {new[key][0]}; "
                "compare like with like"
            )
        comparisons.append(
            Comparison(*key, metric, old[key][1] if key in old else None, new[key][1] if key in new else None)
        )
    return comparisons


def failed(comparisons: list[Comparison], tolerance_points: float) -> list[Comparison]:
    return [c for c in comparisons if c.status(tolerance_points) in FAILING]
