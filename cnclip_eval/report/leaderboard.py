"""The leaderboard: (model, method) rows x dataset columns of main-metric scores, ranked.

Pure code: records and predictions in, a :class:`Leaderboard` out; reading files is in
:mod:`cnclip_eval.report.collect`, rendering in :mod:`cnclip_eval.report.render`.

For each cell: the dataset's main metric, its bootstrap interval, the number of samples, and, for
a method other than the baseline, the delta against the baseline method of the same model on the
same dataset with the p-value of a paired test on the same images. For each row: the mean over
its datasets and the mean rank (1 = best; ties share the average rank; ranks are computed per
dataset over all rows that have it). A column is a dataset, or "dataset (split)" for results on
another split than ``test``; same-named datasets made from other inputs get their tag, "shards
[1a2b3c4d]", with a note saying what it stands for. A NaN score (a ranking metric on samples that lack a class) is shown
but neither ranked nor averaged.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from cnclip_eval.report import stats
from cnclip_eval.results import Predictions, ResultRecord

DEFAULT_BASELINE_METHOD = "baseline"


@dataclass(frozen=True)
class Entry:
    """One result and, when the stored file exists, its per-sample predictions (loaded lazily)."""

    record: ResultRecord
    load_predictions: Callable[[], Predictions | None] = lambda: None
    source: str = ""  # where it was read from, for messages


@dataclass(frozen=True)
class Cell:
    score: float
    metric: str
    n: int
    interval: stats.Interval | None = None
    delta: float | None = None  # against the same model's baseline method, same dataset
    test: stats.PairedTest | None = None
    protocol: str | None = None  # "cnclip" | "custom"; None for results written before it was recorded
    # the language of the class names and templates: "en" for a model that reads only English (an
    # upper bound on CLIP plus translation); None for results written before it was recorded
    texts_language: str | None = None

    @property
    def significant(self) -> bool:
        return self.test is not None and self.test.significant


@dataclass(frozen=True)
class Row:
    model: str
    method: str  # the run name: the method plus a tag of its options
    cells: dict[str, Cell]
    mean: float
    mean_delta: float | None
    mean_rank: float

    @property
    def key(self) -> tuple[str, str]:
        return self.model, self.method

    @property
    def protocol(self) -> str:
        """The cells' protocol when they share one ("cnclip", "custom"), else "mixed"; "?" if unrecorded."""
        found = {c.protocol or "?" for c in self.cells.values()}
        return found.pop() if len(found) == 1 else "mixed"

    @property
    def english_names(self) -> bool:
        """Every cell was evaluated with English class names and templates (an English-only model)."""
        return bool(self.cells) and all(c.texts_language == "en" for c in self.cells.values())

    @property
    def label(self) -> str:
        """The model as tables show it: English-name rows say so."""
        return f"{self.model} (English names)" if self.english_names else self.model


@dataclass(frozen=True)
class Leaderboard:
    datasets: list[str]
    metrics: dict[str, str]  # dataset -> its main metric
    rows: list[Row]  # sorted by mean rank, then mean score
    baseline_method: str
    confidence_level: float | None = None
    notes: list[str] = field(default_factory=list)


def column(record: ResultRecord) -> str:
    """The leaderboard column of a result: its dataset, with the split when it is not ``test``."""
    return record.dataset if record.split == "test" else f"{record.dataset} ({record.split})"


def _dataset_tag(record: ResultRecord) -> str:
    dataset = record.provenance.get("dataset")
    return (dataset.get("tag") or "") if isinstance(dataset, dict) else ""


def tell_datasets_apart(entries: list[Entry]) -> tuple[list[Entry], list[str]]:
    """Same-named datasets made from other inputs (two folders called ``shards``, ``imagenet1k``
    with another class-name list; see :mod:`cnclip_eval.naming`) become separate columns,
    ``name [tag]``, with a note saying what each tag stands for."""
    tags: dict[str, set[str]] = {}
    for entry in entries:
        tags.setdefault(column(entry.record), set()).add(_dataset_tag(entry.record))
    relabelled, notes = [], {}
    for entry in entries:
        record, tag = entry.record, _dataset_tag(entry.record)
        if len(tags[column(record)]) > 1:
            name = f"{record.dataset} [{tag or 'default'}]"
            details = record.provenance.get("dataset", {})
            notes[name] = f"{name}: " + ", ".join(
                f"{k} {details[k]}" for k in ("source", "classnames", "templates") if details.get(k)
            )
            entry = replace(entry, record=replace(record, dataset=name))
        relabelled.append(entry)
    return relabelled, list(notes.values())


def latest_entries(entries: list[Entry]) -> tuple[list[Entry], list[str]]:
    """One entry per (model, run name, column): the newest; and a note for each one dropped."""
    chosen: dict[tuple[str, str, str], Entry] = {}
    notes = []
    for entry in entries:
        r = entry.record
        key = (r.model, r.run_name, column(r))
        previous = chosen.get(key)
        if previous is None or r.created > previous.record.created:
            if previous is not None:
                notes.append(f"{previous.source}: superseded by the newer {entry.source}")
            chosen[key] = entry
        else:
            notes.append(f"{entry.source}: superseded by the newer {previous.source}")
    return list(chosen.values()), notes


def average_ranks(scores: dict[tuple[str, str], float]) -> dict[tuple[str, str], float]:
    """Rank 1 = highest score; tied scores share the mean of the ranks they span; NaN is not ranked."""
    ordered = sorted(((k, v) for k, v in scores.items() if not math.isnan(v)), key=lambda item: -item[1])
    ranks: dict[tuple[str, str], float] = {}
    start = 0
    while start < len(ordered):
        end = start
        while end + 1 < len(ordered) and ordered[end + 1][1] == ordered[start][1]:
            end += 1
        for key, _ in ordered[start : end + 1]:
            ranks[key] = (start + end) / 2 + 1
        start = end + 1
    return ranks


def build_leaderboard(
    entries: list[Entry],
    baseline_method: str = DEFAULT_BASELINE_METHOD,
    confidence: bool = True,
    resamples: int = stats.DEFAULT_RESAMPLES,
    level: float = stats.DEFAULT_LEVEL,
    seed: int = 0,
    metrics: dict[str, str] | None = None,
) -> Leaderboard:
    """``metrics`` (dataset column -> metric) scores those columns with that metric instead of the
    results' main metric (``check`` compares with a baseline in the baseline's own metrics)."""
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, not {resamples}")
    entries, tag_notes = tell_datasets_apart(entries)
    entries, notes = latest_entries(entries)
    notes = tag_notes + notes
    datasets = list(dict.fromkeys(column(e.record) for e in entries))
    metrics = dict(metrics or {})
    chosen = set(metrics)
    for e in entries:
        metric = metrics.setdefault(column(e.record), e.record.main_metric)
        if metric != e.record.main_metric and column(e.record) not in chosen:
            notes.append(
                f"{e.source}: main metric {e.record.main_metric}, other {column(e.record)} results use {metric}"
            )
    by_key = {(e.record.model, e.record.run_name, column(e.record)): e for e in entries}
    if entries and not any(e.record.run_name == baseline_method for e in entries):
        notes.append(
            f"no results of the baseline method {baseline_method!r}: no deltas (see --baseline-method)"
        )
    predictions = _PredictionCache()

    cells: dict[tuple[str, str], dict[str, Cell]] = {}
    for (model, method, dataset), entry in by_key.items():
        record, metric = entry.record, metrics[dataset]
        score = record.metrics.get(metric)
        if score is None:
            notes.append(f"{entry.source}: no {metric} score; left out")
            continue
        interval = delta = test = None
        mine = predictions.get(entry) if confidence else None
        if mine is not None:
            subset = stats.subset_metric(metric, mine)
            if subset is not None:
                interval = stats.bootstrap_interval(subset, len(mine.keys), resamples, level, seed)
        base = by_key.get((model, baseline_method, dataset))
        if base is not None and method != baseline_method and metric in base.record.metrics:
            delta = score - base.record.metrics[metric]
            theirs = predictions.get(base) if confidence else None
            if mine is not None and theirs is not None:
                test = stats.compare(metric, theirs, mine, resamples, seed)
        cells.setdefault((model, method), {})[dataset] = Cell(
            score,
            metric,
            record.n_samples,
            interval,
            delta,
            test,
            record.protocol,
            record.provenance.get("texts_language"),
        )

    ranks_by_dataset = {
        d: average_ranks({key: row[d].score for key, row in cells.items() if d in row}) for d in datasets
    }
    rows = []
    for key, row_cells in cells.items():
        finite = {d: c for d, c in row_cells.items() if not math.isnan(c.score)}
        deltas = [c.delta for c in finite.values() if c.delta is not None and not math.isnan(c.delta)]
        ranks = [ranks_by_dataset[d][key] for d in finite]
        rows.append(
            Row(
                model=key[0],
                method=key[1],
                cells=row_cells,
                mean=float(np.mean([c.score for c in finite.values()])) if finite else math.nan,
                mean_delta=float(np.mean(deltas)) if finite and len(deltas) == len(finite) else None,
                mean_rank=float(np.mean(ranks)) if ranks else math.nan,
            )
        )
        if len(finite) < len(row_cells):
            nan = ", ".join(d for d in row_cells if d not in finite)
            notes.append(f"{key[0]} / {key[1]}: no score on {nan} (NaN: a class absent from the samples?)")
    # NaN last; then best mean rank, then best mean
    rows.sort(key=lambda r: (math.isnan(r.mean_rank), r.mean_rank, -r.mean, r.model, r.method))
    incomplete = [f"{r.model} / {r.method}" for r in rows if len(r.cells) < len(datasets)]
    if incomplete:
        notes.append(
            "rows without every dataset (their mean and mean rank cover only theirs, so compare them with care): "
            + ", ".join(incomplete)
        )
    return Leaderboard(datasets, metrics, rows, baseline_method, level if confidence else None, notes)


class _PredictionCache:
    """Load each entry's predictions once (the baseline's are paired with every other method)."""

    def __init__(self) -> None:
        self._loaded: dict[int, Predictions | None] = {}

    def get(self, entry: Entry) -> Predictions | None:
        if id(entry) not in self._loaded:
            self._loaded[id(entry)] = entry.load_predictions()
        return self._loaded[id(entry)]
