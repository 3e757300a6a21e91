"""The model contract: what a model family provides, and what the rest of the harness may use.

Nothing outside ``cnclip_eval/models/`` knows which family it holds. The engine, the text encoder
(:mod:`cnclip_eval.text`), the feature caches, device decoding and every method use only what is
below. A new family is a provider function ``ModelRequest -> LoadedModel`` registered in
``MODELS`` (one new file), which fills in:

``module``
    the whole ``torch.nn.Module``, fp32, eval mode, on ``request.device``. The harness reads its
    parameters (device), freezes them for CoOp and hands the module to exports; it never calls into it.
``encode_image(images)``
    ``(B, 3, S, S)`` float, as ``transform`` makes them -> ``(B, D)`` image features (not
    normalized; the harness L2-normalizes).
``encode_text(ids, mask)``
    ``(B, L)`` long token ids and ``(B, L)`` long attention mask (1 = token, 0 = padding) ->
    ``(B, D)`` text features (not normalized). ``L`` is at most ``tokenizer.context_length``.
``tokenizer``
    a :class:`Tokenizer`: the family's own tokenization, its context length, its pad id, and
    whether a batch may be cut to its longest prompt (``pad_to_context``).
``preprocessing`` and ``transform``
    ``transform`` is the family's own ``PIL.Image -> (3, S, S)`` tensor (it runs in DataLoader
    workers, so it must pickle); ``preprocessing`` (:class:`Preprocessing`) describes it: the ``id``
    that names it in feature-cache keys and results, the input size, the resize rule and the
    normalization mean/std (which ``--decode torchvision`` applies on the device).
``languages``
    the text languages the model reads, most important first (``("zh",)``, ``("en",)``,
    ``("zh", "en", "multi")``). A model without ``"zh"`` is given the dataset's English class names
    and English templates, its results say so (``texts_language: en``) and the leaderboard labels
    the row "(English names)"; methods whose texts it cannot read refuse it up front
    (``MethodBase.refuses``).
``logit_scale``
    the factor on cosine similarities in results (rankings do not depend on it).
``capabilities``
    optional abilities by name, each the object that provides it; methods list the ones they need
    (``requires``) and are refused up front, naming both, where the model lacks one. Today:
    ``"text_input_embeddings"`` -> a :class:`TextEmbeddingInput` (CoOp).
``weights_id``, ``arch``, ``source``, ``family``
    what the caches and results identify the model by: the sha256 of the weights file (or
    ``"random:..."``), the architecture, where the weights came from, the family name.

A provider may also carry ``provide.identify = (request -> ModelIdentity | None)``, the identity
known without building the model (config files and a hash of the weights), so that skip-existing
and up-front checks cost no model load.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # annotations only: listing and registering models must not import torch
    import torch

TEXT_INPUT_EMBEDDINGS = "text_input_embeddings"  # capability: see TextEmbeddingInput
# "other": a processor's rule the device path does not reproduce (--decode pil only)
RESIZE_RULES = ("squash", "shorter-side+center-crop", "other")


@dataclass(frozen=True)
class ModelRequest:
    name: str  # a registered model name, a "family:spec" string or a checkpoint path
    arch: str | None = None  # "VISION@TEXT" for checkpoints; each part a config name or JSON path
    cache_dir: Path | None = None  # where named weights are downloaded
    seed: int = 0  # initialisation of configs that have no checkpoint
    device: str = "cpu"
    use_modelscope: bool = False


@dataclass(frozen=True)
class Preprocessing:
    """What turns an image into the image tower's input, and the id that names it."""

    id: str  # in feature-cache keys and results; two transforms with one id must give equal tensors
    size: int  # S: inputs are (3, S, S)
    resize: str = "squash"  # "squash": S x S, aspect not kept | "shorter-side+center-crop"
    mean: tuple[float, float, float] = (0.48145466, 0.4578275, 0.40821073)  # CLIP's
    std: tuple[float, float, float] = (0.26862954, 0.26130258, 0.27577711)
    interpolation: str = "bicubic"

    def __post_init__(self) -> None:
        if self.resize not in RESIZE_RULES:
            raise ValueError(f"resize {self.resize!r}: expected one of {RESIZE_RULES}")


class Tokenizer(Protocol):
    """A family's tokenizer, as :class:`cnclip_eval.text.TextEncoder` uses it."""

    context_length: int  # the most tokens the text tower takes, special tokens included
    pad_id: int  # the id that fills a batch after a prompt's last token
    # False: the tower masks padding (or only looks left of it), so trailing pad columns change
    # nothing and a batch is cut to its longest prompt. True: the tower needs every row padded to
    # context_length (e.g. SigLIP pools the last position and has no padding mask).
    pad_to_context: bool

    def __call__(self, texts: list[str]) -> tuple[list[list[int]], list[bool]]:
        """Each text's ids with the family's special tokens, unpadded, cut to ``context_length``;
        and whether each was cut."""
        ...


class TextEmbeddingInput(Protocol):
    """Capability ``"text_input_embeddings"``: the text tower run from input embeddings (CoOp).

    A prompt is ``prefix_ids + <embeddings> + suffix_ids`` in word-embedding space (e.g.
    ``[CLS] ctx_1..ctx_n name [SEP]``); the tower adds its position embeddings itself.
    """

    hidden_size: int  # H, the width of a word embedding
    logit_scale: float  # the temperature CoOp trains under: the model's own exp(learned scale)
    prefix_ids: list[int]  # ids before the learned part, e.g. [CLS] / <s> / <|startoftext|>
    suffix_ids: list[int]  # ids after it, e.g. [SEP] / </s> / <|endoftext|>

    def word_ids(self, texts: list[str]) -> list[list[int]]:
        """Each text's ids without special tokens (class names, an initialisation phrase)."""
        ...

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        """(n,) long -> (n, H): the tower's word-embedding table (trainable path, no positions)."""
        ...

    def encode(self, embeddings: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B, L, H) input embeddings, (B, L) mask -> (B, D) text features (not normalized)."""
        ...


@dataclass(frozen=True)
class ModelIdentity:
    """What the caches key a model by and the up-front checks read, known without building it
    (see ``identify_model``)."""

    weights_id: str  # as LoadedModel.weights_id
    arch: str
    preprocessing: Preprocessing
    languages: tuple[str, ...] = ("zh",)
    capabilities: frozenset[str] | None = None  # None: not known before loading
    family: str = "cn_clip"

    @property
    def image_size(self) -> int:
        return self.preprocessing.size


@dataclass
class LoadedModel:
    model_id: str  # the name the user gave (or the checkpoint's file name)
    arch: str  # "ViT-B-16@RoBERTa-wwm-ext-base-chinese", a transformers repo's model_type, ...
    module: torch.nn.Module  # the whole model, fp32, eval mode, on the device
    weights_id: str  # sha256 of the checkpoint, or "random:<config sha256>:seed=<n>"
    source: str  # where the weights came from, for provenance
    encode_image: Callable[[torch.Tensor], torch.Tensor]  # (B, 3, S, S) -> (B, D)
    encode_text: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # ids, mask (B, L) -> (B, D)
    tokenizer: Tokenizer
    preprocessing: Preprocessing
    transform: Callable[[Any], torch.Tensor]  # PIL image -> (3, S, S); picklable
    family: str = "cn_clip"
    languages: tuple[str, ...] = ("zh",)
    logit_scale: float = 100.0
    capabilities: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def image_size(self) -> int:
        return self.preprocessing.size

    @property
    def identity(self) -> ModelIdentity:
        return ModelIdentity(
            self.weights_id,
            self.arch,
            self.preprocessing,
            tuple(self.languages),
            frozenset(self.capabilities),
            self.family,
        )

    @property
    def weights_sha256(self) -> str | None:
        return None if self.weights_id.startswith("random:") else self.weights_id

    def provenance(self) -> dict[str, Any]:
        """What a result records of the model it came from."""
        return {
            "id": self.model_id,
            "family": self.family,
            "arch": self.arch,
            "source": self.source,
            "weights_sha256": self.weights_sha256,
            "weights_id": self.weights_id,
        }

    def image_transform(self) -> Callable[[Any], torch.Tensor]:
        """The family's own preprocessing (PIL image -> (3, S, S) tensor)."""
        return self.transform

    @property
    def device(self) -> torch.device:
        return next(self.module.parameters()).device


def reads_chinese(languages: tuple[str, ...]) -> bool:
    return "zh" in languages
