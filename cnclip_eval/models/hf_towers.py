"""A transformers CLIP-like model seen through the model contract (:mod:`.base`).

Everything is the checkpoint's own: the tokenizer and image processor its processor files name,
``get_image_features`` / ``get_text_features`` (their ``pooler_output``: the projected features),
and ``logit_scale``. Which families exist and how each pools is :data:`KINDS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from cnclip_eval.fileio import sha256_json
from cnclip_eval.models.base import Preprocessing


@dataclass(frozen=True)
class Kind:
    """What the harness must know of one ``model_type`` beyond what its files say."""

    languages: tuple[str, ...]  # what it reads (siglip: decided by the vocabulary, see languages_of)
    # True where the text tower pools the last position with no padding mask (SigLIP): every row is
    # padded to the context length as its processor does; False where trailing padding changes
    # nothing ([CLS] pooling with a padding mask; CLIP's causal attention pooled at the end token)
    pad_to_context: bool
    # the text tower takes inputs_embeds and pools them as get_text_features does (text_projection
    # of the first position): CoOp can run on it
    input_embeddings: bool
    position_offset: int = 0  # RoBERTa numbers positions from pad_token_id + 1


KINDS = {
    "chinese_clip": Kind(("zh",), pad_to_context=False, input_embeddings=True),
    "altclip": Kind(("zh", "en"), pad_to_context=False, input_embeddings=True, position_offset=2),
    "clip": Kind(("en",), pad_to_context=False, input_embeddings=False),
    "siglip": Kind(("en",), pad_to_context=True, input_embeddings=False),
}
MULTILINGUAL_VOCAB = 200_000  # SigLIP's i18n checkpoints have a 250k vocabulary, the English ones 32k


def languages_of(model_type: str, config) -> tuple[str, ...]:
    if model_type == "siglip" and config.text_config.vocab_size >= MULTILINGUAL_VOCAB:
        return ("zh", "en", "multi")
    return KINDS[model_type].languages


def _interpolation(resample: Any) -> str:
    """PIL's resample code (or an enum naming it) -> "bicubic" / "bilinear" / its name."""
    names = {2: "bilinear", 3: "bicubic"}
    value = getattr(resample, "value", resample)
    return names.get(value, str(resample).lower()) if isinstance(value, int) else str(resample).lower()


def describe_preprocessing(image_processor) -> Preprocessing:
    """The image processor as a :class:`Preprocessing`: its id hashes its whole configuration."""
    size, crop = image_processor.size, getattr(image_processor, "crop_size", None)
    do_crop = bool(getattr(image_processor, "do_center_crop", False))
    if do_crop and size.get("shortest_edge") and crop and crop["height"] == crop["width"]:
        resize, side = "shorter-side+center-crop", int(crop["height"])
    elif not do_crop and size.get("height") and size["height"] == size["width"]:
        resize, side = "squash", int(size["height"])
    else:
        resize, side = "other", int((crop if do_crop else size).get("height") or size.get("shortest_edge"))
    interpolation = _interpolation(image_processor.resample)
    settings = sha256_json(image_processor.to_dict())[:16]
    return Preprocessing(
        id=f"transformers.{type(image_processor).__name__}:{resize}:{side}:{interpolation}:{settings}",
        size=side,
        resize=resize,
        mean=tuple(float(x) for x in image_processor.image_mean),
        std=tuple(float(x) for x in image_processor.image_std),
        interpolation=interpolation,
    )


class ImageTransform:
    """PIL image -> (3, S, S) through the checkpoint's image processor (picklable for workers)."""

    def __init__(self, image_processor) -> None:
        self.image_processor = image_processor

    def __call__(self, image) -> torch.Tensor:
        return self.image_processor(images=image, return_tensors="pt")["pixel_values"][0]


class HfTokenizer:
    """The checkpoint's tokenizer as a :class:`~cnclip_eval.models.base.Tokenizer`."""

    def __init__(self, tokenizer, context_length: int, pad_to_context: bool) -> None:
        self.tokenizer = tokenizer
        self.context_length = context_length
        self.pad_id = tokenizer.pad_token_id
        self.pad_to_context = pad_to_context
        self.gives_mask = "attention_mask" in tokenizer.model_input_names

    def __call__(self, texts: list[str]) -> tuple[list[list[int]], list[bool]]:
        # without truncation first, to count the prompts the context cuts (the Rust tokenizer is
        # cheap next to the text tower)
        full = self.tokenizer(texts, add_special_tokens=True, verbose=False)["input_ids"]
        cut = [len(ids) > self.context_length for ids in full]
        if not any(cut):
            return full, cut
        kept = self.tokenizer(texts, truncation=True, max_length=self.context_length)["input_ids"]
        return kept, cut

    def word_ids(self, texts: list[str]) -> list[list[int]]:
        return self.tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"]

    def frame(self) -> tuple[list[int], list[int]]:
        """The special ids the tokenizer puts before and after a text's own ids."""
        probe = "a"
        inner = self.word_ids([probe])[0]
        outer = self.tokenizer([probe])["input_ids"][0]
        start = next(i for i in range(len(outer)) if outer[i : i + len(inner)] == inner)
        return outer[:start], outer[start + len(inner) :]


class ImageTower:
    def __init__(self, module: torch.nn.Module) -> None:
        self.module = module

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        return self.module.get_image_features(pixel_values=images).pooler_output  # (B, D)


class TextTower:
    def __init__(self, module: torch.nn.Module, gives_mask: bool) -> None:
        self.module = module
        self.gives_mask = gives_mask  # pass the mask only where the processor would

    def __call__(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        mask = mask if self.gives_mask else None
        return self.module.get_text_features(input_ids=ids, attention_mask=mask).pooler_output  # (B, D)


class EmbeddingInput:
    """``text_input_embeddings`` for towers pooled as ``text_projection(last_hidden_state[:, 0])``
    (chinese_clip, altclip): the same computation as ``get_text_features``, from ``inputs_embeds``."""

    def __init__(self, module: torch.nn.Module, tokenizer: HfTokenizer) -> None:
        self.module = module
        self.tokenizer = tokenizer
        self.hidden_size = module.config.text_config.hidden_size
        self.prefix_ids, self.suffix_ids = tokenizer.frame()
        self.logit_scale = float(module.logit_scale.detach().exp())

    def word_ids(self, texts: list[str]) -> list[list[int]]:
        return self.tokenizer.word_ids(texts)

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        return self.module.text_model.get_input_embeddings()(ids)  # (n, H)

    def encode(self, embeddings: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        output = self.module.text_model(inputs_embeds=embeddings, attention_mask=mask)
        return self.module.text_projection(output.last_hidden_state[:, 0, :])  # (B, D)
