"""Text side: tokenize with cn_clip's tokenizer, encode batched across classes, build classifiers.

Prompts are sorted by token length and each batch is cut to its longest prompt. This is exact, not
an approximation: cn_clip's ``encode_text`` builds its attention mask from ``[PAD]`` tokens and
pools ``[CLS]``, so trailing pad columns change nothing but the cost.

A ``TextEncoder`` lives for one model in one run and remembers the embedding of every prompt it
encoded: methods share many prompts (``bilingual``'s Chinese side and ``llm+templates`` reuse the
baseline's template prompts), and cn_clip's pure-Python tokenizer costs about as much as the tiny
text towers themselves, so a prompt is tokenized and encoded once per run.
"""

from __future__ import annotations

import logging
import re
from functools import cache

import torch
import torch.nn.functional as F

log = logging.getLogger(__name__)

CONTEXT_LENGTH = 52  # cn_clip.tokenize's default, used by every published CN-CLIP model


def tokenize_ids(texts: list[str], context_length: int = CONTEXT_LENGTH) -> tuple[list[list[int]], int]:
    """Token ids as ``cn_clip.clip.tokenize`` makes them (unpadded) and how many were truncated.

    ``[CLS] pieces[: context_length - 2] [SEP]``: the same rule as cn_clip, written out once so
    that the truncation count costs no second tokenization.
    """
    ids, cut = tokenize_ids_each(texts, context_length)
    return ids, sum(cut)


def tokenize_ids_each(
    texts: list[str], context_length: int = CONTEXT_LENGTH
) -> tuple[list[list[int]], list[bool]]:
    """Like :func:`tokenize_ids`, with a truncated flag per text."""
    from cn_clip.clip import _tokenizer

    cls_id, sep_id = _tokenizer.vocab["[CLS]"], _tokenizer.vocab["[SEP]"]
    pieces = word_piece_ids(texts)
    ids = [[cls_id, *p[: context_length - 2], sep_id] for p in pieces]
    return ids, [len(p) > context_length - 2 for p in pieces]


# Unicode blocks where the Rust tokenizer and cn_clip's agree on every code point (checked one by one
# in tests/test_text.py): Latin, Greek, Cyrillic, Hebrew, punctuation and symbols, kana, bopomofo,
# CJK (BMP and extension B), Hangul, fullwidth forms. Outside them the two differ in places (private
# use characters, code points newer than one of their Unicode tables), so such texts take cn_clip's path.
# U+03A3 (Σ) is left out: Python lower-cases it by context (word-final ς), Rust one character at a time.
FAST_SAFE_RANGES = (
    (0x0000, 0x03A2),
    (0x03A4, 0x05FF),
    (0x1E00, 0x21FF),
    (0x3000, 0x31FF),
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xAC00, 0xD7A3),
    (0xF900, 0xFAFF),
    (0xFE30, 0xFE4F),
    (0xFF00, 0xFFEF),
    (0x20000, 0x2A6DF),
)
_FAST_SAFE = re.compile("[" + "".join(f"\\U{a:08x}-\\U{b:08x}" for a, b in FAST_SAFE_RANGES) + "]*")


def word_piece_ids(texts: list[str]) -> list[list[int]]:
    """cn_clip's word pieces of each text, without special tokens.

    Through the Rust ``tokenizers`` WordPiece built from cn_clip's own vocabulary and rules (lower
    case, accents stripped, CJK characters split, 200-character words), which gives the same ids as
    cn_clip's pure-Python tokenizer on every character of ``FAST_SAFE_RANGES`` (tested code point by
    code point, and on every shipped template, class name and description) several times faster.
    Texts with other characters, and everything where ``tokenizers`` is missing, go through cn_clip's.
    """
    fast = _fast_tokenizer()
    if fast is None:
        return reference_word_piece_ids(texts)
    ids: list[list[int] | None] = [None] * len(texts)
    eligible = [i for i, text in enumerate(texts) if _FAST_SAFE.fullmatch(text)]
    for i, encoding in zip(
        eligible, fast.encode_batch([texts[i] for i in eligible], add_special_tokens=False)
    ):
        ids[i] = encoding.ids
    others = [i for i in range(len(texts)) if ids[i] is None]
    for i, pieces in zip(others, reference_word_piece_ids([texts[i] for i in others])):
        ids[i] = pieces
    return ids


def reference_word_piece_ids(texts: list[str]) -> list[list[int]]:
    from cn_clip.clip import _tokenizer

    return [_tokenizer.convert_tokens_to_ids(_tokenizer.tokenize(text)) for text in texts]


@cache
def _fast_tokenizer():
    try:
        from tokenizers import Tokenizer
        from tokenizers.models import WordPiece
        from tokenizers.normalizers import BertNormalizer
        from tokenizers.pre_tokenizers import BertPreTokenizer
    except ImportError:
        return None
    from cn_clip.clip import _tokenizer

    pieces = _tokenizer.wordpiece_tokenizer
    tokenizer = Tokenizer(
        WordPiece(
            dict(_tokenizer.vocab),
            unk_token=pieces.unk_token,
            max_input_chars_per_word=pieces.max_input_chars_per_word,
        )
    )
    lower = _tokenizer.basic_tokenizer.do_lower_case  # cn_clip strips accents exactly when it lower-cases
    tokenizer.normalizer = BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=lower, lowercase=lower
    )
    tokenizer.pre_tokenizer = BertPreTokenizer()
    return tokenizer


def pad_batch(ids: list[list[int]], pad_id: int = 0) -> torch.Tensor:
    """(B, L) LongTensor, L = the longest prompt of this batch (cn_clip's [PAD] id is 0)."""
    batch = torch.full((len(ids), max(map(len, ids))), pad_id, dtype=torch.long)
    for row, tokens in enumerate(ids):
        batch[row, : len(tokens)] = torch.tensor(tokens, dtype=torch.long)
    return batch


class TextEncoder:
    """Encodes prompts with a CN-CLIP text tower; counts prompts cut at the context length."""

    def __init__(
        self,
        model: torch.nn.Module,
        device: str | torch.device = "cpu",
        batch_size: int = 256,
        context_length: int = CONTEXT_LENGTH,
        memo_limit: int = 200_000,  # prompts remembered (ImageNet x 80 templates x 2 languages fits)
    ) -> None:
        self.model = model
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.context_length = context_length
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
        ids, cut = tokenize_ids_each(texts, self.context_length)
        # longest first, so each batch is nearly rectangular and pads little
        order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
        out: dict[str, tuple[torch.Tensor, bool]] = {}
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            tokens = pad_batch([ids[i] for i in rows]).to(self.device, non_blocking=True)
            batch_features = F.normalize(self.model.encode_text(tokens).float(), dim=-1).cpu()  # (B, D)
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
