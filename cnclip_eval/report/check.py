"""The regression gate: compare a leaderboard with a committed baseline leaderboard (JSON).

Pure: two leaderboard JSON objects in, a list of comparisons and a verdict out. A cell fails when
its main metric dropped by more than the tolerance (in points); when the baseline has a cell the
new results lack (a gate that passes because a result vanished guards nothing); when the new score
is NaN; when it stands on another number of samples than the baseline's (a ``--limit`` run is
not the same measurement); and when the baseline says which protocol its number followed (CN-CLIP's
published table: ``cnclip``) and the result followed another. New cells are reported, never fail.
A baseline needs only numbers: sample counts, intervals and per-sample predictions are optional.

A cell may list more scores than its main metric under ``metrics`` (``{name: {"score": x, ...}}``):
a published retrieval cell holds every recall CN-CLIP reports (t2i_r1 .. i2t_r10) beside its
mean_recall, and each is compared on its own, with the same tolerance, samples and protocol rules.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cnclip_eval.errors import UserError
from cnclip_eval.report.render import LEADERBOARD_KIND, LEADERBOARD_SCHEMA
from cnclip_eval.results import is_number

if TYPE_CHECKING:
    from cnclip_eval.report.leaderboard import Entry

DEFAULT_TOLERANCE = 0.5  # points


@dataclass(frozen=True)
class Comparison:
    model: str
    method: str
    dataset: str
    metric: str
    baseline: float | None  # fractions; None: the cell is missing on that side
    current: float | None
    baseline_n: int | None = None  # samples each score stands on, where known
    current_n: int | None = None
    baseline_protocol: str | None = None  # "cnclip" | "custom"; None where not recorded
    current_protocol: str | None = None

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
        if math.isnan(self.current) and not math.isnan(self.baseline):
            return "not a number"
        if None not in (self.baseline_n, self.current_n) and self.baseline_n != self.current_n:
            return "other samples"
        if self.baseline_protocol is not None and self.current_protocol != self.baseline_protocol:
            return "other protocol"
        if math.isnan(self.current):
            return "ok"  # NaN before and after: nothing moved that a number could show
        change = 100 * self.change
        if change < -tolerance_points:
            return "dropped"
        if change > tolerance_points:
            return "improved"
        return "ok"


FAILING = {"dropped", "missing", "not a number", "other samples", "other protocol"}


def validate_leaderboard(data: object, source: str) -> dict:
    """``data`` if it is a leaderboard JSON whose rows and cells ``check`` can read; else a UserError."""
    if not isinstance(data, dict) or data.get("kind") != LEADERBOARD_KIND:
        raise UserError(
            f"{source}: not a leaderboard JSON (write one with `cnclip-eval leaderboard --format json`)"
        )
    if data.get("schema_version") != LEADERBOARD_SCHEMA:
        raise UserError(
            f"{source}: leaderboard schema_version {data.get('schema_version')!r}, expected {LEADERBOARD_SCHEMA}"
        )
    metrics = data.get("metrics")
    if metrics is not None and not (
        isinstance(metrics, dict) and all(isinstance(v, str) for v in metrics.values())
    ):
        raise UserError(f"{source}: 'metrics' must map datasets to metric names")
    rows = data.get("rows")
    if not isinstance(rows, list):
        raise UserError(f"{source}: 'rows' must be a list")
    for i, row in enumerate(rows):
        where = f"{source}: rows[{i}]"
        if not isinstance(row, dict) or not all(isinstance(row.get(k), str) for k in ("model", "method")):
            raise UserError(f"{where}: needs string 'model' and 'method'")
        if not isinstance(row.get("cells"), dict):
            raise UserError(f"{where}: 'cells' must map datasets to cells")
        for dataset, cell in row["cells"].items():
            ok = (
                isinstance(cell, dict)
                and isinstance(cell.get("metric"), str)
                and is_number(cell.get("score"))
            )
            if not ok or not (cell.get("n") is None or isinstance(cell.get("n"), int)):
                raise UserError(
                    f"{where}.cells[{dataset!r}]: needs a string 'metric', a number 'score' and an integer 'n'"
                )
            more = cell.get("metrics", {})
            if not isinstance(more, dict) or not all(
                isinstance(v, dict) and is_number(v.get("score")) for v in more.values()
            ):
                raise UserError(
                    f"{where}.cells[{dataset!r}].metrics: must map metric names to {{'score': number, ...}}"
                )
    return data


Scores = dict[tuple[str, str, str, str], tuple[float, int | None, str | None]]


def _main_metrics(board: dict) -> dict[tuple[str, str, str], str]:
    """(model, method, dataset) -> the cell's main metric."""
    return {
        (row["model"], row["method"], dataset): cell["metric"]
        for row in board["rows"]
        for dataset, cell in row["cells"].items()
    }


def _scores(board: dict) -> Scores:
    """(model, method, dataset, metric) -> (score, n, protocol) for a cell's main metric and each of its
    ``metrics``; the protocol is the cell's, else its row's."""
    scores: Scores = {}
    for row in board["rows"]:
        for dataset, cell in row["cells"].items():
            n, protocol = cell.get("n"), cell.get("protocol", row.get("protocol"))
            key = (row["model"], row["method"], dataset)
            scores[(*key, cell["metric"])] = (float(cell["score"]), n, protocol)
            for metric, more in cell.get("metrics", {}).items():
                scores.setdefault((*key, metric), (float(more["score"]), n, protocol))
    return scores


def compare_boards(baseline: dict, current: dict) -> list[Comparison]:
    """One comparison per score of either board: baseline order first, then the new ones."""
    old_main, new_main = _main_metrics(baseline), _main_metrics(current)
    for key in old_main.keys() & new_main.keys():
        if old_main[key] != new_main[key]:
            raise UserError(
                f"{'/'.join(key)}: the baseline scores {old_main[key]}, the results {new_main[key]}; "
                "compare like with like"
            )
    old, new = _scores(baseline), _scores(current)
    comparisons = []
    for key in list(old) + [k for k in new if k not in old]:
        before, after = old.get(key), new.get(key)
        comparisons.append(
            Comparison(
                *key,
                before[0] if before else None,
                after[0] if after else None,
                before[1] if before else None,
                after[1] if after else None,
                before[2] if before else None,
                after[2] if after else None,
            )
        )
    return comparisons


def results_board(entries: list[Entry], baseline: dict) -> tuple[dict, list[str]]:
    """The results as a leaderboard JSON in the baseline's terms, and the leaderboard's notes.

    Each column is scored with the baseline's metric for it (a published table may report another
    metric than the results' main one); where a baseline cell lists more ``metrics`` (a retrieval
    cell's recalls), the results' cells of that column list those scores too.
    """
    from cnclip_eval.report.leaderboard import build_leaderboard
    from cnclip_eval.report.render import to_json

    method, metrics = baseline.get("baseline_method", "baseline"), baseline.get("metrics") or {}
    board = build_leaderboard(entries, method, confidence=False, metrics=metrics)
    current = to_json(board)
    wanted: dict[str, set[str]] = {}  # column -> the further metrics the baseline compares there
    for row in baseline["rows"]:
        for column, cell in row["cells"].items():
            wanted.setdefault(column, set()).update(set(cell.get("metrics", {})) - {cell["metric"]})
    cells = {(r["model"], r["method"], c): cell for r in current["rows"] for c, cell in r["cells"].items()}
    for name in sorted(set().union(*wanted.values())):
        columns = {c: name for c, names in wanted.items() if name in names}
        # the leaderboard scores a column with one metric: one more (cheap, no bootstrap) per metric
        other = build_leaderboard(entries, method, confidence=False, metrics={**metrics, **columns})
        for row in other.rows:
            for column, cell in row.cells.items():
                mine = cells.get((row.model, row.method, column))
                if column in columns and mine is not None:
                    mine.setdefault("metrics", {})[name] = {"score": cell.score}
    return current, board.notes


def failed(comparisons: list[Comparison], tolerance_points: float) -> list[Comparison]:
    return [c for c in comparisons if c.status(tolerance_points) in FAILING]
