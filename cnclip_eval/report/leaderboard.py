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
CONTROL_METHOD = "waffle"  # a description method's gain means something where it beats this control
KIND_ORDER = {"zero-shot": 0, "control": 1, "few-shot": 2}
RETRIEVAL_METRICS = {"mean_recall", "t2i_r1", "t2i_r5", "t2i_r10", "i2t_r1", "i2t_r5", "i2t_r10"}


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
    seeds: tuple[int, ...] = ()  # the seeds behind the score (several: it is their mean)
    std: float | None = None  # standard deviation over the seeds (sample std), where several
    delta_control: float | None = None  # against the same model's control method (waffle), same dataset

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
    kind: str = "zero-shot"  # "zero-shot" text methods, "control"s, "few-shot" methods: the row groups
    detail: str = ""  # what the method name leaves out: K for few-shot rows, the seeds

    @property
    def shown_method(self) -> str:
        return f"{self.method} [{self.detail}]" if self.detail else self.method

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
    groups = seed_groups(entries)
    if entries and not any(e.record.run_name == baseline_method for e in entries):
        notes.append(
            f"no results of the baseline method {baseline_method!r}: no deltas (see --baseline-method)"
        )
    predictions = _PredictionCache()

    cells: dict[tuple[str, str], dict[str, Cell]] = {}
    for (model, method, dataset), members in groups.items():
        metric = metrics[dataset]
        missing = [e for e in members if metric not in e.record.metrics]
        for entry in missing:
            notes.append(f"{entry.source}: no {metric} score; left out")
        members = [e for e in members if e not in missing]
        if not members:
            continue
        base = by_key.get((model, baseline_method, dataset))
        if method == baseline_method:
            base = None  # the baseline row has no delta against itself
        if len(members) == 1:
            cell = _single_cell(members[0], metric, base, predictions, confidence, resamples, level, seed)
        else:
            cell = _seeds_cell(members, metric, base)
        cells.setdefault((model, method), {})[dataset] = cell
    _add_control_deltas(cells, baseline_method)
    for (model, method), row in cells.items():
        seed_sets = {c.seeds for c in row.values() if c.seeds}
        if len(seed_sets) > 1:
            shown = "; ".join(f"{d}: {','.join(map(str, c.seeds))}" for d, c in row.items() if c.seeds)
            notes.append(
                f"{model} / {method}: the datasets had different seeds ({shown}); its mean mixes them"
            )

    ranks_by_dataset = {
        d: average_ranks({key: row[d].score for key, row in cells.items() if d in row}) for d in datasets
    }
    retrieval = {d for d in datasets if metrics[d] in RETRIEVAL_METRICS}
    # a top-1 and a recall are not one quantity: with both kinds of columns the mean covers classification
    averaged = set(datasets) - retrieval if retrieval and retrieval != set(datasets) else set(datasets)
    if averaged != set(datasets):
        notes.append(
            "mean and Δ mean cover the classification columns; the retrieval columns ("
            + ", ".join(d for d in datasets if d in retrieval)
            + ") count in the mean rank only"
        )
    rows = []
    for key, row_cells in cells.items():
        scored = {d: c for d, c in row_cells.items() if not math.isnan(c.score)}
        ranks = [ranks_by_dataset[d][key] for d in scored]
        finite = {d: c for d, c in scored.items() if d in averaged}
        deltas = [c.delta for c in finite.values() if c.delta is not None and not math.isnan(c.delta)]
        kind, detail = row_kind_and_detail(groups, key, row_cells)
        rows.append(
            Row(
                model=key[0],
                method=key[1],
                cells=row_cells,
                mean=float(np.mean([c.score for c in finite.values()])) if finite else math.nan,
                mean_delta=float(np.mean(deltas)) if finite and len(deltas) == len(finite) else None,
                mean_rank=float(np.mean(ranks)) if ranks else math.nan,
                kind=kind,
                detail=detail,
            )
        )
        if len(scored) < len(row_cells):
            nan = ", ".join(d for d in row_cells if d not in scored)
            notes.append(f"{key[0]} / {key[1]}: no score on {nan} (NaN: a class absent from the samples?)")
    # zero-shot text methods, then controls, then few-shot methods; in each, NaN last, then best mean
    # rank, then best mean (ranks are over all rows of a dataset)
    rows.sort(
        key=lambda r: (
            KIND_ORDER.get(r.kind, 3),
            math.isnan(r.mean_rank),
            r.mean_rank,
            -r.mean,
            r.model,
            r.method,
        )
    )
    incomplete = [f"{r.model} / {r.method}" for r in rows if len(r.cells) < len(datasets)]
    if incomplete:
        notes.append(
            "rows without every dataset (their mean and mean rank cover only theirs, so compare them with care): "
            + ", ".join(incomplete)
        )
    return Leaderboard(datasets, metrics, rows, baseline_method, level if confidence else None, notes)


def _method_info(record: ResultRecord) -> dict:
    method = record.provenance.get("method")
    return method if isinstance(method, dict) else {}


def seed_groups(entries: list[Entry]) -> dict[tuple[str, str, str], list[Entry]]:
    """(model, row name, column) -> its results: those that differ only by seed share the row named
    after their seed group (``tip-adapter(shots=4)`` for seeds 1, 2, 3, or for seed 2 alone); results of
    methods without a seed keep their run name."""
    rows: dict[tuple[str, str, str], list[Entry]] = {}
    for entry in entries:
        record, info = entry.record, _method_info(entry.record)
        # a seeded result's row is its seed group, one seed or several (the row says which seeds)
        name = (
            (info.get("seed_group") or record.run_name) if info.get("seed") is not None else record.run_name
        )
        rows.setdefault((record.model, name, column(record)), []).append(entry)
    return {
        key: sorted(found, key=lambda e: _method_info(e.record).get("seed") or 0)
        for key, found in rows.items()
    }


def _single_cell(entry, metric, base, predictions, confidence, resamples, level, seed) -> Cell:
    """One result's cell: its score, bootstrap interval, and delta and paired test against ``base``."""
    record = entry.record
    score = record.metrics[metric]
    interval = delta = test = None
    mine = predictions.get(entry) if confidence else None
    if mine is not None:
        subset = stats.subset_metric(metric, mine)
        if subset is not None:
            interval = stats.bootstrap_interval(subset, len(mine.keys), resamples, level, seed)
    if base is not None and metric in base.record.metrics:
        delta = score - base.record.metrics[metric]
        theirs = predictions.get(base) if confidence else None
        if mine is not None and theirs is not None:
            test = stats.compare(metric, theirs, mine, resamples, seed)
    own_seed = _method_info(record).get("seed")
    return Cell(
        score, metric, record.n_samples, interval, delta, test, record.protocol,
        record.provenance.get("texts_language"), seeds=() if own_seed is None else (own_seed,),
    )  # fmt: skip


def _seeds_cell(members: list[Entry], metric: str, base: Entry | None) -> Cell:
    """Several seeds of one method: the mean score, the std over seeds (what a reader must weigh a
    delta against) and the delta of the mean; no interval or paired test across different draws."""
    scores = [e.record.metrics[metric] for e in members]
    mean = float(np.mean(scores))
    delta = mean - base.record.metrics[metric] if base is not None and metric in base.record.metrics else None
    first = members[0].record
    protocols = {e.record.protocol for e in members}
    return Cell(
        mean, metric, first.n_samples, None, delta, None,
        protocols.pop() if len(protocols) == 1 else "mixed", first.provenance.get("texts_language"),
        seeds=tuple(_method_info(e.record).get("seed") for e in members),
        std=float(np.std(scores, ddof=1)),
    )  # fmt: skip


def _add_control_deltas(cells: dict[tuple[str, str], dict[str, Cell]], baseline_method: str) -> None:
    """Every method's delta against the same model's control (waffle) on the same dataset, where both
    are present (the control itself and the baseline get none)."""
    for (model, method), row in cells.items():
        control = cells.get((model, CONTROL_METHOD))
        if control is None or method in (CONTROL_METHOD, baseline_method):
            continue
        for dataset, cell in row.items():
            if dataset in control and not math.isnan(control[dataset].score):
                row[dataset] = replace(cell, delta_control=cell.score - control[dataset].score)


def row_kind_and_detail(groups, key: tuple[str, str], row_cells: dict[str, Cell]) -> tuple[str, str]:
    """The row's group (from the method's kind) and what its name leaves out: K and the seeds."""
    members = [e for (m, name, _), found in groups.items() if (m, name) == key for e in found]
    info = _method_info(members[0].record) if members else {}
    kind = info.get("kind") or "zero-shot"
    parts = []
    shots = {(_method_info(e.record).get("options") or {}).get("shots") for e in members} - {None}
    if kind == "few-shot" and shots:
        parts.append("K=" + "/".join(str(k) for k in sorted(shots)))
    seeds = sorted({s for c in row_cells.values() for s in c.seeds if s is not None})
    if seeds:
        parts.append(("seeds " if len(seeds) > 1 else "seed ") + ",".join(map(str, seeds)))
    return kind, ", ".join(parts)


class _PredictionCache:
    """Load each entry's predictions once (the baseline's are paired with every other method)."""

    def __init__(self) -> None:
        self._loaded: dict[int, Predictions | None] = {}

    def get(self, entry: Entry) -> Predictions | None:
        if id(entry) not in self._loaded:
            self._loaded[id(entry)] = entry.load_predictions()
        return self._loaded[id(entry)]
