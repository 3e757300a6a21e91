"""The method contract: class names and prompts in, an L2-normalized ``(C, D)`` classifier out.

A method is a small object with a ``name``, a one-line ``summary``, the ``options`` it accepts
(exposed by the CLI as ``--{method}-{option}`` and by suites as keys) and ``build(ctx)``. It sees
the text encoder and the dataset's texts, never the images, so every method of a run reuses the
same cached image features.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from cnclip_eval.errors import UserError

if TYPE_CHECKING:
    import torch

    from cnclip_eval.text import TextEncoder


@dataclass(frozen=True)
class Option:
    """A method option; the CLI exposes it as ``--{method}-{name}``, suites as a key."""

    name: str
    type: Callable[[str], Any]
    default: Any
    help: str
    choices: tuple | None = None


@dataclass(frozen=True)
class DatasetTexts:
    """What a method may know of the dataset: its class names and templates, index = label."""

    dataset: str
    classnames: list[str]  # Chinese names
    classnames_en: list[str] | None  # English names, where known
    templates: list[str]  # Chinese "{c}" templates chosen by --templates
    templates_en: list[str] = field(default_factory=list)  # English "{c}" templates


@dataclass
class MethodContext:
    encoder: TextEncoder
    texts: DatasetTexts
    model_id: str  # model identity, to refuse artifacts made for another model
    weights_sha256: str | None
    options: dict[str, Any]  # this method's options, parsed and defaulted
    weights_id: str | None = None  # sha256 of the checkpoint, or the random-init id (see LoadedModel)
    model_languages: tuple[str, ...] = ("zh",)  # what the model reads (texts are English without "zh")

    @classmethod
    def for_model(
        cls, model, encoder: TextEncoder, texts: DatasetTexts, options: dict[str, Any]
    ) -> MethodContext:
        """The context of a run on ``model`` (a LoadedModel): its identity as the methods check it."""
        return cls(
            encoder, texts, model.model_id, model.weights_sha256, options, model.weights_id, model.languages
        )


@dataclass
class Classifier:
    weights: torch.Tensor  # (C, D) float32, rows L2-normalized
    provenance: dict[str, Any]  # everything the weights depended on


class Method(Protocol):
    name: str
    summary: str
    options: tuple[Option, ...]

    def build(self, ctx: MethodContext) -> Classifier: ...

    # optional: cache_inputs(texts, options) -> dict, see MethodBase and method_cache_inputs
    # optional: requires, the model capabilities it needs (cnclip_eval.models.base), see MethodBase


class MethodBase:
    """Defaults for the optional parts of the contract."""

    options: tuple[Option, ...] = ()
    # how the leaderboard groups it: "zero-shot" (text in, classifier out), "control" (a check on a
    # zero-shot method's claim, e.g. waffle), "few-shot" (learns from train images)
    kind: str = "zero-shot"
    # model capabilities the method needs (e.g. "text_input_embeddings"); a model without one is
    # refused before any work (see refuse_missing_capabilities)
    requires: tuple[str, ...] = ()

    def refuses(self, options: dict[str, Any], languages: tuple[str, ...]) -> str | None:
        """Why the method cannot run for a model reading ``languages`` (e.g. Chinese descriptions
        for an English-only model), or None; asked before any work (see refuse_for_model)."""
        return None

    def cache_inputs(self, texts: DatasetTexts, options: dict[str, Any]) -> dict[str, Any]:
        """What decides the classifier beyond the options, the texts and the files options name
        (e.g. the content of a default file the method finds by itself); part of the cache keys."""
        return {}


def method_cache_inputs(method: Method, texts: DatasetTexts, options: dict[str, Any]) -> dict[str, Any]:
    """``method.cache_inputs`` where the method has one: plugins may implement only ``build``."""
    hook = getattr(method, "cache_inputs", None)
    return hook(texts, options) if hook is not None else {}


def refuse_missing_capabilities(
    methods: list[Method], model: str, family: str, capabilities: frozenset[str] | set[str]
) -> None:
    """One line naming the method and the capability where ``model`` lacks what a method needs."""
    for method in methods:
        missing = [c for c in getattr(method, "requires", ()) if c not in capabilities]
        if missing:
            raise UserError(
                f"method {method.name!r} needs the model capability {missing[0].replace('_', ' ')!r}, "
                f"which model {model} (family {family}) lacks"
            )


def refuse_for_model(
    prepared: list[tuple[Any, Method, dict[str, Any]]], model: str, family: str, languages: tuple[str, ...]
) -> None:
    """One line where a method (with its options) cannot run for a model reading ``languages``."""
    for _, method, options in prepared:
        hook = getattr(method, "refuses", None)
        reason = hook(options, languages) if hook is not None else None
        if reason:
            raise UserError(
                f"method {method.name!r} cannot run on model {model} (family {family}, reads "
                f"{', '.join(languages)}): {reason}"
            )


def resolve_options(method: Method, given: dict[str, Any]) -> dict[str, Any]:
    """Defaults filled in, unknown keys refused, strings parsed with the option's type."""
    known = {option.name: option for option in method.options}
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise UserError(
            f"method {method.name!r} has no option {', '.join(map(repr, unknown))}; "
            f"its options: {', '.join(known) or '(none)'}"
        )
    resolved = {}
    for name, option in known.items():
        value = given.get(name, option.default)
        if isinstance(value, str) and option.type is not str:
            try:
                value = option.type(value)
            except ValueError as error:
                raise UserError(
                    f"method {method.name!r} option {name!r}: cannot read {value!r} ({error})"
                ) from None
        if option.choices and value not in option.choices:
            raise UserError(
                f"method {method.name!r} option {name!r} must be one of {', '.join(map(str, option.choices))}, "
                f"not {value!r}"
            )
        resolved[name] = value
    return resolved


def require_english(texts: DatasetTexts, method: str) -> list[str]:
    if not texts.classnames_en:
        raise UserError(
            f"method {method!r} needs English class names for dataset {texts.dataset!r}: "
            "give --classnames-en FILE or use a catalog dataset that has them"
        )
    if len(texts.classnames_en) != len(texts.classnames):
        raise UserError(
            f"dataset {texts.dataset!r}: {len(texts.classnames_en)} English class names "
            f"but {len(texts.classnames)} Chinese ones"
        )
    return texts.classnames_en
