"""CN-CLIP's text tower with learnable context vectors in place of some input embeddings.

cn_clip's BERT has no ``inputs_embeds`` path, so the input embeddings are built here exactly as
``BertEmbeddings`` builds them (word + position + token type -> LayerNorm -> dropout) and handed to
its encoder with cn_clip's extended mask ``(1 - mask) * -10000``; the ``[CLS]`` output goes through
``text_projection`` as in ``CLIP.encode_text``. Padding is masked: the public CoOp port to
Chinese-CLIP did not converge until its text path honoured the mask.
"""

from __future__ import annotations

import torch

POSITIONS = ("end", "middle", "front")
CONTEXT_LENGTH = 52


def name_token_ids(classnames: list[str]) -> list[list[int]]:
    """Each class name's word-piece ids (no [CLS]/[SEP]), as cn_clip's tokenizer splits them."""
    from cn_clip.clip import _tokenizer

    return [_tokenizer.convert_tokens_to_ids(_tokenizer.tokenize(name)) for name in classnames]


def phrase_token_ids(phrase: str) -> list[int]:
    return name_token_ids([phrase])[0]


def _layout(n_ctx: int, name_len: int, position: str) -> list[tuple[str, int, int]]:
    """The segments after [CLS]: ("ctx", start, end) slices of the context or ("name", 0, len)."""
    if position == "end":
        return [("ctx", 0, n_ctx), ("name", 0, name_len)]
    if position == "front":
        return [("name", 0, name_len), ("ctx", 0, n_ctx)]
    half = n_ctx // 2
    return [("ctx", 0, half), ("name", 0, name_len), ("ctx", half, n_ctx)]


def encode_with_context(
    model, context: torch.Tensor, names: list[list[int]], position: str = "end"
) -> torch.Tensor:
    """(C, D) text features (not normalized) of every class with ``context`` inserted.

    ``context`` is (n_ctx, H), shared by all classes, or (C, n_ctx, H), one per class; H is BERT's
    hidden size. Gradients flow into ``context`` only when the caller enables them.
    """
    from cn_clip.clip import _tokenizer

    bert = model.bert
    embeddings = bert.embeddings
    word = embeddings.word_embeddings
    device = word.weight.device
    cls_id, sep_id = _tokenizer.vocab["[CLS]"], _tokenizer.vocab["[SEP]"]
    n_ctx = context.shape[-2]
    rows, lengths = [], []
    for c, ids in enumerate(names):
        ctx = context[c] if context.dim() == 3 else context  # (n_ctx, H)
        ids = ids[: max(CONTEXT_LENGTH - 2 - n_ctx, 0)]  # the context wins; long names are cut
        name = word(torch.tensor(ids, dtype=torch.long, device=device))  # (len, H)
        pieces = [word(torch.tensor([cls_id], device=device))]
        for kind, start, end in _layout(n_ctx, len(ids), position):
            pieces.append(ctx[start:end] if kind == "ctx" else name)
        pieces.append(word(torch.tensor([sep_id], device=device)))
        row = torch.cat(pieces)  # (L_c, H)
        rows.append(row)
        lengths.append(row.shape[0])
    longest = max(lengths)
    pad = word(torch.zeros(1, dtype=torch.long, device=device))  # [PAD] is id 0
    inputs = torch.stack([torch.cat([r, pad.expand(longest - len(r), -1)]) for r in rows])  # (C, L, H)
    mask = torch.tensor([[1] * n + [0] * (longest - n) for n in lengths], device=device)  # (C, L)
    positions = embeddings.position_embeddings(torch.arange(longest, device=device))  # (L, H)
    token_types = embeddings.token_type_embeddings(torch.zeros(longest, dtype=torch.long, device=device))
    hidden = embeddings.dropout(embeddings.LayerNorm(inputs + positions + token_types))  # (C, L, H)
    extended = (1.0 - mask[:, None, None, :].to(hidden.dtype)) * -10000.0  # (C, 1, 1, L)
    output = bert.encoder(hidden, extended, head_mask=[None] * bert.config.num_hidden_layers)[0]
    return output[:, 0, :] @ model.text_projection  # (C, D): [CLS] pooled as in encode_text
