"""Image features of a whole dataset split: computed once per model and dataset, cached per shard.

Shards already in the cache are not read again, so an interrupted run resumes where it stopped and
ends with the same numbers as an uninterrupted one.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from cnclip_eval.config import RunConfig
from cnclip_eval.data.device_decode import DevicePreprocess
from cnclip_eval.data.loader import ShardStream, make_loader, raise_failures
from cnclip_eval.data.resolve import ResolvedDataset
from cnclip_eval.data.shards import decode_image, encoded_image
from cnclip_eval.distributed import World, all_gather
from cnclip_eval.errors import DataError
from cnclip_eval.features import FeatureCache, ShardFeatures
from cnclip_eval.models import LoadedModel

log = logging.getLogger(__name__)

SINGLE_PROCESS = World()


@dataclass
class DatasetFeatures:
    features: torch.Tensor  # (N, D) float32, rows L2-normalized
    labels: np.ndarray  # (N,) int64 or (N, C) int8
    keys: np.ndarray  # (N,) str
    cache_key: str
    shards_from_cache: int
    shards_computed: int
    seconds: float
    ranks: int = 1  # processes that shared the encoding (torchrun)


def autocast(device: torch.device, precision: str):
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}[precision]
    return torch.autocast(device_type=device.type, dtype=dtype)


def feature_cache_for(
    model: LoadedModel,
    dataset: ResolvedDataset,
    cache_root,
    precision: str,
    limit: int | None,
    decode: str = "pil",
) -> FeatureCache:
    from cnclip_eval.fingerprint import feature_key_inputs

    return FeatureCache(cache_root, feature_key_inputs(model.identity, dataset, precision, limit, decode))


def compute_features(
    model: LoadedModel,
    dataset: ResolvedDataset,
    cache: FeatureCache,
    *,
    batch_size: int,
    num_workers: int,
    precision: str,
    limit: int | None,
    progress: bool = True,
    world: World = SINGLE_PROCESS,
    decode: str = "pil",
) -> DatasetFeatures:
    started = time.perf_counter()
    layout = dataset.layout
    # every cached shard is read (and its checksum checked) once, here: a damaged one joins the todo
    shards: dict[int, ShardFeatures] = {}
    for s in layout.shards:
        if cache.has(s.index) and (data := cache.load(s.index)) is not None:
            shards[s.index] = data
    todo = [s for s in layout.shards if s.index not in shards]
    if world.size > 1:  # every rank must deal the same shards: take the union of what is missing
        missing = {i for ranks_todo in all_gather([s.index for s in todo], world) for i in ranks_todo}
        todo = [s for s in layout.shards if s.index in missing]
    if todo:
        computed = _encode_shards(
            model,
            dataset,
            cache,
            todo,
            batch_size=batch_size,
            num_workers=num_workers,
            precision=precision,
            limit=limit,
            progress=progress,
            world=world,
            decode=decode,
        )
        shards.update(computed)
        if world.size > 1:
            for gathered in all_gather(computed, world):
                for shard, data in gathered.items():
                    if not cache.has(shard):  # another rank's shard: keep it here too (no shared disk needed)
                        cache.save(shard, data)
                    shards[shard] = data
    parts = [part for s in layout.shards if len((part := shards[s.index]).keys)]
    if not parts:
        raise DataError(f"{layout.describe()}: the shards hold no samples")
    features = torch.from_numpy(np.concatenate([p.features for p in parts]))
    labels = np.concatenate([p.labels for p in parts])
    keys = np.concatenate([p.keys for p in parts])
    _check_samples(dataset, keys, limit)
    return DatasetFeatures(
        features,
        labels,
        keys,
        cache.key,
        len(layout.shards) - len(todo),
        len(todo),
        time.perf_counter() - started,
        world.size,
    )


def _identity(x):
    return x


def _encode_shards(
    model, dataset, cache, shards, *, batch_size, num_workers, precision, limit, progress, world, decode
) -> dict[int, ShardFeatures]:
    """Encode this rank's share of ``shards``, saving each to the cache as it completes."""
    from tqdm import tqdm

    device = model.device
    if limit is not None:
        num_workers = 0  # one reader, so the limit counts samples in shard order
    on_device = decode == "torchvision"
    stream = ShardStream(
        dataset.layout.source,
        shards,
        _identity if on_device else model.image_transform(),
        dataset.num_classes,
        dataset.layout.multilabel,
        batch_size,
        limit=limit,
        rank=world.rank,
        world_size=world.size,
        decode=encoded_image if on_device else decode_image,
    )
    preprocess = DevicePreprocess(model.preprocessing, device) if on_device else None
    shard_names = {s.index: dataset.layout.source.url(s.relpath) for s in shards}
    loader = make_loader(stream, num_workers=num_workers, pin_memory=device.type == "cuda")
    pending: dict[int, list] = {}
    finished: dict[int, ShardFeatures] = {}
    bar = tqdm(
        total=limit or dataset.expected_samples,
        unit="img",
        desc=f"image features {dataset.name}",
        disable=not progress,
        leave=False,
    )
    with torch.inference_mode(), autocast(device, precision), bar:
        for batch in raise_failures(iter(loader)):
            parts = pending.setdefault(batch.shard, [])
            if batch.keys:
                if preprocess is not None:
                    images = preprocess(batch.images, batch.keys, shard_names[batch.shard])
                else:
                    images = batch.images.to(device, non_blocking=True)
                encoded = F.normalize(model.encode_image(images).float(), dim=-1).cpu()  # (B, D)
                parts.append((encoded.numpy(), batch.labels.numpy(), np.asarray(batch.keys, dtype=str)))
                bar.update(len(batch.keys))
            if batch.last:
                finished[batch.shard] = _join(pending.pop(batch.shard), dataset)
                cache.save(batch.shard, finished[batch.shard])
    return finished


def _join(parts: list, dataset: ResolvedDataset) -> ShardFeatures:
    if not parts:  # an empty shard still gets a (0, D) entry, so it is not read again
        return ShardFeatures(np.zeros((0, 0), np.float32), np.zeros((0,), np.int64), np.zeros((0,), str))
    return ShardFeatures(
        np.concatenate([p[0] for p in parts]),
        np.concatenate([p[1] for p in parts]),
        np.concatenate([p[2] for p in parts]),
    )


def _check_samples(dataset: ResolvedDataset, keys: np.ndarray, limit: int | None) -> None:
    if len(keys) == 0:
        raise DataError(f"{dataset.layout.describe()}: the shards hold no samples")
    unique, counts = np.unique(keys, return_counts=True)
    if (counts > 1).any():
        raise DataError(
            f"{dataset.layout.describe()}: sample key {str(unique[counts > 1][0])!r} occurs more than once"
        )
    expected = dataset.expected_samples
    if limit is None and expected is not None and len(keys) != expected:
        raise DataError(
            f"{dataset.layout.describe()}: the shards hold {len(keys)} samples, but {dataset.name} "
            f"{dataset.layout.split} has {expected}; some shards are truncated or of another split"
        )


def dataset_features(
    model: LoadedModel,
    dataset: ResolvedDataset,
    config: RunConfig,  # batch size, workers, precision, limit, decode, progress
    cache_root: Path,
    world: World = SINGLE_PROCESS,
) -> DatasetFeatures:
    """Image features of ``dataset`` under ``model``: from the cache, or computed (and cached) now."""
    cache = feature_cache_for(model, dataset, cache_root, config.precision, config.limit, config.decode)
    return compute_features(
        model,
        dataset,
        cache,
        batch_size=config.batch_size,
        num_workers=config.num_workers,
        precision=config.precision,
        limit=config.limit,
        decode=config.decode,
        progress=config.progress and world.is_main,
        world=world,
    )
