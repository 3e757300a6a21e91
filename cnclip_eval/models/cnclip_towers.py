"""A ``cn_clip.clip.model.CLIP`` module seen through the model contract (:mod:`.base`).

The encoders call the module's own ``encode_image`` / ``encode_text`` (looked up at call time, so
a wrapped or patched module is honoured). ``encode_text`` ignores the mask it is given: cn_clip
builds the same one from ``[PAD]`` tokens itself.

cn_clip's BERT has no ``inputs_embeds`` path, so the "text input embeddings" capability builds the
input embeddings here exactly as ``BertEmbeddings`` does (word + position + token type ->
LayerNorm -> dropout) and hands them to its encoder with cn_clip's extended mask
``(1 - mask) * -10000``; the ``[CLS]`` output goes through ``text_projection`` as in
``CLIP.encode_text``. Padding is masked: the public CoOp port to Chinese-CLIP did not converge
until its text path honoured the mask.
"""

from __future__ import annotations

from typing import Any

import torch

from cnclip_eval.models.base import TEXT_INPUT_EMBEDDINGS, LoadedModel, Preprocessing
from cnclip_eval.models.cnclip_text import CnClipTokenizer, special_ids
from cnclip_eval.models.towers import ImageTower, TextTower

FAMILY = "cn_clip"
LANGUAGES = ("zh",)
# CN-CLIP's zero-shot script and CLIP_benchmark multiply by 100 (the published models' learned
# scale is clamped there too); results keep that scale
ZERO_SHOT_SCALE = 100.0
CAPABILITIES = frozenset({TEXT_INPUT_EMBEDDINGS})


def preprocessing(size: int) -> Preprocessing:
    """cn_clip's ``image_transform``: squash resize (bicubic), RGB, CLIP mean/std."""
    return Preprocessing(id="cn_clip.image_transform:squash-bicubic+rgb-first+clip-mean-std", size=size)


class BertEmbeddingInput:
    """The ``text_input_embeddings`` capability of a cn_clip model (see the module docstring)."""

    def __init__(self, module: torch.nn.Module) -> None:
        self.module = module
        self.hidden_size = module.bert.config.hidden_size
        cls_id, sep_id = special_ids()
        self.prefix_ids, self.suffix_ids = [cls_id], [sep_id]
        # CoOp trains under the model's own temperature (CoOp: clip_model.logit_scale.exp())
        self.logit_scale = float(module.logit_scale.detach().exp())

    def word_ids(self, texts: list[str]) -> list[list[int]]:
        from cnclip_eval.models.cnclip_text import word_piece_ids

        return word_piece_ids(texts)

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        return self.module.bert.embeddings.word_embeddings(ids)  # (n, H)

    def encode(self, embeddings: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        bert = self.module.bert
        layers = bert.embeddings
        length = embeddings.shape[1]
        device = embeddings.device
        positions = layers.position_embeddings(torch.arange(length, device=device))  # (L, H)
        token_types = layers.token_type_embeddings(torch.zeros(length, dtype=torch.long, device=device))
        hidden = layers.dropout(layers.LayerNorm(embeddings + positions + token_types))  # (B, L, H)
        extended = (1.0 - mask[:, None, None, :].to(hidden.dtype)) * -10000.0  # (B, 1, 1, L)
        output = bert.encoder(hidden, extended, head_mask=[None] * bert.config.num_hidden_layers)[0]
        return output[:, 0, :] @ self.module.text_projection  # (B, D): [CLS] pooled as in encode_text


def loaded(
    module: torch.nn.Module, *, model_id: str, arch: str, image_size: int, weights_id: str, source: str
) -> LoadedModel:
    """A cn_clip ``CLIP`` module (fp32, eval mode, on its device) as a :class:`LoadedModel`."""
    from cn_clip.clip.utils import image_transform

    capabilities: dict[str, Any] = {TEXT_INPUT_EMBEDDINGS: BertEmbeddingInput(module)}
    return LoadedModel(
        model_id=model_id,
        arch=arch,
        module=module,
        weights_id=weights_id,
        source=source,
        encode_image=ImageTower(module),
        encode_text=TextTower(module),
        tokenizer=CnClipTokenizer(),
        preprocessing=preprocessing(image_size),
        transform=image_transform(image_size),
        family=FAMILY,
        languages=LANGUAGES,
        logit_scale=ZERO_SHOT_SCALE,
        capabilities=capabilities,
    )
