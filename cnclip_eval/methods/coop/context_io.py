"""Learned contexts on disk: a safetensors file (tensor + metadata) and a JSON copy for people.

The metadata says what the context was trained for (model weights, arch, class list, shots, seed,
recipe, final loss); loading it for another model or class list is refused.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from cnclip_eval.errors import UserError
from cnclip_eval.fileio import atomic_write_bytes, atomic_write_json

FORMAT = "cnclip-eval-coop-context/1"


def save_context(path: str | Path, context: torch.Tensor, meta: dict[str, Any]) -> Path:
    from safetensors.torch import save

    path = Path(path)
    meta = {"format": FORMAT, **meta}
    blob = save({"context": context.detach().float().cpu().contiguous()}, metadata={"meta": json.dumps(meta)})
    atomic_write_bytes(path, blob)
    atomic_write_json(path.with_suffix(".json"), meta)
    return path


def load_context(path: str | Path) -> tuple[torch.Tensor, dict[str, Any]]:
    from safetensors import SafetensorError
    from safetensors.torch import load

    path = Path(path)
    try:
        blob = path.read_bytes()
        tensors = load(blob)
        from safetensors import safe_open

        with safe_open(str(path), "pt") as f:
            meta = json.loads((f.metadata() or {}).get("meta", "{}"))
    except FileNotFoundError:
        raise UserError(
            f"{path}: no such context file; train one with `cnclip-eval coop train ... --out {path}`"
        ) from None
    except (SafetensorError, ValueError, OSError) as error:
        raise UserError(f"{path}: not a CoOp context file ({error})") from None
    if meta.get("format") != FORMAT or "context" not in tensors:
        raise UserError(f"{path}: not a cnclip-eval CoOp context (expected format {FORMAT})")
    return tensors["context"], meta
