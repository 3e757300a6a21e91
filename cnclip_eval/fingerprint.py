"""One fingerprint for the caches and for skip-existing.

The image-feature cache, the classifier cache and ``skip_existing`` all ask "was this made from
these inputs?". They answer with the same key inputs, built here, so a shard folder rebuilt in
place (new size or mtime), a replaced checkpoint (new sha256) or an edited class-name file makes
all three miss together: a suite never serves a result its caches would have recomputed.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from cnclip_eval.data.device_decode import preprocessing_id
from cnclip_eval.features import file_fingerprints
from cnclip_eval.fileio import sha256_json
from cnclip_eval.methods.base import method_cache_inputs
from cnclip_eval.models.base import ModelIdentity


def feature_key_inputs(
    model: ModelIdentity, dataset, precision: str, limit: int | None, decode: str
) -> dict[str, Any]:
    """What image features depend on: the weights, the preprocessing and the exact shards."""
    return {
        "weights": model.weights_id,
        "arch": model.arch,
        "image_size": model.image_size,
        "preprocessing": preprocessing_id(model.preprocessing, decode),
        **shards_key_inputs(dataset),
        "multilabel": dataset.layout.multilabel,
        "precision": precision,
        "limit": limit,
    }


def shards_key_inputs(dataset) -> dict[str, Any]:
    """Which shards, exactly: their source, split, names and versions."""
    layout = dataset.layout
    return {
        "source": layout.source.describe(),
        "split": layout.split,
        "shards": [s.relpath for s in layout.shards],
        # size and mtime of local shards: a folder rebuilt in place must not be served old results
        "shard_versions": [layout.source.version(s.relpath) for s in layout.shards],
    }


def classifier_key_inputs(
    model: ModelIdentity, texts, spec, method, options: dict, precision: str
) -> dict[str, Any]:
    """What a classifier depends on: the weights, the method, its options and the files they name,
    what the method finds by itself, and the dataset's texts."""
    return {
        "weights": model.weights_id,
        "arch": model.arch,
        "method": spec.name,
        "options": options,
        "files": file_fingerprints(options),
        "method_inputs": method_cache_inputs(method, texts, options),
        "texts": asdict(texts),
        "precision": precision,
    }


def result_fingerprint(features: dict, classifier: dict, stem: str) -> str:
    """The skip-existing key: both cache keys, and the file the result is named by."""
    return sha256_json({"features": features, "classifier": classifier, "stem": stem})


def index_existing(output_dir: Path) -> dict[str, Path]:
    """result fingerprint -> result file, for the results already in ``output_dir``."""
    index = {}
    for path in sorted(Path(output_dir).glob("*.json")):
        try:
            fingerprint = json.loads(path.read_text(encoding="utf-8"))["provenance"]["request_fingerprint"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if (path.parent / f"{path.stem}.predictions.npz").is_file():
            index[fingerprint] = path
    return index
