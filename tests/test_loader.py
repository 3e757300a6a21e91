"""Streaming: every sample exactly once, whatever the number of workers; batches never straddle shards."""

from __future__ import annotations

import pytest

from cnclip_eval.data.layout import read_layout
from cnclip_eval.data.loader import ShardStream, make_loader, worker_shards
from cnclip_eval.data.sources import open_source

from conftest import make_dataset


@pytest.fixture(scope="module")
def layout(tmp_path_factory):
    root = make_dataset(tmp_path_factory.mktemp("wds"), n=41, num_shards=4)
    return read_layout(open_source(str(root)), "test")


def identity(image):
    import torch

    return torch.zeros(3, 2, 2)


@pytest.mark.parametrize("num_workers", [0, 1, 2, 6])
def test_each_sample_exactly_once(layout, num_workers):
    stream = ShardStream(
        layout.source, layout.shards, identity, num_classes=5, multilabel=False, batch_size=4
    )
    keys, shards_done = [], []
    for batch in make_loader(stream, num_workers=num_workers, pin_memory=False):
        keys.extend(batch.keys)
        assert len(batch.keys) <= 4
        if batch.last:
            shards_done.append(batch.shard)
    assert sorted(keys) == [f"s0_{i:04d}" for i in range(41)]
    assert sorted(shards_done) == [0, 1, 2, 3]


def test_assignment_covers_ranks_and_workers(layout, monkeypatch):
    """Every shard goes to exactly one (rank, worker); webdataset reads the worker from WORKER and
    NUM_WORKERS where they are set, as here, else from the DataLoader."""
    dealt = []
    for rank in range(2):
        for worker in range(3):
            monkeypatch.setenv("WORKER", str(worker))
            monkeypatch.setenv("NUM_WORKERS", "3")
            dealt += [s.index for s in worker_shards(layout.shards, rank, 2)]
    assert sorted(dealt) == [0, 1, 2, 3]


def test_limit_stops_early(layout):
    stream = ShardStream(layout.source, layout.shards, identity, 5, False, batch_size=4, limit=6)
    keys = [k for batch in make_loader(stream, 0, False) for k in batch.keys]
    assert keys == [f"s0_{i:04d}" for i in range(6)]
