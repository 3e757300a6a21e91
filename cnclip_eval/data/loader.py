"""Streaming shards through DataLoader workers, each sample exactly once.

Shards are dealt as webdataset deals them: rank ``r`` of ``R`` takes every ``R``-th shard from
``r`` (split by node), and worker ``w`` of ``W`` every ``W``-th of those from ``w`` (webdataset's
``split_by_worker``). A worker with no shard (more workers than shards) yields nothing, so no
sample is read twice and none is skipped. Batches never straddle shards; the last
batch of a shard says so, which lets the engine cache image features shard by shard and resume an
interrupted run at shard granularity.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import NamedTuple

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset

from cnclip_eval.data.layout import Shard
from cnclip_eval.data.shards import decode_image, encoded_image, read_shard
from cnclip_eval.data.sources import Source
from cnclip_eval.errors import DataError, UserError


class ShardBatch(NamedTuple):
    shard: int  # shard index
    images: torch.Tensor | list  # (B, 3, S, S); or B encoded images (uint8 tensors) for device decoding
    labels: torch.Tensor  # (B,) int64 or (B, C) int8
    keys: list[str]
    last: bool  # the final batch of its shard


def worker_shards(shards: Sequence[Shard], rank: int, world_size: int) -> list[Shard]:
    """This DataLoader worker's shards of this rank's, through webdataset's ``split_by_worker`` stage
    (the rank is the harness's own, from torchrun, so the node split is the same slice written out)."""
    from webdataset.shardlists import split_by_worker

    return list(split_by_worker(list(shards[rank::world_size])))


class StreamFailure(NamedTuple):
    """A user-facing error met while reading, carried to the main process as data.

    Raised inside a DataLoader worker, it would reach the user wrapped in the worker's traceback
    text; yielded, the main process raises it as it was (:func:`raise_failures`).
    """

    error: UserError


def raise_failures(batches: Iterator) -> Iterator[ShardBatch]:
    for batch in batches:
        if isinstance(batch, StreamFailure):
            raise batch.error
        yield batch


class ShardStream(IterableDataset):
    def __init__(
        self,
        source: Source,
        shards: Sequence[Shard],
        transform: Callable,
        num_classes: int,
        multilabel: bool,
        batch_size: int,
        rank: int = 0,
        world_size: int = 1,
        limit: int | None = None,
        decode: Callable[[dict], object] = decode_image,
    ) -> None:
        """``decode`` turns a sample into what ``transform`` takes; with ``encoded_image`` (and an
        identity transform) batches hold lists of encoded images instead of a stacked tensor."""
        self.source, self.shards, self.transform = source, list(shards), transform
        self.decode = decode
        self.num_classes, self.multilabel = num_classes, multilabel
        self.batch_size, self.rank, self.world_size = batch_size, rank, world_size
        self.limit = limit

    def __iter__(self) -> Iterator[ShardBatch | StreamFailure]:
        try:
            yield from self._batches()
        except UserError as error:
            yield StreamFailure(error)

    def _batches(self) -> Iterator[ShardBatch]:
        remaining = self.limit
        for shard in worker_shards(self.shards, self.rank, self.world_size):
            if remaining is not None and remaining <= 0:
                # past the limit: an empty final batch, so the shard still counts as done
                yield self._batch(shard, [], [], [], last=True)
                continue
            for batch in self._read(shard, remaining):
                if remaining is not None:
                    remaining -= len(batch.keys)
                yield batch

    def _read(self, shard: Shard, remaining: int | None) -> Iterator[ShardBatch]:
        name = self.source.url(shard.relpath)
        try:
            stream = self.source.open(shard.relpath)
        except FileNotFoundError:
            raise DataError(f"shard {name}: missing (nshards.txt lists it)") from None
        keys, images, labels = [], [], []
        read = 0
        with stream:
            for key, image, label in read_shard(
                stream, name, self.transform, self.num_classes, self.multilabel, self.decode
            ):
                keys.append(key)
                images.append(image)
                labels.append(label)
                read += 1
                if remaining is not None and read >= remaining:
                    break
                if len(keys) == self.batch_size:
                    yield self._batch(shard, keys, images, labels, last=False)
                    keys, images, labels = [], [], []
        yield self._batch(shard, keys, images, labels, last=True)

    def _batch(self, shard: Shard, keys, images, labels, last: bool) -> ShardBatch:
        if images:
            # encoded images differ in length: they stay a list, decoded after the loader
            stacked = list(images) if self.decode is encoded_image else torch.stack(images)
            label_tensor = torch.from_numpy(np.stack(labels)) if self.multilabel else torch.tensor(labels)
        else:  # an empty shard, or a shard whose size is a multiple of the batch size
            stacked = torch.empty(0)
            label_tensor = torch.empty(0, dtype=torch.long)
        return ShardBatch(shard.index, stacked, label_tensor, keys, last)


def make_loader(stream: ShardStream, num_workers: int, pin_memory: bool) -> DataLoader:
    # batch_size=None: the stream batches itself, so batches never straddle shards
    return DataLoader(
        stream,
        batch_size=None,
        num_workers=num_workers,
        pin_memory=pin_memory,
        persistent_workers=False,
        prefetch_factor=4 if num_workers > 0 else None,
    )
