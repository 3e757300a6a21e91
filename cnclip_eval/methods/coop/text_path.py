"""The text tower with learnable context vectors in place of some input embeddings, for any family.

A prompt is ``prefix ctx_1 .. ctx_n <class name> suffix`` in the tower's word-embedding space
(``prefix``/``suffix`` are the family's own, e.g. ``[CLS]``/``[SEP]``), padded with the embedding
of the tokenizer's pad id and masked, then run through the model's ``text_input_embeddings``
capability (:class:`cnclip_eval.models.base.TextEmbeddingInput`), which adds positions and pools as
the family's ``encode_text`` does.
"""

from __future__ import annotations

import torch

from cnclip_eval.errors import UserError
from cnclip_eval.models.base import TEXT_INPUT_EMBEDDINGS, LoadedModel, TextEmbeddingInput

POSITIONS = ("end", "middle", "front")


def embedding_input(model: LoadedModel) -> TextEmbeddingInput:
    path = model.capabilities.get(TEXT_INPUT_EMBEDDINGS)
    if path is None:
        raise UserError(
            f"CoOp needs the capability 'text input embeddings', which model {model.model_id} "
            f"(family {model.family}) lacks"
        )
    return path


def name_token_ids(model: LoadedModel, classnames: list[str]) -> list[list[int]]:
    """Each class name's ids without special tokens, as the model's tokenizer splits them."""
    return embedding_input(model).word_ids(classnames)


def phrase_token_ids(model: LoadedModel, phrase: str) -> list[int]:
    return name_token_ids(model, [phrase])[0]


def _layout(n_ctx: int, name_len: int, position: str) -> list[tuple[str, int, int]]:
    """The segments after the prefix: ("ctx", start, end) slices of the context or ("name", 0, len)."""
    if position == "end":
        return [("ctx", 0, n_ctx), ("name", 0, name_len)]
    if position == "front":
        return [("name", 0, name_len), ("ctx", 0, n_ctx)]
    half = n_ctx // 2
    return [("ctx", 0, half), ("name", 0, name_len), ("ctx", half, n_ctx)]


def encode_with_context(
    model: LoadedModel, context: torch.Tensor, names: list[list[int]], position: str = "end"
) -> torch.Tensor:
    """(C, D) text features (not normalized) of every class with ``context`` inserted.

    ``context`` is (n_ctx, H), shared by all classes, or (C, n_ctx, H), one per class; H is the
    tower's word-embedding width. Gradients flow into ``context`` only when the caller enables them.
    """
    path = embedding_input(model)
    device = model.device

    def embed(ids: list[int]) -> torch.Tensor:
        return path.embed(torch.tensor(ids, dtype=torch.long, device=device))  # (len, H)

    n_ctx = context.shape[-2]
    room = model.tokenizer.context_length - len(path.prefix_ids) - len(path.suffix_ids) - n_ctx
    prefix, suffix = embed(path.prefix_ids), embed(path.suffix_ids)
    rows = []
    for c, ids in enumerate(names):
        ctx = context[c] if context.dim() == 3 else context  # (n_ctx, H)
        name = embed(ids[: max(room, 0)])  # the context wins; long names are cut
        pieces = [prefix]
        for kind, start, end in _layout(n_ctx, name.shape[0], position):
            pieces.append(ctx[start:end] if kind == "ctx" else name)
        pieces.append(suffix)
        rows.append(torch.cat(pieces))  # (L_c, H)
    lengths = [row.shape[0] for row in rows]
    longest = model.tokenizer.context_length if model.tokenizer.pad_to_context else max(lengths)
    pad = embed([model.tokenizer.pad_id])  # (1, H)
    inputs = torch.stack([torch.cat([r, pad.expand(longest - len(r), -1)]) for r in rows])  # (C, L, H)
    mask = torch.tensor([[1] * n + [0] * (longest - n) for n in lengths], device=device)  # (C, L)
    return path.encode(inputs, mask)  # (C, D)
