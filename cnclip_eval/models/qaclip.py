"""QA-CLIP (TencentARC, QQ-ARC Joint Lab): CN-CLIP's architectures trained on other data, published
as checkpoints in cn_clip's own format, so cn_clip's provider loads them (weights_only, the same
tokenizer, context 52 and squash-resize preprocessing as CN-CLIP).

The files are those its README links: the Hugging Face repo ``TencentARC/QA-CLIP``, one ``.pt``
per size; they are downloaded once through huggingface_hub into ``--model-cache-dir`` (default: the
harness's model cache).
"""

from __future__ import annotations

import logging
from pathlib import Path

from cnclip_eval.errors import DownloadError
from cnclip_eval.models.base import LoadedModel, ModelIdentity, ModelRequest

log = logging.getLogger(__name__)

REPO = "TencentARC/QA-CLIP"
# registered name -> (file in REPO, cn_clip architecture VISION@TEXT)
CHECKPOINTS = {
    "qa-clip-RN50": ("QA-CLIP-RN50.pt", "RN50@RBT3-chinese"),
    "qa-clip-ViT-B-16": ("QA-CLIP-base.pt", "ViT-B-16@RoBERTa-wwm-ext-base-chinese"),
    "qa-clip-ViT-L-14": ("QA-CLIP-large.pt", "ViT-L-14@RoBERTa-wwm-ext-base-chinese"),
}


def _cache_dir(request: ModelRequest) -> Path:
    from cnclip_eval.models.cnclip import default_cache_dir

    return Path(request.cache_dir or default_cache_dir())


def _cached(filename: str, cache_dir: Path) -> Path | None:
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(REPO, filename, cache_dir=cache_dir)
    return Path(found) if isinstance(found, str) else None


def download(filename: str, cache_dir: Path) -> Path:
    found = _cached(filename, cache_dir)
    if found is not None:
        return found
    from huggingface_hub import hf_hub_download

    log.info("downloading %s from Hugging Face %s into %s", filename, REPO, cache_dir)
    try:
        return Path(hf_hub_download(REPO, filename, cache_dir=cache_dir))
    except Exception as error:  # offline, gated or missing: hub clients raise many types
        reason = str(error).splitlines()[0] if str(error) else ""
        raise DownloadError(
            f"could not download QA-CLIP weights {filename} from Hugging Face {REPO} into {cache_dir}: "
            f"{type(error).__name__}: {reason}. Offline? Fetch the file where there is a network and "
            f"pass --model /path/to/{filename} --arch VISION@TEXT, or point --model-cache-dir at a "
            "Hugging Face cache that holds it"
        ) from None


def provider(name: str):
    """The provider of one registered QA-CLIP size."""

    def provide(request: ModelRequest) -> LoadedModel:
        from cnclip_eval.models.cnclip import from_config

        filename, arch = CHECKPOINTS[name]
        checkpoint = download(filename, _cache_dir(request))
        return from_config(
            request, request.arch or arch, checkpoint, model_id=name, source=f"Hugging Face {REPO}/{filename}"
        )

    def identify(request: ModelRequest) -> ModelIdentity | None:
        from cnclip_eval.models.cnclip import identity_of

        filename, arch = CHECKPOINTS[name]
        checkpoint = _cached(filename, _cache_dir(request))
        return None if checkpoint is None else identity_of(request, request.arch or arch, checkpoint)

    provide.identify = identify
    return provide
