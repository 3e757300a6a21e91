"""Multi-GPU and multi-node runs through ``torchrun``: shards split across ranks, results on rank 0.

Launched by torchrun (``RANK``/``WORLD_SIZE``/``LOCAL_RANK`` in the environment), the harness joins
the process group (NCCL on GPUs, gloo on CPUs), each rank encodes its own shards (each sample exactly
once, see ``data.loader.worker_shards``), the per-shard features are gathered to every rank, and
rank 0 alone builds classifiers and writes results. A plain ``cnclip-eval`` run is world size 1.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def current_world() -> World:
    """The process group, joined on first use when launched by torchrun."""
    if "WORLD_SIZE" not in os.environ or int(os.environ["WORLD_SIZE"]) <= 1:
        return World()
    import torch
    import torch.distributed as dist

    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend=backend)
    return World(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)))


def rank_device(requested: str, world: World) -> str:
    """Each rank on its own GPU: ``cuda`` becomes ``cuda:<local rank>``."""
    if world.size > 1 and requested == "cuda":
        return f"cuda:{world.local_rank}"
    return requested


def all_gather(obj, world: World) -> list:
    """Every rank's ``obj``, in rank order (one element when not distributed)."""
    if world.size == 1:
        return [obj]
    import torch.distributed as dist

    gathered: list = [None] * world.size
    dist.all_gather_object(gathered, obj)
    return gathered


def barrier(world: World) -> None:
    if world.size > 1:
        import torch.distributed as dist

        dist.barrier()
