"""``--model demo``: the tiny CN-CLIP trained on synthetic shapes, shipped with the package.

It exists so that everything can be run and checked offline, where CN-CLIP's weights cannot be
downloaded and a random model scores at chance. It is a demonstration model, not CN-CLIP: it knows
twenty coloured shapes and patterns and nothing else (see :mod:`cnclip_eval.demo.train`).
"""

from __future__ import annotations

from pathlib import Path

from cnclip_eval.models.base import LoadedModel, ModelRequest

ARCH = "demo-rn@demo-bert"
CHECKPOINT = Path(__file__).parent / "demo.pt"  # made by `python -m cnclip_eval.demo.train`


def provide(request: ModelRequest) -> LoadedModel:
    """The shipped checkpoint in the demo architecture (``--arch`` cannot change it)."""
    from cnclip_eval.errors import UserError
    from cnclip_eval.models.cnclip import from_config

    if not CHECKPOINT.is_file():  # only in a checkout where someone deleted it
        raise UserError(
            f"{CHECKPOINT}: the demo checkpoint is missing; rebuild it with "
            f"`python -m cnclip_eval.demo.train --out {CHECKPOINT}`"
        )
    return from_config(
        request, ARCH, CHECKPOINT, model_id="demo", source="cnclip-eval demo checkpoint (synthetic shapes)"
    )


def identify(request: ModelRequest):
    from cnclip_eval.models.cnclip import identity_of

    return identity_of(request, ARCH, CHECKPOINT) if CHECKPOINT.is_file() else None


provide.identify = identify
