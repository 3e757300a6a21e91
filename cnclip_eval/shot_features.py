"""Image features of the few train samples a few-shot method learns from, without encoding the split.

K shots per class need the labels of every train sample but the features of only a few of them: on
ImageNet-1k, 16 shots and 4 validation images per class are 20,000 of 1.28M images. So the split is
read twice, cheaply and then narrowly:

1. :func:`split_index`: every sample's key and label (and shard), read from the tar stream without
   decoding an image; cached per shard, keyed like the feature cache (source, shard sizes and mtimes).
2. :func:`sample_features`: the features of the samples a draw picked, decoded and encoded as the
   dataset pass encodes them (the family's PIL preprocessing, fp32 or the run's precision), cached per
   shard as the set of samples encoded so far. Another seed or K adds only the samples it adds; a
   stopped run resumes with what it had.

Both ``coop train`` and the few-shot methods go through here, so the same seed gives the same shots
and every sample is encoded once per model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from cnclip_eval.config import RunConfig
from cnclip_eval.data.resolve import ResolvedDataset
from cnclip_eval.data.shards import decode_image, decode_label, group_samples, tar_members
from cnclip_eval.errors import DataError
from cnclip_eval.features import FeatureCache, ShardFeatures
from cnclip_eval.fingerprint import feature_key_inputs, shards_key_inputs
from cnclip_eval.image_features import autocast
from cnclip_eval.models.base import LoadedModel

INDEX_FORMAT = 1


@dataclass(frozen=True)
class SplitIndex:
    keys: np.ndarray  # (N,) str
    labels: np.ndarray  # (N,) int64
    shards: np.ndarray  # (N,) int: the layout index of each sample's shard


@dataclass
class SampleFeatures:
    features: torch.Tensor  # (M, D) float32, rows L2-normalized, in the order asked for
    encoded: int  # samples encoded now
    from_cache: int  # samples read from the cache
    cache_key: str


def _shard_samples(dataset: ResolvedDataset, shard):
    source = dataset.layout.source
    name = source.url(shard.relpath)
    with source.open(shard.relpath) as stream:
        yield from group_samples(tar_members(stream, name), name)


def split_index(dataset: ResolvedDataset, cache_root: Path) -> SplitIndex:
    """Every sample's key and label, in shard order; no image is decoded."""
    layout = dataset.layout
    cache = FeatureCache(
        cache_root,
        {"split_index": INDEX_FORMAT, **shards_key_inputs(dataset), "num_classes": dataset.num_classes},
    )
    keys, labels, shards = [], [], []
    for shard in layout.shards:
        stored = cache.load(shard.index)
        if stored is None:
            found = [
                (sample["__key__"], decode_label(sample, dataset.num_classes, False))
                for sample in _shard_samples(dataset, shard)
            ]
            stored = ShardFeatures(
                np.zeros((len(found), 0), np.float32),  # an index entry: no feature columns
                np.array([label for _, label in found], dtype=np.int64),
                np.array([key for key, _ in found], dtype=str),
            )
            cache.save(shard.index, stored)
        keys.append(stored.keys)
        labels.append(stored.labels)
        shards.append(np.full(len(stored.keys), shard.index))
    if not sum(len(k) for k in keys):
        raise DataError(f"{layout.describe()}: the shards hold no samples")
    return SplitIndex(np.concatenate(keys), np.concatenate(labels), np.concatenate(shards))


def sample_features(
    model: LoadedModel,
    dataset: ResolvedDataset,
    index: SplitIndex,
    picked: np.ndarray,
    config: RunConfig,
    cache_root: Path,
) -> SampleFeatures:
    """(len(picked), D) features of the samples at ``picked`` (indices into ``index``), in that order."""
    inputs = feature_key_inputs(model.identity, dataset, config.precision, None, "pil")
    cache = FeatureCache(cache_root, {"samples_of": inputs})
    shards = {s.index: s for s in dataset.layout.shards}
    found: dict[str, np.ndarray] = {}
    encoded = from_cache = 0
    picked_shards = index.shards[picked]
    for shard_index in sorted(set(picked_shards.tolist())):
        here = picked[picked_shards == shard_index]
        wanted = {
            str(k): int(label) for k, label in zip(index.keys[here], index.labels[here])
        }  # key -> label
        stored = cache.load(shard_index)
        have = dict(zip(map(str, stored.keys), stored.features)) if stored is not None else {}
        labels = dict(zip(map(str, stored.keys), stored.labels.tolist())) if stored is not None else {}
        missing = set(wanted) - set(have)
        from_cache += len(wanted) - len(missing)
        if missing:
            new = _encode_samples(model, dataset, shards[shard_index], missing, config)
            have.update(new)
            labels.update({key: wanted[key] for key in new})
            encoded += len(new)
            ordered = sorted(have)
            cache.save(
                shard_index,
                ShardFeatures(
                    np.stack([have[k] for k in ordered]).astype(np.float32),
                    np.array([labels[k] for k in ordered], dtype=np.int64),
                    np.array(ordered, dtype=str),
                ),
            )
        found.update({k: have[k] for k in wanted})
    features = torch.from_numpy(np.stack([found[str(k)] for k in index.keys[picked]]))
    return SampleFeatures(features, encoded, from_cache, cache.key)


@torch.inference_mode()
def _encode_samples(model, dataset, shard, keys: set[str], config: RunConfig) -> dict[str, np.ndarray]:
    """key -> (D,) normalized feature of the samples ``keys`` of one shard, encoded in batches."""
    transform = model.image_transform()
    decoded = [
        (s["__key__"], transform(decode_image(s)))
        for s in _shard_samples(dataset, shard)
        if s["__key__"] in keys
    ]
    missing = keys - {k for k, _ in decoded}
    if missing:
        raise DataError(
            f"{dataset.layout.describe()}: samples {sorted(missing)[:5]} vanished from shard {shard.relpath}"
        )
    out: dict[str, np.ndarray] = {}
    for start in range(0, len(decoded), config.batch_size):
        batch = decoded[start : start + config.batch_size]
        pixels = torch.stack([pixels for _, pixels in batch]).to(model.device)
        with autocast(model.device, config.precision):
            features = F.normalize(model.encode_image(pixels).float(), dim=-1).cpu().numpy()
        out.update({key: feature for (key, _), feature in zip(batch, features)})
    return out
