"""On-disk caches, content-addressed: image features per shard, and text classifiers.

Every entry is keyed by a hash of *everything* that changes its content (model weights, arch,
preprocessing, data source, split, shard list, precision, limit; for classifiers the method, its
options and the files they name, the class names and templates), so a shared cache folder can
never hand one model's vectors to another. Files are ``.npz`` loaded with ``allow_pickle=False``
plus a JSON of the key's inputs, each written atomically. Each entry holds a sha256 of its arrays
(and of its metadata), checked on every load: a damaged file (a disk error, a copy cut short) is
named in a warning, deleted and recomputed, never served or left to crash every later run.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cnclip_eval.fileio import atomic_write, atomic_write_bytes, atomic_write_json, sha256_file, sha256_json

log = logging.getLogger(__name__)

CACHE_ENV = "CNCLIP_EVAL_CACHE"
CACHE_FORMAT = 2  # 2: every entry carries a checksum (format 1 entries are recomputed once)


def default_cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "cnclip-eval")


CHECKSUM = "__sha256__"  # an array in every entry: the sha256 of the others' bytes (and metadata)
# the ways numpy and zipfile fail on a damaged file
DAMAGED = (OSError, ValueError, KeyError, EOFError, struct.error, zipfile.BadZipFile, zlib.error)


def _digest(arrays: dict[str, np.ndarray], extra: bytes) -> str:
    digest = hashlib.sha256(extra)
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}:{array.dtype.str}:{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def _save_npz(path: Path, extra: bytes = b"", **arrays: np.ndarray) -> None:
    """An entry with its checksum; ``extra`` is metadata stored beside it that the checksum covers."""
    checked = {**arrays, CHECKSUM: np.asarray(_digest(arrays, extra))}

    def write(f) -> None:
        buffer = io.BytesIO()
        np.savez(buffer, **checked)
        f.write(buffer.getvalue())

    atomic_write(path, write)


def _load_npz(path: Path, extra: bytes = b"") -> dict[str, np.ndarray] | None:
    """The entry's arrays, or None when the file is damaged (truncated, flipped bytes, empty): a
    warning names it and it is deleted, so the caller recomputes it instead of failing every run."""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
        stored = str(arrays.pop(CHECKSUM))
        if stored != _digest(arrays, extra):
            raise ValueError("checksum mismatch")
    except FileNotFoundError:
        return None
    except DAMAGED as error:
        log.warning(
            "%s: damaged cache entry (%s: %s); deleted, recomputing", path, type(error).__name__, error
        )
        path.unlink(missing_ok=True)
        return None
    return arrays


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
        if not (self.dir / "key.json").is_file():  # again after the cache folder was removed mid-run
            atomic_write_json(self.dir / "key.json", self.key_inputs)
        _save_npz(self._path(shard), features=data.features, labels=data.labels, keys=data.keys)

    def load(self, shard: int) -> ShardFeatures | None:
        """The shard's features; None when absent or damaged (see ``_load_npz``)."""
        arrays = _load_npz(self._path(shard))
        if arrays is None:
            return None
        return ShardFeatures(arrays["features"], arrays["labels"], arrays["keys"])


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
        """The classifier and its provenance; None when absent or damaged (then deleted)."""
        weights_path, meta_path = self.dir / f"{key[:24]}.npz", self.dir / f"{key[:24]}.json"
        if not (weights_path.is_file() and meta_path.is_file()):
            return None
        try:
            meta = meta_path.read_bytes()
            provenance = json.loads(meta)
        except (OSError, ValueError) as error:
            log.warning("%s: damaged cache entry (%s); deleted, recomputing", meta_path, error)
            meta_path.unlink(missing_ok=True)
            return None
        arrays = _load_npz(weights_path, extra=meta)  # the checksum covers the provenance too
        if arrays is None or "weights" not in arrays:
            return None
        return arrays["weights"], provenance

    def put(self, key: str, weights: np.ndarray, provenance: dict) -> None:
        meta = (json.dumps(provenance, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
        _save_npz(self.dir / f"{key[:24]}.npz", extra=meta, weights=weights)
        atomic_write_bytes(self.dir / f"{key[:24]}.json", meta)
