"""An open_clip model seen through the model contract (:mod:`.base`).

Everything is open_clip's own: the transform ``create_model_and_transforms`` returns, the tokenizer
``get_tokenizer`` returns, ``encode_image`` / ``encode_text``, and ``logit_scale``. What this module
adds is what the contract asks beyond that: unpadded ids, whether a batch may be cut to its longest
prompt, and CoOp's input-embedding path.
"""

from __future__ import annotations

import torch

from cnclip_eval.fileio import sha256_json
from cnclip_eval.models.base import Preprocessing

MULTILINGUAL_VOCAB = 200_000  # XLM-R and SigLIP-i18n vocabularies have 250k pieces, CLIP's BPE 49k

# open_clip's resize_mode -> the contract's resize rule ("longest" pads, which --decode torchvision
# does not copy)
_RESIZE_RULES = {"shortest": "shorter-side+center-crop", "squash": "squash"}


def text_tower(module: torch.nn.Module):
    """The HF text encoder of a CustomTextCLIP with one (XLM-R models), else None."""
    from open_clip.hf_model import HFTextEncoder

    text = getattr(module, "text", None)
    return text if isinstance(text, HFTextEncoder) else None


def describe_preprocessing(preprocess_cfg: dict) -> Preprocessing:
    """open_clip's preprocessing config (``model.visual.preprocess_cfg``) as a :class:`Preprocessing`."""
    size = preprocess_cfg["size"]
    side = int(size if isinstance(size, int) else size[0])
    resize = _RESIZE_RULES.get(preprocess_cfg.get("resize_mode", "shortest"), "other")
    if not isinstance(size, int) and size[0] != size[1]:
        resize = "other"
    interpolation = str(preprocess_cfg.get("interpolation", "bicubic"))
    settings = sha256_json({k: list(v) if isinstance(v, tuple) else v for k, v in preprocess_cfg.items()})
    return Preprocessing(
        id=f"open_clip:{resize}:{side}:{interpolation}:{settings[:16]}",
        size=side,
        resize=resize,
        mean=tuple(float(x) for x in preprocess_cfg["mean"]),
        std=tuple(float(x) for x in preprocess_cfg["std"]),
        interpolation=interpolation,
    )


def pad_trims_exactly(module: torch.nn.Module) -> bool:
    """Whether trailing padding can be cut from a batch without changing any feature.

    True for HF text towers: open_clip builds their attention mask from the pad id and pools over
    it (mean, [CLS]); XLM-R numbers positions from the non-pad ids. False for open_clip's own text
    transformer: ``CLIP.encode_text`` adds its whole positional table and context-sized causal mask,
    so every row must be ``context_length`` long (and SigLIP's pools the last position unmasked).
    """
    return text_tower(module) is not None


class OpenClipTokenizer:
    """open_clip's tokenizer as a :class:`~cnclip_eval.models.base.Tokenizer`.

    open_clip's tokenizers return ``(N, context_length)`` rows padded with the pad id; the ids of a
    row are everything up to its last non-pad token (every row ends in an end token, which is never
    the pad id, so a text's own pad-valued pieces, e.g. CLIP's "!" = 0, are kept)."""

    def __init__(self, tokenizer, context_length: int, pad_id: int, pad_to_context: bool) -> None:
        self.tokenizer = tokenizer
        self.context_length = context_length
        self.pad_id = pad_id
        self.pad_to_context = pad_to_context

    def _rows(self, texts: list[str], context_length: int) -> list[list[int]]:
        padded = self.tokenizer(texts, context_length=context_length)  # (N, context_length)
        rows = []
        for row in padded.tolist():
            end = len(row)
            while end > 0 and row[end - 1] == self.pad_id:
                end -= 1
            rows.append(row[:end])
        return rows

    def __call__(self, texts: list[str]) -> tuple[list[list[int]], list[bool]]:
        # one slot more than the context tells which prompts the context cuts (open_clip cuts silently)
        longer = self._rows(texts, self.context_length + 1)
        return self._rows(texts, self.context_length), [len(ids) > self.context_length for ids in longer]

    def frame(self) -> tuple[list[int], list[int], list[int]]:
        """(ids before a text's own ids, the ids of "a", ids after them): the family's special tokens."""
        with_specials = self._rows(["a"], self.context_length)[0]
        return with_specials[:1], with_specials[1:-1], with_specials[-1:]


class _EmbeddingInput:
    """What both open_clip embedding paths share: the frame of special ids and a name's own ids."""

    def __init__(self, module: torch.nn.Module, tokenizer: OpenClipTokenizer, hidden_size: int) -> None:
        self.module = module
        self.tokenizer = tokenizer
        self.hidden_size = hidden_size
        self.prefix_ids, _, self.suffix_ids = tokenizer.frame()
        self.logit_scale = float(module.logit_scale.detach().exp().reshape(-1)[0])

    def word_ids(self, texts: list[str]) -> list[list[int]]:
        prefix, suffix = len(self.prefix_ids), len(self.suffix_ids)
        rows = self.tokenizer._rows(texts, 10 * self.tokenizer.context_length)  # names are not cut here
        return [row[prefix : len(row) - suffix] for row in rows]


class HfEmbeddingInput(_EmbeddingInput):
    """``text_input_embeddings`` for an HF text tower: ``HFTextEncoder.forward`` from ``inputs_embeds``
    (the transformer, its pooler over the mask, its projection), as CoOp needs it."""

    def __init__(self, module: torch.nn.Module, tokenizer: OpenClipTokenizer) -> None:
        self.text = text_tower(module)
        super().__init__(module, tokenizer, self.text.transformer.get_input_embeddings().embedding_dim)

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        return self.text.transformer.get_input_embeddings()(ids)  # (n, H)

    def encode(self, embeddings: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        # XLM-R derives position ids from input_ids; from embeddings it numbers them 2.. in order,
        # which equals the ids-derived numbering for a left-aligned, right-padded row
        out = self.text.transformer(inputs_embeds=embeddings, attention_mask=mask)
        return self.text.proj(self.text.pooler(out, mask))  # (B, D)


class TransformerEmbeddingInput(_EmbeddingInput):
    """``text_input_embeddings`` for open_clip's own text transformer (``CLIP.encode_text``) run from
    input embeddings: the same steps (positions, the causal transformer, ``ln_final``, pooling at the
    end token, the projection), with the pooled position taken from the mask instead of the ids'
    argmax, since learned context vectors have no ids. Rows are padded to the context length, as
    ``encode_text`` needs (see :func:`pad_trims_exactly`)."""

    POOLED = ("argmax", "eos", "first", "last")

    def __init__(self, module: torch.nn.Module, tokenizer: OpenClipTokenizer) -> None:
        super().__init__(module, tokenizer, module.token_embedding.embedding_dim)

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        return self.module.token_embedding(ids)  # (n, H)

    def encode(self, embeddings: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        module = self.module
        x = embeddings + module.positional_embedding  # (B, L, H), L = the context length
        x = module.ln_final(module.transformer(x, attn_mask=module.attn_mask))
        rows = torch.arange(x.shape[0], device=x.device)
        pooled = {
            "first": lambda: x[:, 0],
            "last": lambda: x[:, -1],
        }.get(module.text_pool_type, lambda: x[rows, mask.sum(1) - 1])()  # argmax/eos: the end token
        projection = module.text_projection
        if projection is None:
            return pooled
        return (
            projection(pooled) if isinstance(projection, torch.nn.Linear) else pooled @ projection
        )  # (B, D)


def embedding_input(module: torch.nn.Module, tokenizer: OpenClipTokenizer):
    """The model's ``text_input_embeddings`` capability, or None where its text tower has no path."""
    if text_tower(module) is not None:
        return HfEmbeddingInput(module, tokenizer)
    own = all(hasattr(module, name) for name in ("token_embedding", "positional_embedding", "attn_mask"))
    if own and getattr(module, "text_pool_type", None) in TransformerEmbeddingInput.POOLED:
        return TransformerEmbeddingInput(module, tokenizer)
    return None
