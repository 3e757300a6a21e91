"""CN-CLIP model providers: published weights by name, local checkpoints, and small configs.

Every path ends in :func:`build`: ``cn_clip.clip.model.CLIP(**config)`` in fp32, weights loaded
with ``torch.load(..., weights_only=True)``. (cn_clip's own ``create_model`` reads configs only
from its package folder and converts to fp16, so it is not used.)
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import torch

from cnclip_eval.errors import DownloadError, UserError
from cnclip_eval.fileio import sha256_file, sha256_json
from cnclip_eval.models import cnclip_towers as towers
from cnclip_eval.models.arch import load_arch_config
from cnclip_eval.models.base import LoadedModel, ModelIdentity, ModelRequest

log = logging.getLogger(__name__)

MODEL_CACHE_ENV = "CNCLIP_EVAL_MODEL_CACHE"


def default_cache_dir() -> Path:
    return Path(os.environ.get(MODEL_CACHE_ENV) or Path.home() / ".cache" / "cnclip-eval" / "models")


_CHECKPOINT_SHA256: dict[tuple[str, int, int], str] = {}


def checkpoint_sha256(path: Path) -> str:
    """sha256 of a checkpoint file, hashed once per process while its size and mtime stand (the
    skip-existing fingerprint and the load that may follow both ask for it)."""
    stat = Path(path).stat()
    key = (str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _CHECKPOINT_SHA256:
        _CHECKPOINT_SHA256[key] = sha256_file(path)
    return _CHECKPOINT_SHA256[key]


def identity_of(request: ModelRequest, arch: str, checkpoint: Path | None) -> ModelIdentity:
    """The identity ``from_config`` would give, from the config and the file alone."""
    config = load_arch_config(arch)
    weights_id = (
        checkpoint_sha256(checkpoint)
        if checkpoint is not None
        else f"random:{sha256_json(config)[:16]}:seed={request.seed}"
    )
    size = int(config["image_resolution"])
    return ModelIdentity(
        weights_id, arch, towers.preprocessing(size), towers.LANGUAGES, towers.CAPABILITIES, towers.FAMILY
    )


def build(config: dict, seed: int) -> torch.nn.Module:
    """An fp32 CLIP from a config; random weights drawn deterministically from ``seed``."""
    from cn_clip.clip.model import CLIP

    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        model = CLIP(**config)
    finally:
        torch.random.set_rng_state(generator_state)
    return model.float().eval()


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """A CN-CLIP checkpoint's state dict: ``{"state_dict": ...}`` or a bare one, ``module.`` stripped."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise UserError(f"{path}: no such checkpoint file") from None
    except Exception as error:  # torch raises several types for corrupt or unsafe files
        raise UserError(
            f"{path}: not a loadable weights-only checkpoint ({type(error).__name__}: {error})"
        ) from None
    state = checkpoint.get("state_dict", checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise UserError(f"{path}: expected a dict of tensors, or {{'state_dict': dict of tensors}}")
    state = {k.removeprefix("module."): v for k, v in state.items()}
    # cn_clip never uses BERT's pooler and its own loader drops it too
    return {k: v for k, v in state.items() if not k.startswith("bert.pooler")}


def load_weights(model: torch.nn.Module, path: Path, arch: str) -> None:
    state = read_state_dict(path)
    expected = model.state_dict()
    problems = [f"missing {k}" for k in expected if k not in state]
    problems += [f"unexpected {k}" for k in state if k not in expected]
    problems += [
        f"{k} is {tuple(v.shape)}, not {tuple(expected[k].shape)}"
        for k, v in state.items()
        if k in expected and v.shape != expected[k].shape
    ]
    if problems:
        raise UserError(
            f"{path}: checkpoint does not fit architecture {arch} "
            f"({len(problems)} mismatched keys, e.g. {'; '.join(problems[:3])})"
        )
    model.load_state_dict(state)


def from_config(
    request: ModelRequest, arch: str, checkpoint: Path | None, model_id: str, source: str
) -> LoadedModel:
    config = load_arch_config(arch)
    model = build(config, request.seed)
    if checkpoint is not None:
        load_weights(model, checkpoint, arch)
        weights_id = checkpoint_sha256(checkpoint)
    else:
        weights_id = f"random:{sha256_json(config)[:16]}:seed={request.seed}"
    return towers.loaded(
        model.to(request.device),
        model_id=model_id,
        arch=arch,
        image_size=int(config["image_resolution"]),
        weights_id=weights_id,
        source=source,
    )


def load_checkpoint(request: ModelRequest) -> LoadedModel:
    """``--model PATH --arch VISION@TEXT``: a local checkpoint in CN-CLIP's format."""
    path = Path(request.name)
    if not request.arch:
        raise UserError(
            f"--model {path}: a checkpoint file needs --arch VISION@TEXT, e.g. ViT-B-16@RoBERTa-wwm-ext-base-chinese"
        )
    return from_config(request, request.arch, path, model_id=path.name, source=f"file:{path.resolve()}")


def named_cnclip(name: str):
    """A provider for one of CN-CLIP's published models, downloaded through cn_clip's own loader."""

    def provide(request: ModelRequest) -> LoadedModel:
        from cn_clip.clip.utils import _MODEL_INFO, _MODELS

        repo, filename = _MODELS[name]
        cache_dir = Path(request.cache_dir or default_cache_dir())
        checkpoint = download(name, cache_dir, request.use_modelscope)
        hub = "ModelScope AI-ModelScope" if request.use_modelscope else "Hugging Face OFA-Sys"
        return from_config(
            request,
            request.arch or _MODEL_INFO[name]["struct"],
            checkpoint,
            model_id=name,
            source=f"{hub}/{repo}/{filename}",
        )

    def identify(request: ModelRequest) -> ModelIdentity | None:
        """From the downloaded file; None before the download (then the model is loaded first)."""
        from cn_clip.clip.utils import _MODEL_INFO, _MODELS

        target = Path(request.cache_dir or default_cache_dir()) / _MODELS[name][1]
        if not target.is_file():
            return None
        return identity_of(request, request.arch or _MODEL_INFO[name]["struct"], target)

    provide.identify = identify
    return provide


def download(name: str, cache_dir: Path, use_modelscope: bool) -> Path:
    from cn_clip.clip.utils import _MODEL_INFO, _MODELS, _download

    repo, filename = _MODELS[name]
    target = cache_dir / filename
    if target.is_file():
        return target
    where = f"ModelScope repo AI-ModelScope/{repo}" if use_modelscope else f"Hugging Face repo OFA-Sys/{repo}"
    log.info("downloading %s from %s into %s", filename, where, cache_dir)
    try:
        return Path(_download(name, str(cache_dir), use_modelscope))
    except Exception as error:  # hub clients raise many types when offline
        raise DownloadError(
            f"could not download {name} weights ({filename}) from {where} into {cache_dir}: "
            f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}. "
            f"Offline? Put {filename} into {cache_dir} (or set --model-cache-dir / ${MODEL_CACHE_ENV}), "
            f"or pass --model /path/to/{filename} --arch {_MODEL_INFO[name]['struct']}"
        ) from None


def small_config(arch: str):
    """A provider for a small config shipped with the package (random weights from --seed)."""

    def provide(request: ModelRequest) -> LoadedModel:
        return from_config(
            request, request.arch or arch, None, model_id=request.name, source=f"config:{arch}"
        )

    provide.identify = lambda request: identity_of(request, request.arch or arch, None)
    return provide
