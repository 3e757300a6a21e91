"""CN-CLIP as a CLIP_benchmark model type (``--model_type cn_clip``), and a fix for its numpy-2 crash.

CLIP_benchmark has no plugin mechanism: its model types are the dict
``clip_benchmark.models.TYPE2FUNC`` and the list ``MODEL_TYPES``, which its argparse uses as the
``choices`` of ``--model_type``. :func:`register` adds ``cn_clip`` to both (in place, so a parser
built before or after sees it) and is safe to call any number of times.

``--model`` / ``--pretrained`` as :func:`load_cn_clip` reads them:

* ``--model ViT-B-16`` (any name of ``cnclip-eval ls models``), ``--pretrained`` empty or left at
  CLIP_benchmark's default: that model's own weights, through our model registry (published
  weights are downloaded into ``--model_cache_dir``);
* ``--model ViT-B-16 --pretrained /path/ckpt.pt``: a local CN-CLIP checkpoint of that
  architecture; ``--model VISION@TEXT --pretrained /path/ckpt.pt`` names the architecture as
  ``cnclip-eval --arch`` does (config names or JSON paths);
* ``--model VISION@TEXT --pretrained random``: random weights (seed 0), for timing only.

Loading goes through :func:`cnclip_eval.models.load_model`, so the model is the same fp32 module
that ``cnclip-eval`` evaluates. For a CN-CLIP model its ``encode_image`` / ``encode_text`` are
cn_clip's own; the tokenizer is ``cn_clip.clip.tokenize`` (context 52) and the transform cn_clip's
``image_transform`` at the model's resolution (squash resize, no center crop). Any other family
(``--model transformers:...``, ``--model altclip``) comes through the model contract
(:class:`ContractModel`, :class:`ContractTokenizer`): its own transform and tokenizer, its own
towers; so ``cnclip-eval export`` works for every family.

**numpy 2 fix.** CLIP_benchmark 1.6.2's ``zeroshot_classification.accuracy`` calls ``float()`` on a
one-element array, which numpy 2 refuses ("only 0-dimensional arrays can be converted to Python
scalars"): every zero-shot classification run dies after all images are encoded. When the
installed function shows that behaviour, :func:`register` replaces the module attribute with
:func:`accuracy`, which has the same contract and returns the same numbers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import torch

from cnclip_eval.errors import DownloadError, UserError
from cnclip_eval.models import MODELS, ModelRequest, load_model

log = logging.getLogger(__name__)

MODEL_TYPE = "cn_clip"
TESTED_VERSIONS = ("1.6.2",)  # the CLIP_benchmark releases this module was tested against
# CLIP_benchmark's argparse default for --pretrained (an OpenCLIP tag): for cn_clip it means "not given"
CLI_DEFAULT_PRETRAINED = "laion400m_e32"
RANDOM_WEIGHTS = "random"

Loaded = tuple[torch.nn.Module, Callable, Callable]


def load_cn_clip(
    model_name: str,
    pretrained: str | None = None,
    cache_dir: str | None = None,
    device: str | torch.device = "cpu",
) -> Loaded:
    """CLIP_benchmark's loader contract: ``(model, transform, tokenizer)``; see the module docstring."""
    from cn_clip.clip import tokenize

    try:
        loaded = load_model(model_request(model_name, pretrained, cache_dir, device))
    except DownloadError as error:  # its hints name cnclip-eval's flags; add CLIP_benchmark's
        raise DownloadError(
            f"{error}. With cnclip-benchmark: --model_cache_dir DIR holding the file, "
            f"or --model {model_name} --pretrained /path/to/the/file"
        ) from None
    log.info(
        "cn_clip model %s (arch %s, weights %s, from %s)",
        loaded.model_id,
        loaded.arch,
        loaded.weights_id,
        loaded.source,
    )
    if loaded.family == "cn_clip":
        return loaded.module, loaded.image_transform(), tokenize
    return ContractModel(loaded), loaded.image_transform(), ContractTokenizer(loaded.tokenizer)


class ContractModel(torch.nn.Module):
    """A model of any family as CLIP_benchmark calls it: ``encode_image(images)`` and
    ``encode_text(tokens)``, ``tokens`` from :class:`ContractTokenizer`."""

    def __init__(self, loaded) -> None:
        super().__init__()
        self.module = loaded.module  # registered, so .to() / .eval() reach the weights
        self.loaded = loaded

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        return self.loaded.encode_image(images)  # (B, D)

    def encode_text(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.loaded.encode_text(tokens[:, 0], tokens[:, 1])  # ids, mask -> (B, D)


class ContractTokenizer:
    """Texts -> (B, 2, L) long: token ids and their mask stacked, since CLIP_benchmark moves one
    tensor to the device; padded as the family's tokenizer says (see cnclip_eval.text)."""

    def __init__(self, tokenizer) -> None:
        self.tokenizer = tokenizer

    def __call__(self, texts) -> torch.Tensor:
        from cnclip_eval.text import pad_batch, padding_mask

        ids, _ = self.tokenizer(list(texts))
        width = self.tokenizer.context_length if self.tokenizer.pad_to_context else max(map(len, ids))
        return torch.stack([pad_batch(ids, self.tokenizer.pad_id, width), padding_mask(ids, width)], dim=1)


def model_request(
    model_name: str, pretrained: str | None, cache_dir: str | None, device: str | torch.device
) -> ModelRequest:
    """What to ask our model registry for, given CLIP_benchmark's ``--model`` and ``--pretrained``."""
    if Path(model_name).is_file():  # cnclip-eval's "--model ckpt.pt --arch ..." habit
        raise UserError(
            f"--model {model_name}: with --model_type {MODEL_TYPE}, give the checkpoint as --pretrained "
            "and its architecture as --model (a name such as ViT-B-16, or VISION@TEXT)"
        )
    cache = Path(cache_dir) if cache_dir else None
    device = str(device)
    pretrained = (pretrained or "").strip()
    if pretrained in ("", CLI_DEFAULT_PRETRAINED):
        if "@" in model_name:
            raise UserError(
                f"--model {model_name}: an architecture needs --pretrained /path/to/checkpoint.pt "
                f"(or --pretrained {RANDOM_WEIGHTS} for random weights)"
            )
        return ModelRequest(model_name, cache_dir=cache, device=device)
    if pretrained == RANDOM_WEIGHTS:
        return ModelRequest("random", arch=architecture_of(model_name), device=device)
    checkpoint = Path(pretrained).expanduser()
    if not checkpoint.is_file():
        raise UserError(
            f"--pretrained {pretrained}: no such checkpoint file. For --model_type {MODEL_TYPE}, "
            "--pretrained is a local CN-CLIP checkpoint, or empty for the named model's own weights"
        )
    return ModelRequest(str(checkpoint), arch=architecture_of(model_name), cache_dir=cache, device=device)


def architecture_of(model_name: str) -> str:
    """``VISION@TEXT`` for ``--model``: given as such, or that of a registered model."""
    if "@" in model_name:
        return model_name
    from cn_clip.clip.utils import _MODEL_INFO

    if model_name in _MODEL_INFO:  # published names: known without downloading their weights
        return _MODEL_INFO[model_name]["struct"]
    MODELS.get(model_name)  # an unknown name fails here, listing the valid ones
    # small registered configs carry their arch only in the provider; building one (random, tiny) is cheap
    return load_model(ModelRequest(model_name)).arch


def accuracy(output: torch.Tensor, target: torch.Tensor, topk: tuple[int, ...] = (1,)) -> list[float]:
    """Top-k accuracies, in the order of ``topk``: CLIP_benchmark's function without the numpy crash.

    ``output`` is ``(N, C)`` logits, ``target`` ``(N,)`` class ids. The sums are taken in float32
    exactly as the original, so the numbers are the same.
    """
    pred = output.topk(max(topk), 1, True, True)[1].t()  # (k, N)
    correct = pred.eq(target.view(1, -1).expand_as(pred))  # (k, N)
    n = len(target)
    return [correct[:k].reshape(-1).float().sum().item() / n for k in topk]


def accuracy_is_broken(function: Callable) -> bool:
    """Whether ``function`` fails as CLIP_benchmark 1.6.2's does under numpy 2 (checked by running it)."""
    try:
        function(torch.zeros(1, 2), torch.zeros(1, dtype=torch.long), topk=(1,))
    except TypeError:
        return True
    return False


def fix_accuracy() -> bool:
    """Replace ``zeroshot_classification.accuracy`` when the installed one crashes; True if replaced."""
    from clip_benchmark.metrics import zeroshot_classification

    current = zeroshot_classification.accuracy
    if current is accuracy or not accuracy_is_broken(current):
        return False
    zeroshot_classification.accuracy = accuracy
    log.info("replaced clip_benchmark's zero-shot accuracy(), which fails under numpy 2")
    return True


def register() -> None:
    """Add ``cn_clip`` to CLIP_benchmark's model types and apply the numpy fix (idempotent)."""
    import sys

    import clip_benchmark.models as models

    version = installed_version()
    if version not in TESTED_VERSIONS:
        log.warning(
            "clip_benchmark %s is installed; cnclip-eval's plugin was tested with %s",
            version,
            ", ".join(TESTED_VERSIONS),
        )
    models.TYPE2FUNC[MODEL_TYPE] = load_cn_clip
    type_lists = [models.MODEL_TYPES]
    cli = sys.modules.get("clip_benchmark.cli")
    if cli is not None and cli.MODEL_TYPES is not models.MODEL_TYPES:  # rebound by someone: keep both
        type_lists.append(cli.MODEL_TYPES)
    for types in type_lists:
        if MODEL_TYPE not in types:
            types.append(MODEL_TYPE)  # in place: argparse holds this very list as its choices
    fix_accuracy()


def installed_version() -> str:
    try:
        return metadata.version("clip_benchmark")
    except metadata.PackageNotFoundError:  # imported from a source tree
        return "unknown"
