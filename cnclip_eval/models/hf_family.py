"""``--model transformers:<repo id or local folder>``: a transformers checkpoint with its processor files.

The family comes from ``config.json``'s ``model_type`` (``chinese_clip``, ``altclip``, ``clip``,
``siglip``; see :data:`~cnclip_eval.models.hf_towers.KINDS`). The model is built by
``AutoModel.from_pretrained`` in fp32; preprocessing and tokenization are the checkpoint's own
processor's (``AutoTokenizer``, ``AutoImageProcessor``). A repo id is fetched once into the
Hugging Face cache (``--model-cache-dir`` or ``$HF_HOME``), safetensors where the repo has them;
a cached copy is used without asking the hub.

The weights are identified by the sha256 of their files, as cn_clip checkpoints are, so a replaced
file is a new model to every cache.
"""

from __future__ import annotations

import logging
from pathlib import Path

from cnclip_eval.errors import DownloadError, UserError
from cnclip_eval.fileio import sha256_json
from cnclip_eval.models.base import TEXT_INPUT_EMBEDDINGS, LoadedModel, ModelIdentity, ModelRequest

log = logging.getLogger(__name__)

PREFIX = "transformers:"
FAMILY = "transformers"
CONFIG_FILES = ["*.json", "*.txt", "*.model", "*.tiktoken"]  # config, processor, tokenizer files


def spec_of(name: str) -> str:
    return name.removeprefix(PREFIX)


def _weights_in(folder: Path) -> list[Path]:
    safetensors = sorted(folder.glob("*.safetensors"))
    return safetensors or sorted(folder.glob("pytorch_model*.bin"))


def _complete(folder: Path) -> bool:
    return (folder / "config.json").is_file() and bool(_weights_in(folder))


def local_folder(spec: str, cache_dir: Path | None) -> Path | None:
    """The checkpoint's folder if it is on this machine (a folder, or the repo in the HF cache)."""
    if Path(spec).is_dir():
        return Path(spec)
    if "/" not in spec or spec.startswith((".", "/")):
        return None
    from huggingface_hub import snapshot_download

    try:
        folder = Path(snapshot_download(spec, cache_dir=cache_dir, local_files_only=True))
    except Exception:  # not cached: huggingface_hub raises several types
        return None
    return folder if _complete(folder) else None


def fetch(spec: str, cache_dir: Path | None) -> Path:
    """The checkpoint's folder: local, cached, or downloaded now (one line when that fails)."""
    folder = local_folder(spec, cache_dir)
    if folder is not None:
        return folder
    if Path(spec).exists() or spec.startswith((".", "/")) or "/" not in spec:
        raise UserError(
            f"--model {PREFIX}{spec}: no such checkpoint folder, and not a Hugging Face repo id (owner/name)"
        )
    from huggingface_hub import HfApi, snapshot_download

    where = cache_dir or "the Hugging Face cache ($HF_HOME)"
    log.info("downloading %s from Hugging Face into %s", spec, where)
    try:
        files = HfApi().list_repo_files(spec)
        weights = ["*.safetensors"] if any(f.endswith(".safetensors") for f in files) else ["pytorch_model*"]
        folder = Path(snapshot_download(spec, cache_dir=cache_dir, allow_patterns=CONFIG_FILES + weights))
    except Exception as error:  # offline, unknown repo, gated repo: hub clients raise many types
        reason = str(error).splitlines()[0] if str(error) else ""
        raise DownloadError(
            f"could not download transformers checkpoint {spec} from Hugging Face into {where}: "
            f"{type(error).__name__}: {reason}. Offline? Fetch it where there is a network "
            f"(`huggingface-cli download {spec}`) and pass --model {PREFIX}/path/to/that/folder, "
            f"or point --model-cache-dir / $HF_HOME at a cache that holds it"
        ) from None
    if not _complete(folder):
        raise DownloadError(f"{folder}: the download of {spec} holds no config.json or no weights")
    return folder


def weights_sha256(folder: Path) -> str:
    """sha256 of the weights file, or of the per-file hashes where the weights are sharded."""
    from cnclip_eval.models.cnclip import checkpoint_sha256

    files = _weights_in(folder)
    if len(files) == 1:
        return checkpoint_sha256(files[0])
    return sha256_json({f.name: checkpoint_sha256(f) for f in files})


def read_config(folder: Path):
    from transformers import AutoConfig

    from cnclip_eval.models.hf_towers import KINDS

    try:
        config = AutoConfig.from_pretrained(folder)
    except (OSError, ValueError) as error:
        raise UserError(f"{folder}: not a transformers checkpoint ({error})") from None
    if config.model_type not in KINDS:
        raise UserError(
            f"{folder}/config.json: model_type {config.model_type!r} is not a CLIP family this harness "
            f"reads; known: {', '.join(KINDS)}"
        )
    return config


def _image_processor(folder: Path):
    from transformers import AutoImageProcessor

    try:
        return AutoImageProcessor.from_pretrained(folder)
    except (OSError, ValueError) as error:
        raise UserError(f"{folder}: no image processor files (preprocessor_config.json): {error}") from None


def _identity(folder: Path, config, image_processor) -> ModelIdentity:
    from cnclip_eval.models.hf_towers import KINDS, describe_preprocessing, languages_of

    capabilities = {TEXT_INPUT_EMBEDDINGS} if KINDS[config.model_type].input_embeddings else set()
    return ModelIdentity(
        weights_sha256(folder),
        f"{config.model_type}:{sha256_json(config.to_dict())[:16]}",
        describe_preprocessing(image_processor),
        languages_of(config.model_type, config),
        frozenset(capabilities),
        FAMILY,
    )


def _refuse_arch(request: ModelRequest) -> None:
    if request.arch:
        raise UserError(f"--arch applies to CN-CLIP checkpoints; {request.name} names its own architecture")


def identify_spec(request: ModelRequest, spec: str) -> ModelIdentity | None:
    """From the files alone where they are on this machine; None before the download."""
    _refuse_arch(request)
    folder = local_folder(spec, request.cache_dir)
    if folder is None:
        return None
    return _identity(folder, read_config(folder), _image_processor(folder))


def load(request: ModelRequest, spec: str) -> LoadedModel:
    """The checkpoint ``spec`` (a repo id or a folder) as a :class:`LoadedModel` named ``request.name``."""
    import torch
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as transformers_logging

    from cnclip_eval.models import hf_towers as towers

    _refuse_arch(request)
    folder = fetch(spec, request.cache_dir)
    # its per-tensor "Loading weights" bar would interleave with the harness's own progress and errors
    transformers_logging.disable_progress_bar()
    config = read_config(folder)
    kind = towers.KINDS[config.model_type]
    identity = _identity(folder, config, image_processor := _image_processor(folder))
    module = AutoModel.from_pretrained(folder, dtype=torch.float32).eval().to(request.device)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    positions = config.text_config.max_position_embeddings - kind.position_offset
    text = towers.HfTokenizer(tokenizer, min(tokenizer.model_max_length, positions), kind.pad_to_context)
    capabilities = (
        {TEXT_INPUT_EMBEDDINGS: towers.EmbeddingInput(module, text)} if kind.input_embeddings else {}
    )
    return LoadedModel(
        model_id=request.name,
        arch=identity.arch,
        module=module,
        weights_id=identity.weights_id,
        source=f"folder:{folder.resolve()}"
        if Path(spec).is_dir()
        else f"Hugging Face {spec} ({folder.name})",
        encode_image=towers.ImageTower(module),
        encode_text=towers.TextTower(module, text.gives_mask),
        tokenizer=text,
        preprocessing=identity.preprocessing,
        transform=towers.ImageTransform(image_processor),
        family=FAMILY,
        languages=identity.languages,
        logit_scale=float(module.logit_scale.detach().exp()),
        capabilities=capabilities,
    )


def provide(request: ModelRequest) -> LoadedModel:
    """``--model transformers:<repo id or folder>``."""
    return load(request, spec_of(request.name))


provide.identify = lambda request: identify_spec(request, spec_of(request.name))


def published(repo: str):
    """A provider for a registered short name of the published checkpoint ``repo``."""

    def provide_published(request: ModelRequest) -> LoadedModel:
        return load(request, repo)

    provide_published.identify = lambda request: identify_spec(request, repo)
    return provide_published
