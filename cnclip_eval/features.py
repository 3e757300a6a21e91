"""On-disk caches, content-addressed: image features per shard, and text classifiers.

Every entry is keyed by a hash of *everything* that changes its content (model weights, arch,
preprocessing, data source, split, shard list, precision, limit; for classifiers the method, its
options and the files they name, the class names and templates), so a shared cache folder can
never hand one model's vectors to another. Files are ``.npz`` loaded with ``allow_pickle=False``
plus a JSON of the key's inputs, each written atomically.
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cnclip_eval.fileio import atomic_write, atomic_write_json, sha256_file, sha256_json

CACHE_ENV = "CNCLIP_EVAL_CACHE"
CACHE_FORMAT = 1


def default_cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "cnclip-eval")


def _save_npz(path: Path, **arrays: np.ndarray) -> None:
    def write(f) -> None:
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        f.write(buffer.getvalue())

    atomic_write(path, write)


@dataclass
class ShardFeatures:
    features: np.ndarray  # (n, D) float32, rows L2-normalized
    labels: np.ndarray  # (n,) int64 or (n, C) int8
    keys: np.ndarray  # (n,) str


class FeatureCache:
    """Image features of one (model, dataset source, split, preprocessing, precision), shard by shard."""

    def __init__(self, root: Path, key_inputs: dict[str, Any]) -> None:
        self.key = sha256_json({"format": CACHE_FORMAT, **key_inputs})
        self.dir = Path(root) / "features" / self.key[:24]
        self.key_inputs = key_inputs

    def _path(self, shard: int) -> Path:
        return self.dir / f"shard-{shard:05d}.npz"

    def has(self, shard: int) -> bool:
        return self._path(shard).is_file()

    def save(self, shard: int, data: ShardFeatures) -> None:
        if not (self.dir / "key.json").is_file():
            atomic_write_json(self.dir / "key.json", self.key_inputs)
        _save_npz(self._path(shard), features=data.features, labels=data.labels, keys=data.keys)

    def load(self, shard: int) -> ShardFeatures:
        with np.load(self._path(shard), allow_pickle=False) as data:
            return ShardFeatures(data["features"], data["labels"], data["keys"])


def file_fingerprints(options: dict[str, Any]) -> dict[str, str]:
    """sha256 of every option value that names an existing file: a changed file is a new entry."""
    return {
        name: sha256_file(value)
        for name, value in options.items()
        if isinstance(value, str | os.PathLike) and str(value) and Path(value).is_file()
    }


class ClassifierCache:
    """Text classifiers ``(C, D)`` with the provenance their method reported."""

    def __init__(self, root: Path) -> None:
        self.dir = Path(root) / "classifiers"

    @staticmethod
    def key(inputs: dict[str, Any]) -> str:
        return sha256_json({"format": CACHE_FORMAT, **inputs})

    def get(self, key: str) -> tuple[np.ndarray, dict] | None:
        weights_path, meta_path = self.dir / f"{key[:24]}.npz", self.dir / f"{key[:24]}.json"
        if not (weights_path.is_file() and meta_path.is_file()):
            return None
        with np.load(weights_path, allow_pickle=False) as data:
            weights = data["weights"]
        return weights, json.loads(meta_path.read_text(encoding="utf-8"))

    def put(self, key: str, weights: np.ndarray, provenance: dict) -> None:
        _save_npz(self.dir / f"{key[:24]}.npz", weights=weights)
        atomic_write_json(self.dir / f"{key[:24]}.json", provenance)
