"""Result records: one JSON file per (model, dataset, method), with per-sample predictions beside it.

Layout of ``<output_dir>/<model>__<dataset>__<method>.json`` (``...__<split>`` appended for a split
other than ``test``, ``...__<tag>`` for inputs other than the defaults: a shard folder's location,
another class-name list or template set, method options; see :mod:`cnclip_eval.naming`;
schema_version 1)::

    {
      "schema_version": 1,
      "model": "ViT-B-16",            # model id as the user named it
      "dataset": "imagenet1k",        # catalog name or local folder name
      "split": "test",
      "method": "baseline",
      "run_name": "baseline",         # the label, or the method with the options that differ:
                                      # "bilingual(weight=0)"
      "main_metric": "top1",          # the dataset's headline metric, a key of "metrics"
      "metrics": {"top1": 0.53, ...}, # fractions in [0, 1]
      "n_samples": 50000,
      "predictions": "ViT-B-16__imagenet1k__baseline.predictions.npz",
      "protocol": "cnclip",           # every setting as CN-CLIP's script, else "custom" (cnclip_eval.protocol)
      "provenance": {...},            # see cnclip_eval.provenance
      "created": "2026-11-23T04:00:00+00:00"
    }

The predictions file (``numpy.savez_compressed``, loadable with ``allow_pickle=False``) holds
``keys`` (N,) str, ``labels`` (N,) int64 or (N, C) int8 for multi-label data, ``topk`` (N, k)
int32 class indices sorted by score (k = min(5, C)), and ``scores`` (N, C) float32 when N * C is
small enough to keep (multi-label, binary and most ELEVATER datasets), so that intervals and paired
tests need no re-run.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from cnclip_eval.errors import UserError
from cnclip_eval.fileio import atomic_write, atomic_write_json, read_json
from cnclip_eval.naming import result_stem

SCHEMA_VERSION = 1
MAX_STORED_SCORES = 20_000_000  # N * C above which only top-k is stored (ImageNet: 50k x 1k)
# float32, not float16: rounded scores tie, and ranking metrics (ROC-AUC, mAP) recomputed from them
# for intervals and paired tests would differ from the reported ones


@dataclass(frozen=True)
class Predictions:
    keys: np.ndarray  # (N,) str
    labels: np.ndarray  # (N,) int64, or (N, C) int8 multi-label
    topk: np.ndarray  # (N, k) int32
    scores: np.ndarray | None = None  # (N, C) float32 (float16 in files written before 2026-12)

    def arrays(self) -> dict[str, np.ndarray]:
        arrays = {"keys": self.keys, "labels": self.labels, "topk": self.topk}
        if self.scores is not None:
            arrays["scores"] = self.scores
        return arrays

    @property
    def correct(self) -> np.ndarray:
        """(N,) bool: top-1 prediction equals the label (single-label data only)."""
        return self.topk[:, 0] == self.labels

    @classmethod
    def from_logits(cls, keys, logits: np.ndarray, labels: np.ndarray) -> Predictions:
        n, c = logits.shape
        k = min(5, c)
        topk = np.argsort(-logits, axis=1, kind="stable")[:, :k].astype(np.int32)
        scores = logits.astype(np.float32) if n * c <= MAX_STORED_SCORES else None
        return cls(np.asarray(keys, dtype=str), np.asarray(labels), topk, scores)


@dataclass(frozen=True)
class QueryRanks:
    """A retrieval result's per-query record: each query's key (``t2i:<text id>``, ``i2t:<image id>``)
    and the 0-based rank of its best-ranked positive, so intervals and paired tests over queries need
    no re-run (:func:`cnclip_eval.report.stats.subset_metric`)."""

    keys: np.ndarray  # (Q,) str, every reported direction's queries
    ranks: np.ndarray  # (Q,) int64

    @classmethod
    def from_directions(cls, query_ids: dict[str, list[str]], ranks: dict[str, np.ndarray]) -> QueryRanks:
        keys = [f"{direction}:{q}" for direction in ranks for q in query_ids[direction]]
        return cls(
            np.asarray(keys, dtype=str), np.concatenate([np.asarray(ranks[d], np.int64) for d in ranks])
        )

    @property
    def directions(self) -> np.ndarray:
        """(Q,) each query's direction, ``t2i`` or ``i2t``."""
        return np.char.partition(self.keys, ":")[:, 0]

    def arrays(self) -> dict[str, np.ndarray]:
        return {"query_keys": self.keys, "query_ranks": self.ranks}


@dataclass
class ResultRecord:
    model: str
    dataset: str
    split: str
    method: str
    run_name: str
    main_metric: str
    metrics: dict[str, float]
    n_samples: int
    provenance: dict[str, Any] = field(default_factory=dict)
    predictions: str | None = None
    protocol: str | None = None  # "cnclip" (CN-CLIP's own settings) or "custom"; None in older files
    created: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    schema_version: int = SCHEMA_VERSION
    file_stem: str | None = None  # set by the engine (see cnclip_eval.naming); older files lack it

    @property
    def main_score(self) -> float:
        return self.metrics[self.main_metric]

    def stem(self) -> str:
        """The file name without ``.json``: as the engine named it (with a tag for non-default
        inputs, see :mod:`cnclip_eval.naming`), else ``model__dataset__run[__split]``."""
        if self.file_stem:
            return self.file_stem
        return result_stem(self.model, self.dataset, self.run_name, self.split, "")


def is_number(value: object) -> bool:
    """An int or float from JSON (``True`` is an int to Python, not a score)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def save_result(
    record: ResultRecord, predictions: Predictions | QueryRanks | None, output_dir: str | Path
) -> Path:
    """Write the predictions, then the JSON that points at them, both atomically."""
    output_dir = Path(output_dir)
    stem = record.stem()
    if predictions is not None:
        record.predictions = f"{stem}.predictions.npz"
        atomic_write(output_dir / record.predictions, lambda f: _write_predictions(f, predictions))
    return atomic_write_json(output_dir / f"{stem}.json", asdict(record))


def _write_predictions(f, predictions: Predictions | QueryRanks) -> None:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **predictions.arrays())
    f.write(buffer.getvalue())


def load_result(path: str | Path) -> ResultRecord:
    path = Path(path)
    data = read_json(path, "result file")
    if not isinstance(data, dict) or data.get("schema_version") != SCHEMA_VERSION:
        raise UserError(f"{path}: expected a cnclip-eval result with schema_version {SCHEMA_VERSION}")
    missing = {"model", "dataset", "method", "metrics", "main_metric", "n_samples"} - set(data)
    if missing:
        raise UserError(f"{path}: result file lacks the keys {sorted(missing)}")
    metrics = data["metrics"]
    if not isinstance(metrics, dict) or not all(is_number(v) for v in metrics.values()):
        raise UserError(f"{path}: 'metrics' must map metric names to numbers")
    if data["main_metric"] not in metrics:
        raise UserError(
            f"{path}: main metric {data['main_metric']!r} is not among its metrics {sorted(metrics)}"
        )
    known = set(ResultRecord.__dataclass_fields__)
    data.setdefault("split", "test")
    data.setdefault("run_name", data["method"])
    return ResultRecord(**{k: v for k, v in data.items() if k in known})


def load_predictions(result_path: str | Path, record: ResultRecord | None = None) -> Predictions | QueryRanks:
    """The per-sample record a result points at: top-k predictions (classification) or per-query
    ranks (retrieval)."""
    result_path = Path(result_path)
    record = record or load_result(result_path)
    if not record.predictions:
        raise UserError(f"{result_path}: this result has no per-sample predictions file")
    pred_path = result_path.parent / record.predictions
    try:
        with np.load(pred_path, allow_pickle=False) as data:
            if "query_ranks" in data.files:
                return QueryRanks(data["query_keys"], data["query_ranks"])
            return Predictions(
                keys=data["keys"],
                labels=data["labels"],
                topk=data["topk"],
                scores=data["scores"] if "scores" in data.files else None,
            )
    except FileNotFoundError:
        raise UserError(f"{pred_path}: predictions file named by {result_path} is missing") from None
    except (ValueError, KeyError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        raise UserError(f"{pred_path}: unreadable predictions file ({error})") from None
