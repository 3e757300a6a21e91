"""Render a :class:`~cnclip_eval.report.leaderboard.Leaderboard` as text: one function per format.

Scores are percentages with two decimals. A cell shows the score, ``±`` half its bootstrap
interval, and for a method other than the baseline its delta in points, starred when the paired
test on the same images is significant (p < 0.05). ``json`` holds everything, unrounded: it is the
baseline file that ``cnclip-eval check`` compares against.
"""

from __future__ import annotations

import csv
import html
import io
import json
import math
from collections.abc import Callable

from tabulate import tabulate

from cnclip_eval.registry import Registry
from cnclip_eval.report.leaderboard import CONTROL_METHOD, Cell, Leaderboard

LEADERBOARD_KIND = "cnclip-eval-leaderboard"
LEADERBOARD_SCHEMA = 1

Renderer = Callable[[Leaderboard], str]
FORMATS: Registry[Renderer] = Registry("leaderboard format")


def points(value: float) -> str:
    return f"{100 * value:.2f}"


def signed_points(value: float) -> str:
    return f"{100 * value:+.2f}"


def _cell_text(cell: Cell | None, missing: str = "–", spread: str = "±{:.1f}", star: str = "*") -> str:
    """Score, half the interval (in ``spread``'s markup), and the delta, starred when significant."""
    if cell is None:
        return missing
    text = points(cell.score)
    if cell.interval is not None:
        text += spread.format(100 * (cell.interval.high - cell.interval.low) / 2)
    if cell.std is not None:  # a mean over seeds: their spread, not a bootstrap interval
        text += " sd " + f"{100 * cell.std:.2f}"
    if cell.delta is not None:
        text += f" ({signed_points(cell.delta)}{star if cell.significant else ''})"
    if cell.delta_control is not None:
        text += f" [{signed_points(cell.delta_control)} vs {CONTROL_METHOD}]"
    return text


def _headers(board: Leaderboard) -> list[str]:
    columns = [f"{d} ({board.metrics[d]})" for d in board.datasets]
    return ["model", "method", *columns, "mean", "Δ mean", "mean rank", "protocol"]


def _row_values(board: Leaderboard, cell_text: Callable[[Cell | None], str]) -> list[list[str]]:
    return [
        [
            row.label,
            row.shown_method,
            *(cell_text(row.cells.get(d)) for d in board.datasets),
            points(row.mean),
            "" if row.mean_delta is None else signed_points(row.mean_delta),
            f"{row.mean_rank:.2f}",
            row.protocol,
        ]
        for row in board.rows
    ]


def _sample_counts(board: Leaderboard) -> dict[str, list[int]]:
    counts: dict[str, set[int]] = {d: set() for d in board.datasets}
    for row in board.rows:
        for d, cell in row.cells.items():
            counts[d].add(cell.n)
    return {d: sorted(n) for d, n in counts.items()}


def legend(board: Leaderboard) -> list[str]:
    lines = [
        "samples: " + ", ".join(f"{d} n={'/'.join(map(str, n))}" for d, n in _sample_counts(board).items()),
        f"(Δ) points against {board.baseline_method} of the same model; * paired test p < 0.05 "
        "(McNemar for accuracy, paired bootstrap otherwise)",
        "protocol: cnclip = CN-CLIP's own evaluation settings (templates, class names, fp32, "
        "preprocessing, full test split), custom = some differ (each result's provenance names them)",
    ]
    if board.confidence_level is not None:
        lines.append(f"± half the {board.confidence_level:.0%} percentile-bootstrap interval")
    cells = [c for row in board.rows for c in row.cells.values()]
    if any(c.std is not None for c in cells):
        lines.append("rows with several seeds: the mean over the seeds, sd = their standard deviation")
    if any(c.delta_control is not None for c in cells):
        lines.append(
            f"[… vs {CONTROL_METHOD}] points against the control {CONTROL_METHOD} (random descriptors) "
            "of the same model: a description method's gain means something where it beats it"
        )
    if len({row.kind for row in board.rows}) > 1:
        lines.append(
            "rows grouped: zero-shot text methods, then controls, then few-shot methods [K = shots per class]"
        )
    return lines + board.notes


@FORMATS.register("md", "GitHub-flavoured markdown table with a legend")
def render_markdown(board: Leaderboard) -> str:
    table = tabulate(
        _row_values(board, _cell_text), headers=_headers(board), tablefmt="github", disable_numparse=True
    )
    return table + "\n\n" + "\n".join(f"- {line}" for line in legend(board)) + "\n"


@FORMATS.register("latex", "LaTeX tabular for papers")
def render_latex(board: Leaderboard) -> str:
    def cell_text(cell: Cell | None) -> str:
        return _cell_text(cell, missing="--", spread="$_{{\\pm {:.1f}}}$", star="$^{*}$")

    headers = [_latex_escape(h).replace("Δ", r"$\Delta$") for h in _headers(board)]
    rows = [
        [_latex_escape(v) if i < 2 else v for i, v in enumerate(row)] for row in _row_values(board, cell_text)
    ]
    # latex_raw: tabulate leaves the cells alone, the names were escaped above
    return tabulate(rows, headers=headers, tablefmt="latex_raw", disable_numparse=True) + "\n"


_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "$": r"\$",
    "&": r"\&",
    "#": r"\#",
    "^": r"\textasciicircum{}",
    "_": r"\_",
    "%": r"\%",
    "~": r"\textasciitilde{}",
}


def _latex_escape(text: str) -> str:
    """Names as literal text: model names can be checkpoint paths (``~/ckpt/run#3``)."""
    return "".join(_LATEX_SPECIAL.get(char, char) for char in text)


@FORMATS.register("csv", "one line per (model, method, dataset), all numbers unrounded")
def render_csv(board: Leaderboard) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        [
            "model",
            "method",
            "dataset",
            "metric",
            "score",
            "low",
            "high",
            "n",
            "delta",
            "p_value",
            "test",
            "protocol",
            "kind",
            "detail",
            "seeds",
            "std",
            "delta_control",
        ]
    )
    for row in board.rows:
        for d in board.datasets:
            cell = row.cells.get(d)
            if cell is None:
                continue
            writer.writerow(
                [
                    row.model,
                    row.method,
                    d,
                    cell.metric,
                    cell.score,
                    "" if cell.interval is None else cell.interval.low,
                    "" if cell.interval is None else cell.interval.high,
                    cell.n,
                    "" if cell.delta is None else cell.delta,
                    "" if cell.test is None else cell.test.p_value,
                    "" if cell.test is None else cell.test.name,
                    cell.protocol or "",
                    row.kind,
                    row.detail,
                    " ".join(map(str, cell.seeds)),
                    "" if cell.std is None else cell.std,
                    "" if cell.delta_control is None else cell.delta_control,
                ]
            )
    return buffer.getvalue()


@FORMATS.register("json", "everything, unrounded: the baseline file for `cnclip-eval check`")
def render_json(board: Leaderboard) -> str:
    return json.dumps(to_json(board), ensure_ascii=False, indent=2) + "\n"


def to_json(board: Leaderboard) -> dict:
    def cell_json(cell: Cell) -> dict:
        return {
            "metric": cell.metric,
            "score": cell.score,
            "n": cell.n,
            "low": None if cell.interval is None else cell.interval.low,
            "high": None if cell.interval is None else cell.interval.high,
            "delta": cell.delta,
            "p_value": None if cell.test is None else cell.test.p_value,
            "test": None if cell.test is None else cell.test.name,
            "significant": cell.significant,
            "protocol": cell.protocol,
            "seeds": list(cell.seeds),
            "std": cell.std,
            "delta_control": cell.delta_control,
        }

    return {
        "kind": LEADERBOARD_KIND,
        "schema_version": LEADERBOARD_SCHEMA,
        "baseline_method": board.baseline_method,
        "confidence_level": board.confidence_level,
        "datasets": board.datasets,
        "metrics": board.metrics,
        "rows": [
            {
                "model": row.model,
                "english_names": row.english_names,
                "method": row.method,
                "kind": row.kind,
                "detail": row.detail,
                "mean": row.mean,
                "mean_delta": row.mean_delta,
                "mean_rank": row.mean_rank,
                "protocol": row.protocol,
                "cells": {d: cell_json(c) for d, c in row.cells.items()},
            }
            for row in board.rows
        ],
        "notes": board.notes,
    }


@FORMATS.register("html", "a self-contained page; click a column header to sort")
def render_html(board: Leaderboard) -> str:
    headers = "".join(f"<th>{html.escape(h)}</th>" for h in _headers(board))
    body = []
    for row, values in zip(board.rows, _row_values(board, _cell_text)):
        cells = []
        for i, value in enumerate(values):
            sort_key = _sort_key(board, row, i)
            attrs = "" if sort_key is None else f' data-sort="{sort_key}"'
            significant = (
                2 <= i < 2 + len(board.datasets)
                and row.cells.get(board.datasets[i - 2]) is not None
                and row.cells[board.datasets[i - 2]].significant
            )
            css = ' class="sig"' if significant else ""
            cells.append(f"<td{attrs}{css}>{html.escape(value)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    notes = "".join(f"<li>{html.escape(line)}</li>" for line in legend(board))
    return _HTML_PAGE.format(headers=headers, rows="\n".join(body), notes=notes)


def _sort_key(board: Leaderboard, row, column: int) -> str | None:
    """What a numeric column sorts by (the cell text holds intervals and deltas too): higher is
    better; "" for a missing or NaN value, which sorts last. None for the text columns."""
    n = len(board.datasets)
    if column < 2 or column >= 5 + n:  # model, method; protocol
        return None
    if column < 2 + n:
        cell = row.cells.get(board.datasets[column - 2])
        value = None if cell is None else cell.score
    else:
        value = {2 + n: row.mean, 3 + n: row.mean_delta, 4 + n: -row.mean_rank}[column]
    return "" if value is None or math.isnan(value) else repr(float(value))


_HTML_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>cnclip-eval leaderboard</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; }}
th, td {{ border: 1px solid #ccc; padding: 4px 8px; text-align: right; white-space: nowrap; }}
td:nth-child(-n+2), th:nth-child(-n+2) {{ text-align: left; }}
th {{ cursor: pointer; background: #f4f4f4; }}
td.sig {{ font-weight: bold; }}
</style></head><body>
<h1>cnclip-eval leaderboard</h1>
<table id="board"><thead><tr>{headers}</tr></thead><tbody>
{rows}
</tbody></table>
<ul>{notes}</ul>
<script>
// sort by a column on click: numbers by data-sort (best first), text alphabetically
document.querySelectorAll("#board th").forEach((th, column) => th.addEventListener("click", () => {{
  const body = document.querySelector("#board tbody");
  const value = (tr) => {{
    const td = tr.children[column];
    if (td.dataset.sort === undefined) return td.textContent;
    return td.dataset.sort === "" ? Infinity : -parseFloat(td.dataset.sort);  // best first, missing last
  }};
  const rows = Array.from(body.rows);
  const flip = th.dataset.order === "asc" ? -1 : 1;
  th.dataset.order = flip === 1 ? "asc" : "desc";
  rows.sort((a, b) => (value(a) > value(b) ? 1 : value(a) < value(b) ? -1 : 0) * flip);
  rows.forEach((tr) => body.appendChild(tr));
}}));
</script>
</body></html>
"""
