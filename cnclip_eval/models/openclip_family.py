"""``--model open_clip:<arch>[:<pretrained tag or checkpoint path>]``: a model built by open_clip.

``<arch>`` is an open_clip model name (``open_clip.list_models()``: ``xlm-roberta-base-ViT-B-32``,
``ViT-B-16-SigLIP-i18n-256``, ``ViT-B-16``, or a config added with ``open_clip.add_model_config``);
the pretrained part is one of its tags (``open_clip.list_pretrained_tags_by_model(arch)``) or a
checkpoint file. Without it the weights are random (drawn from ``--seed``), for timing and tests.

The model, its transform and its tokenizer come from ``open_clip.create_model_and_transforms`` and
``open_clip.get_tokenizer`` (weights loaded with ``weights_only=True``). A tag's weights are
downloaded once through open_clip's own downloader (Hugging Face or the URL its table gives) into
``--model-cache-dir`` (default: open_clip's cache); the weights are identified by the sha256 of that
file, as cn_clip checkpoints are.
"""

from __future__ import annotations

import logging
from pathlib import Path

from cnclip_eval.errors import DownloadError, UserError
from cnclip_eval.fileio import sha256_json
from cnclip_eval.models.base import TEXT_INPUT_EMBEDDINGS, LoadedModel, ModelRequest

log = logging.getLogger(__name__)

PREFIX = "open_clip:"
FAMILY = "open_clip"


def parse_spec(spec: str) -> tuple[str, str | None]:
    """``"<arch>[:<tag or path>]"`` -> (arch, tag or path or None)."""
    arch, _, pretrained = spec.partition(":")
    return arch, (pretrained or None)


def _model_config(arch: str) -> dict:
    import open_clip

    config = open_clip.get_model_config(arch)
    if config is None:
        raise UserError(
            f"--model {PREFIX}{arch}: open_clip has no model {arch!r}; see open_clip.list_models() "
            "(e.g. xlm-roberta-base-ViT-B-32, ViT-B-16-SigLIP-i18n-256, ViT-B-16)"
        )
    return config


def languages_of(config: dict) -> tuple[str, ...]:
    """What the text tower reads: multilingual vocabularies (XLM-R, SigLIP-i18n) include Chinese."""
    text = config.get("text_cfg", {})
    names = f"{text.get('hf_model_name', '')} {text.get('hf_tokenizer_name', '')}".lower()
    multilingual = "xlm-roberta" in names or "i18n" in names or "multilingual" in names
    if multilingual or int(text.get("vocab_size") or 0) >= 200_000:
        return ("zh", "en", "multi")
    return ("en",)


def weights_file(arch: str, pretrained: str, cache_dir: Path | None) -> Path:
    """The checkpoint file of a tag (downloaded now if needed) or the path given."""
    import open_clip

    if Path(pretrained).is_file():
        return Path(pretrained)
    cfg = open_clip.get_pretrained_cfg(arch, pretrained)
    if not cfg:
        tags = ", ".join(open_clip.list_pretrained_tags_by_model(arch)) or "(none)"
        raise UserError(
            f"--model {PREFIX}{arch}:{pretrained}: not a checkpoint file, nor a pretrained tag of {arch} "
            f"(its tags: {tags})"
        )
    where = cfg.get("hf_hub") or cfg.get("url")
    try:
        target = open_clip.download_pretrained(cfg, cache_dir=str(cache_dir) if cache_dir else None)
    except Exception as error:  # offline or unknown file: hub clients and urllib raise many types
        reason = str(error).splitlines()[0] if str(error) else ""
        raise DownloadError(
            f"could not download open_clip weights {arch}:{pretrained} from {where} into "
            f"{cache_dir or 'open_clip cache'}: {type(error).__name__}: {reason}. Offline? Fetch the "
            f"file where there is a network and pass --model {PREFIX}{arch}:/path/to/that/file"
        ) from None
    if not target or not Path(target).is_file():
        raise DownloadError(f"open_clip weights {arch}:{pretrained}: the download from {where} gave no file")
    return Path(target)


def _weights_id(arch: str, pretrained: str | None, config: dict, request: ModelRequest) -> str:
    from cnclip_eval.models.cnclip import checkpoint_sha256

    if pretrained is None:
        return f"random:{sha256_json({'open_clip': arch, **config})[:16]}:seed={request.seed}"
    return checkpoint_sha256(weights_file(arch, pretrained, request.cache_dir))


def _refuse_arch(request: ModelRequest) -> None:
    if request.arch:
        raise UserError(f"--arch applies to CN-CLIP checkpoints; {request.name} names its own architecture")


def identify_spec(request: ModelRequest, spec: str) -> None:
    """Checks the name up front; the identity itself needs the built model (its preprocessing can
    depend on the tag's own settings), so the model is loaded first (``identify_model``'s rule)."""
    _refuse_arch(request)
    _model_config(parse_spec(spec)[0])
    return None


def _create(arch: str, pretrained: str | None, request: ModelRequest, checkpoint: Path | None):
    import open_clip
    import torch

    # a tag's own settings (QuickGELU, mean/std) come with the tag; the file is already local
    tag = pretrained if pretrained is not None and not Path(pretrained).is_file() else None
    if pretrained is None:
        torch.manual_seed(request.seed)
    try:
        model, _, preprocess = open_clip.create_model_and_transforms(
            arch,
            pretrained=tag or (str(checkpoint) if checkpoint else None),
            cache_dir=str(request.cache_dir) if request.cache_dir else None,
            pretrained_text=False,  # the CLIP checkpoint holds the text tower; random weights stay random
            weights_only=True,
        )
        tokenizer = open_clip.get_tokenizer(
            arch, cache_dir=str(request.cache_dir) if request.cache_dir else None
        )
    except OSError as error:  # an HF text tower's config or tokenizer not reachable
        reason = str(error).splitlines()[0] if str(error) else ""
        raise DownloadError(
            f"open_clip could not build {arch}: {type(error).__name__}: {reason}. Offline? Its text "
            "tower's config and tokenizer come from the Hugging Face hub: fetch them where there is a "
            "network into $HF_HOME"
        ) from None
    return model, preprocess, tokenizer


def load(request: ModelRequest, spec: str) -> LoadedModel:
    from cnclip_eval.models import openclip_towers as towers
    from cnclip_eval.models.towers import ImageTower, TextTower

    _refuse_arch(request)
    arch, pretrained = parse_spec(spec)
    config = _model_config(arch)
    checkpoint = weights_file(arch, pretrained, request.cache_dir) if pretrained else None
    weights_id = _weights_id(arch, pretrained, config, request)
    model, preprocess, tokenizer = _create(arch, pretrained, request, checkpoint)
    module = model.float().eval().to(request.device)
    import open_clip

    preprocessing = towers.describe_preprocessing(open_clip.get_model_preprocess_cfg(module))
    hf_tokenizer = getattr(tokenizer, "tokenizer", None)
    pad_id = getattr(hf_tokenizer, "pad_token_id", None)
    text = towers.OpenClipTokenizer(
        tokenizer,
        int(tokenizer.context_length),
        0 if pad_id is None else int(pad_id),  # open_clip's own BPE pads with 0
        pad_to_context=not towers.pad_trims_exactly(module),
    )
    embedding_path = towers.embedding_input(module, text)
    capabilities = {TEXT_INPUT_EMBEDDINGS: embedding_path} if embedding_path is not None else {}
    source = f"file:{checkpoint.resolve()}" if checkpoint and Path(pretrained).is_file() else None
    return LoadedModel(
        model_id=request.name,
        arch=f"open_clip:{arch}",
        module=module,
        weights_id=weights_id,
        source=source
        or (
            f"open_clip {arch}:{pretrained} ({checkpoint})"
            if pretrained
            else f"random (--seed {request.seed})"
        ),
        encode_image=ImageTower(module),
        encode_text=TextTower(module),  # open_clip masks by its pad id or causally itself
        tokenizer=text,
        preprocessing=preprocessing,
        transform=preprocess,
        family=FAMILY,
        languages=languages_of(config),
        logit_scale=float(module.logit_scale.detach().exp().reshape(-1)[0]),
        capabilities=capabilities,
    )


def provide(request: ModelRequest) -> LoadedModel:
    """``--model open_clip:<arch>[:<pretrained tag or checkpoint path>]``."""
    return load(request, request.name.removeprefix(PREFIX))


provide.identify = lambda request: identify_spec(request, request.name.removeprefix(PREFIX))


def published(spec: str):
    """A provider for a registered short name of open_clip's ``<arch>:<tag>``."""

    def provide_published(request: ModelRequest) -> LoadedModel:
        return load(request, spec)

    provide_published.identify = lambda request: identify_spec(request, spec)
    return provide_published
