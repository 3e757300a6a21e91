"""CN-CLIP's tokenizer, for the cn_clip family: ``cn_clip.clip.tokenize``'s ids, made faster.

``[CLS] pieces[: context_length - 2] [SEP]`` with cn_clip's own vocabulary and BERT rules; the
word pieces come from the Rust ``tokenizers`` WordPiece built from cn_clip's vocabulary where that
is proven equal (``FAST_SAFE_RANGES``), from cn_clip's pure-Python tokenizer elsewhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

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


@dataclass(frozen=True)
class CnClipTokenizer:
    """The :class:`~cnclip_eval.models.base.Tokenizer` of every cn_clip model."""

    context_length: int = CONTEXT_LENGTH
    pad_id: int = 0  # [PAD]
    # cn_clip's encode_text masks [PAD] tokens and pools [CLS]: trailing pad columns change nothing
    pad_to_context: bool = False

    def __call__(self, texts: list[str]) -> tuple[list[list[int]], list[bool]]:
        return tokenize_ids_each(texts, self.context_length)


def special_ids() -> tuple[int, int]:
    """([CLS], [SEP]) ids of cn_clip's vocabulary."""
    from cn_clip.clip import _tokenizer

    return _tokenizer.vocab["[CLS]"], _tokenizer.vocab["[SEP]"]
