"""Text side: tokenize with the model's own tokenizer, encode batched across classes, build classifiers.

Everything model-specific comes from the model contract (:mod:`cnclip_eval.models.base`): the
tokenizer, its context length and pad id, and ``encode_text(ids, mask)``. Prompts are sorted by
token length and, where the family's tokenizer says trailing padding changes nothing
(``pad_to_context`` False: its tower masks padding and pools [CLS] or the last real token), each
batch is cut to its longest prompt: exact, not an approximation, and tested per family. Families
whose tower needs full-length rows (SigLIP) get every batch padded to the context length.

A ``TextEncoder`` lives for one model in one run and remembers the embedding of every prompt it
encoded: methods share many prompts (``bilingual``'s Chinese side and ``llm+templates`` reuse the
baseline's template prompts), and tokenizing costs about as much as the tiny text towers
themselves, so a prompt is tokenized and encoded once per run.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

if TYPE_CHECKING:
    from cnclip_eval.models.base import LoadedModel

log = logging.getLogger(__name__)


def pad_batch(ids: list[list[int]], pad_id: int = 0, width: int | None = None) -> torch.Tensor:
    """(B, L) LongTensor, L = ``width`` or the longest prompt of this batch (cn_clip's [PAD] id is 0)."""
    batch = torch.full((len(ids), width or max(map(len, ids))), pad_id, dtype=torch.long)
    for row, tokens in enumerate(ids):
        batch[row, : len(tokens)] = torch.tensor(tokens, dtype=torch.long)
    return batch


def padding_mask(ids: list[list[int]], width: int) -> torch.Tensor:
    """(B, L) long: 1 over each prompt's tokens, 0 over its padding."""
    lengths = torch.tensor([len(tokens) for tokens in ids])
    return (torch.arange(width)[None, :] < lengths[:, None]).long()


class TextEncoder:
    """Encodes prompts with a model's text tower; counts prompts cut at the context length."""

    def __init__(
        self,
        model: LoadedModel,
        device: str | torch.device = "cpu",
        batch_size: int = 256,
        memo_limit: int = 200_000,  # prompts remembered (ImageNet x 80 templates x 2 languages fits)
    ) -> None:
        self.model = model
        self.tokenizer = model.tokenizer
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.context_length = model.tokenizer.context_length
        self.truncated = 0  # prompts longer than the context, over this encoder's life (repeats count)
        self.encoded = 0
        self.memo_limit = memo_limit
        self._memo: dict[str, tuple[torch.Tensor, bool]] = {}  # prompt -> (normalized row, truncated)

    @torch.inference_mode()
    def encode(self, texts: list[str]) -> torch.Tensor:
        """(N, D) float32 on the CPU, rows L2-normalized, in the order of ``texts``."""
        if not texts:
            raise ValueError("no texts to encode")
        new = [t for t in dict.fromkeys(texts) if t not in self._memo]
        fresh = self._encode_new(new) if new else {}
        rows = [fresh.get(t) or self._memo[t] for t in texts]
        self.truncated += sum(truncated for _, truncated in rows)
        self.encoded += len(texts)
        return torch.stack([row for row, _ in rows])

    def _encode_new(self, texts: list[str]) -> dict[str, tuple[torch.Tensor, bool]]:
        ids, cut = self.tokenizer(texts)
        # longest first, so each batch is nearly rectangular and pads little
        order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
        full = self.context_length if self.tokenizer.pad_to_context else None
        out: dict[str, tuple[torch.Tensor, bool]] = {}
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            batch = [ids[i] for i in rows]
            tokens = pad_batch(batch, self.tokenizer.pad_id, full)  # (B, L)
            mask = padding_mask(batch, tokens.shape[1])  # (B, L)
            encoded = self.model.encode_text(tokens.to(self.device), mask.to(self.device))
            batch_features = F.normalize(encoded.float(), dim=-1).cpu()  # (B, D)
            for row, feature in zip(rows, batch_features):
                out[texts[row]] = (feature, cut[row])
        if len(self._memo) + len(out) <= self.memo_limit:
            self._memo.update(out)
        return out


def classifier_from_prompts(encoder: TextEncoder, prompts_per_class: list[list[str]]) -> torch.Tensor:
    """(C, D): normalize each prompt embedding, average per class, renormalize.

    All prompts of all classes go through the encoder together, so batches are full.
    """
    empty = [c for c, prompts in enumerate(prompts_per_class) if not prompts]
    if empty:
        raise ValueError(f"classes without prompts: {empty[:10]}")
    flat = [p for prompts in prompts_per_class for p in prompts]
    class_of = torch.repeat_interleave(torch.tensor([len(p) for p in prompts_per_class]))  # (P,)
    embeddings = encoder.encode(flat)  # (P, D)
    sums = torch.zeros(len(prompts_per_class), embeddings.shape[1]).index_add_(0, class_of, embeddings)
    means = sums / torch.bincount(class_of, minlength=len(prompts_per_class)).unsqueeze(1)
    return F.normalize(means, dim=-1)
