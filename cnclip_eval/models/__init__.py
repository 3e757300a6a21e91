"""Model providers: a registry of functions ``ModelRequest -> LoadedModel`` (see ``base``).

``--model`` takes a registered name (``ViT-B-16``, ``tiny``, ``altclip``, ...), a family-prefixed
name (``transformers:<repo id or folder>``, resolved by the ``FAMILIES`` registry), or a
checkpoint path in CN-CLIP's format (with ``--arch VISION@TEXT``). Third-party providers register
under the entry-point group ``cnclip_eval.models``, families under ``cnclip_eval.model_families``.

Registration imports nothing heavy: providers are built on first use (:class:`Deferred`), and each
registered name carries a :class:`ModelCard` (family, languages, source) that ``ls models`` shows
without importing torch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cnclip_eval.models.base import LoadedModel, ModelIdentity, ModelRequest  # torch-free
from cnclip_eval.registry import Registry, _resolve

ModelProvider = Callable[[ModelRequest], LoadedModel]
MODELS: Registry[ModelProvider] = Registry("model")
# "family:spec" names: the family's provider receives the request with the full name
FAMILIES: Registry[ModelProvider] = Registry("model family", group="cnclip_eval.model_families")


@dataclass(frozen=True)
class ModelCard:
    family: str  # cn_clip | transformers | open_clip | ...
    languages: tuple[str, ...]  # the text languages it reads, most important first
    source: str  # where the weights come from
    summary: str


CARDS: dict[str, ModelCard] = {}


class Deferred:
    """A provider made on first use by ``factory(*args)`` (``"module:attr"``): registering costs no import."""

    def __init__(self, factory: str, *args: object) -> None:
        self.factory, self.args = factory, args
        self._provider: ModelProvider | None = None

    def provider(self) -> ModelProvider:
        if self._provider is None:
            self._provider = _resolve(self.factory)(*self.args)
        return self._provider

    def __call__(self, request: ModelRequest) -> LoadedModel:
        return self.provider()(request)

    def identify(self, request: ModelRequest) -> ModelIdentity | None:
        identify = getattr(self.provider(), "identify", None)
        return identify(request) if identify is not None else None

    def __eq__(self, other: object) -> bool:  # the registry accepts the same entry twice
        return isinstance(other, Deferred) and (self.factory, self.args) == (other.factory, other.args)

    def __hash__(self) -> int:
        return hash((self.factory, self.args))


def register_model(name: str, target: ModelProvider | str, card: ModelCard) -> None:
    MODELS.add(name, target, card.summary)
    CARDS[name] = card


def card_of(name: str) -> ModelCard:
    """A registered name's card; plugins without one get a card that says so."""
    return CARDS.get(MODELS.canonical(name)) or ModelCard(
        "(plugin)", (), "(plugin)", MODELS.entry(name).summary
    )


_CNCLIP_PUBLISHED = {
    "RN50": "ResNet-50 + RBT3, 77M parameters",
    "ViT-B-16": "ViT-B/16 + RoBERTa-wwm-ext-base, 188M parameters (default)",
    "ViT-L-14": "ViT-L/14 + RoBERTa-wwm-ext-base, 406M parameters",
    "ViT-L-14-336": "ViT-L/14 at 336px + RoBERTa-wwm-ext-base, 407M parameters",
    "ViT-H-14": "ViT-H/14 + RoBERTa-wwm-ext-large, 958M parameters",
}
for _name, _summary in _CNCLIP_PUBLISHED.items():
    register_model(
        _name,
        Deferred("cnclip_eval.models.cnclip:named_cnclip", _name),
        ModelCard("cn_clip", ("zh",), "Hugging Face OFA-Sys (or ModelScope)", f"CN-CLIP {_summary}"),
    )
register_model(
    "tiny",
    Deferred("cnclip_eval.models.cnclip:small_config", "tiny-vit@tiny-bert"),
    ModelCard(
        "cn_clip", ("zh",), "random (--seed)", "tiny random CN-CLIP (32px ViT, 2-layer BERT) for tests"
    ),
)
register_model(
    "demo",
    "cnclip_eval.demo.model:provide",
    ModelCard(
        "cn_clip",
        ("zh",),
        "shipped",
        "tiny CN-CLIP trained on synthetic shapes (a demonstration model, not CN-CLIP)",
    ),
)
register_model(
    "random",
    Deferred("cnclip_eval.models.cnclip:small_config", "tiny-vit@tiny-bert"),
    ModelCard(
        "cn_clip", ("zh",), "random (--seed)", "random weights for any --arch (default tiny), for timing"
    ),
)

# QA-CLIP: CN-CLIP's architectures and checkpoint format, other training data
for _name, _summary in {
    "qa-clip-RN50": "ResNet-50 + RBT3",
    "qa-clip-ViT-B-16": "ViT-B/16 + RoBERTa-wwm-ext-base",
    "qa-clip-ViT-L-14": "ViT-L/14 + RoBERTa-wwm-ext-base",
}.items():
    register_model(
        _name,
        Deferred("cnclip_eval.models.qaclip:provider", _name),
        ModelCard("cn_clip", ("zh",), "Hugging Face TencentARC/QA-CLIP", f"QA-CLIP {_summary} (TencentARC)"),
    )

# Published transformers checkpoints, by a short name (the repo ids are those on the Hugging Face hub)
_TRANSFORMERS_PUBLISHED = {
    "cn-clip-hf-ViT-B-16": (
        "OFA-Sys/chinese-clip-vit-base-patch16",
        ("zh",),
        "CN-CLIP ViT-B/16, transformers port",
    ),
    "cn-clip-hf-ViT-L-14": (
        "OFA-Sys/chinese-clip-vit-large-patch14",
        ("zh",),
        "CN-CLIP ViT-L/14, transformers port",
    ),
    "cn-clip-hf-ViT-L-14-336": (
        "OFA-Sys/chinese-clip-vit-large-patch14-336px",
        ("zh",),
        "CN-CLIP ViT-L/14 at 336px, transformers port",
    ),
    "cn-clip-hf-ViT-H-14": (
        "OFA-Sys/chinese-clip-vit-huge-patch14",
        ("zh",),
        "CN-CLIP ViT-H/14, transformers port",
    ),
    "altclip": (
        "BAAI/AltCLIP",
        ("zh", "en"),
        "AltCLIP: CLIP ViT-L/14 with an XLM-R text tower, Chinese + English",
    ),
    "altclip-m9": ("BAAI/AltCLIP-m9", ("zh", "en", "multi"), "AltCLIP-m9: AltCLIP for 9 languages"),
    "clip-ViT-B-16": ("openai/clip-vit-base-patch16", ("en",), "OpenAI CLIP ViT-B/16 (English only)"),
    "clip-ViT-B-32": ("openai/clip-vit-base-patch32", ("en",), "OpenAI CLIP ViT-B/32 (English only)"),
    "clip-ViT-L-14": ("openai/clip-vit-large-patch14", ("en",), "OpenAI CLIP ViT-L/14 (English only)"),
    "siglip-i18n-B-16-256": (
        "google/siglip-base-patch16-256-multilingual",
        ("zh", "en", "multi"),
        "SigLIP ViT-B/16 at 256px, multilingual",
    ),
}


def register_published(family: str, factory: str, source: str, table: dict) -> None:
    """Short names of a family's published weights: ``{name: (spec, languages, summary)}``, each
    loaded by ``factory(spec)`` on first use."""
    for name, (spec, languages, summary) in table.items():
        register_model(
            name, Deferred(factory, spec), ModelCard(family, languages, f"{source} {spec}", summary)
        )


register_published(
    "transformers", "cnclip_eval.models.hf_family:published", "Hugging Face", _TRANSFORMERS_PUBLISHED
)

FAMILIES.add(
    "transformers",
    "cnclip_eval.models.hf_family:provide",
    "transformers:<repo id or folder>: chinese_clip, altclip, clip or siglip by config.json's model_type",
)

# Published open_clip weights that read Chinese (and English CLIP, given English names), by a short name
_OPEN_CLIP_PUBLISHED = {
    "xlm-roberta-base-ViT-B-32": (
        "xlm-roberta-base-ViT-B-32:laion5b_s13b_b90k",
        ("zh", "en", "multi"),
        "LAION ViT-B/32 with an XLM-R base text tower (multilingual)",
    ),
    "xlm-roberta-large-ViT-H-14": (
        "xlm-roberta-large-ViT-H-14:frozen_laion5b_s13b_b90k",
        ("zh", "en", "multi"),
        "LAION ViT-H/14 with an XLM-R large text tower (multilingual)",
    ),
    "siglip-i18n-ViT-B-16-256": (
        "ViT-B-16-SigLIP-i18n-256:webli",
        ("zh", "en", "multi"),
        "SigLIP ViT-B/16 at 256px, multilingual (open_clip)",
    ),
    "openai-ViT-B-16": ("ViT-B-16:openai", ("en",), "OpenAI CLIP ViT-B/16 through open_clip (English only)"),
}
register_published(
    "open_clip", "cnclip_eval.models.openclip_family:published", "open_clip", _OPEN_CLIP_PUBLISHED
)

FAMILIES.add(
    "open_clip",
    "cnclip_eval.models.openclip_family:provide",
    "open_clip:<arch>[:<pretrained tag or checkpoint path>]: any open_clip model, its own transform and tokenizer",
)

DEFAULT_MODEL = "ViT-B-16"


def family_of(name: str) -> str | None:
    """The family prefix of a ``family:spec`` name, where it names a registered family."""
    family, sep, rest = name.partition(":")
    return family if sep and rest and family in FAMILIES else None


def _is_checkpoint(request: ModelRequest) -> bool:
    looks_like_file = (
        Path(request.name).suffix in {".pt", ".pth", ".bin", ".ckpt"} or Path(request.name).is_file()
    )
    return request.name not in MODELS and family_of(request.name) is None and looks_like_file


def provider_of(request: ModelRequest) -> ModelProvider:
    """The provider that loads ``request.name``: registered names first, then ``family:`` names."""
    if request.name not in MODELS and (family := family_of(request.name)) is not None:
        return FAMILIES.get(family)
    return MODELS.get(request.name)


def check_model_name(name: str) -> None:
    """Refuses a name that no provider takes (a registered name, ``family:spec``, or a checkpoint
    file), before anything runs; the provider itself judges the rest when it loads."""
    from cnclip_eval.errors import UserError

    request = ModelRequest(name)
    if _is_checkpoint(request):
        return
    family, sep, spec = name.partition(":")
    if sep and not spec and family in FAMILIES:
        raise UserError(f"--model {name}: name the model after the prefix ({FAMILIES.entry(family).summary})")
    if family_of(name) is None and Path(name).suffix in {".pt", ".pth", ".bin", ".ckpt"}:
        raise UserError(f"--model {name}: no such checkpoint file")
    provider_of(request)  # UnknownNameError with the valid names and a close match


def load_model(request: ModelRequest) -> LoadedModel:
    """Resolve ``request.name`` (a registered name, ``family:spec``, else a checkpoint path) and load it."""
    if _is_checkpoint(request):
        from cnclip_eval.models.cnclip import load_checkpoint

        return load_checkpoint(request)
    return provider_of(request)(request)


def identify_model(request: ModelRequest) -> ModelIdentity | None:
    """The model's cache identity without building it, or None where only loading can tell.

    Weights are identified by the sha256 of their file, as the feature and classifier caches key
    them (not by size and mtime: a checkpoint copied or touched in place is the same weights, and
    one replaced by another file of the same size and second is not). Hashing reads the file once
    per process, which the load that follows needs anyway; published weights are hashed only once
    downloaded. A provider tells its identity through an ``identify(request)`` attribute; one
    without it (a plugin) is loaded first, which costs what the run costs anyway.
    """
    if _is_checkpoint(request):
        from cnclip_eval.models.cnclip import identity_of

        if not request.arch or not Path(request.name).is_file():
            return None  # load_checkpoint says what is wrong
        return identity_of(request, request.arch, Path(request.name))
    identify = getattr(provider_of(request), "identify", None)
    return identify(request) if identify is not None else None


__all__ = [
    "CARDS",
    "DEFAULT_MODEL",
    "FAMILIES",
    "MODELS",
    "LoadedModel",
    "ModelCard",
    "ModelIdentity",
    "ModelRequest",
    "card_of",
    "check_model_name",
    "identify_model",
    "load_model",
    "register_model",
]
