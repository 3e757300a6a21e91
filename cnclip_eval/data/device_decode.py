"""Decoding and resizing on the model's device (``--decode torchvision``), for a GPU the CPU cannot feed.

The default path (``--decode pil``) is CN-CLIP's own: DataLoader workers decode with PIL and run
cn_clip's ``image_transform``; it reproduces CN-CLIP's and CLIP_benchmark's numbers exactly. This
path moves the work after the loader: workers only cut encoded bytes out of the shards, and the
main process decodes JPEGs in batches with ``torchvision.io.decode_jpeg`` on the model's device
(nvJPEG on a CUDA GPU; other formats on the CPU, through PIL for those torchvision cannot read),
then resizes each image as the model's :class:`~cnclip_eval.models.base.Preprocessing` says (a
squash to ``S x S``, or the shorter side to ``S`` and a centre crop) and normalizes with the
model's mean and std.

The resize copies what PIL does: torch's antialiased bicubic is PIL's kernel (a = -0.5, support
scaled when shrinking), applied as PIL applies it, width first, then height, rounding and clipping to
8 bits after each pass. That gives PIL's pixels within one 8-bit level for square images and for
every enlargement; for some non-square shapes Pillow picks the other pass order and pixels near
edges can differ by more. ``tests/test_device_decode.py`` measures this and the top-1 agreement with
the PIL path; results record which path made them.

torchvision 0.29 marks its decoders deprecated in favour of TorchCodec; they work at the pinned
version, and the warning is silenced here so that it does not repeat for every batch.
"""

from __future__ import annotations

import re
import warnings

import torch
import torch.nn.functional as F

from cnclip_eval.errors import DataError, UnknownNameError, UserError
from cnclip_eval.models.base import Preprocessing

CLIP_MEAN = Preprocessing.mean
CLIP_STD = Preprocessing.std
DECODERS = ("pil", "torchvision")  # pil: the family's own transform in the workers


def check_decode(decode: str) -> None:
    if decode not in DECODERS:
        raise UnknownNameError("decoder", decode, sorted(DECODERS))


def preprocessing_id(preprocessing: Preprocessing, decode: str) -> str:
    """What the feature cache and provenance record as the preprocessing under ``decode``."""
    check_decode(decode)
    if decode == "pil":
        return preprocessing.id
    parts = ["torchvision.io.decode_jpeg(device)", f"torch-{preprocessing.interpolation}-antialias", "round8"]
    if preprocessing.resize != "squash":
        parts.append(preprocessing.resize)
    if (preprocessing.mean, preprocessing.std) == (CLIP_MEAN, CLIP_STD):
        parts.append("clip-mean-std")  # the id cn_clip's models had before other families came
    else:
        parts.append(f"mean={list(preprocessing.mean)}-std={list(preprocessing.std)}")
    return "/".join(parts)


_SOURCE_LOCATION = re.compile(r"^[\w.]+, \S+:\d+, ")  # "decode_jpeg, /path/decode_jpeg.cpp:171, "


def _is_jpeg(data: torch.Tensor) -> bool:
    return len(data) > 2 and int(data[0]) == 0xFF and int(data[1]) == 0xD8


class DevicePreprocess:
    """Encoded images (uint8 tensors) -> (B, 3, S, S) float32 on ``device``, normalized as the
    model's ``preprocessing`` says."""

    def __init__(self, preprocessing: Preprocessing, device: torch.device) -> None:
        if preprocessing.resize == "other":
            raise UserError(
                f"--decode torchvision cannot reproduce this model's preprocessing ({preprocessing.id}); "
                "use --decode pil"
            )
        self.size = preprocessing.size
        self.crop = preprocessing.resize == "shorter-side+center-crop"
        self.mode = preprocessing.interpolation
        if self.mode not in ("bicubic", "bilinear"):
            raise UserError(
                f"--decode torchvision: no device resize for {self.mode!r} interpolation; use --decode pil"
            )
        self.device = torch.device(device)
        self.mean = torch.tensor(preprocessing.mean, device=self.device).view(1, 3, 1, 1)
        self.std = torch.tensor(preprocessing.std, device=self.device).view(1, 3, 1, 1)

    def __call__(self, encoded: list[torch.Tensor], keys: list[str], shard: str) -> torch.Tensor:
        decoded = self._decode(encoded, keys, shard)
        batch = torch.cat([self._resize(image.unsqueeze(0).float()) for image in decoded]).div_(255)
        return (batch - self.mean) / self.std

    def _resize(self, image: torch.Tensor) -> torch.Tensor:
        """(1, 3, H, W) 0..255 -> (1, 3, S, S) 0..255 integers, two separable passes as PIL does."""
        height, width = self._target(*image.shape[-2:])
        for size in ((image.shape[-2], width), (height, width)):  # width, then height
            if tuple(image.shape[-2:]) != size:
                image = F.interpolate(image, size=size, mode=self.mode, antialias=True, align_corners=False)
                image = image.round_().clamp_(0, 255)  # PIL stores each pass in 8 bits
        if self.crop:  # torchvision's CenterCrop: offsets rounded from the halves
            top, left = round((height - self.size) / 2), round((width - self.size) / 2)
            image = image[..., top : top + self.size, left : left + self.size]
        return image

    def _target(self, height: int, width: int) -> tuple[int, int]:
        """The size before the crop: S x S, or the shorter side to S (torchvision's Resize(S) rule)."""
        if not self.crop:
            return self.size, self.size
        if height <= width:
            return self.size, int(self.size * width / height)
        return int(self.size * height / width), self.size

    def _decode(self, encoded: list[torch.Tensor], keys: list[str], shard: str) -> list[torch.Tensor]:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=DeprecationWarning, module="torchvision")
            return self._decode_all(encoded, keys, shard)

    def _decode_all(self, encoded: list[torch.Tensor], keys: list[str], shard: str) -> list[torch.Tensor]:
        """(3, H, W) uint8 per image on the device; JPEGs in one batched call."""
        from torchvision.io import ImageReadMode, decode_jpeg

        out: list[torch.Tensor | None] = [None] * len(encoded)
        jpegs = [i for i, data in enumerate(encoded) if _is_jpeg(data)]
        if jpegs:
            try:
                images = decode_jpeg([encoded[i] for i in jpegs], mode=ImageReadMode.RGB, device=self.device)
            except RuntimeError:  # one bad file fails the batch: decode them one by one to name it
                images = [self._one_jpeg(encoded[i], keys[i], shard) for i in jpegs]
            for i, image in zip(jpegs, images):
                out[i] = image
        for i, data in enumerate(encoded):
            if out[i] is None:
                out[i] = self._other_format(data, keys[i], shard).to(self.device)
        return out

    def _one_jpeg(self, data: torch.Tensor, key: str, shard: str) -> torch.Tensor:
        from torchvision.io import ImageReadMode, decode_jpeg

        try:
            return decode_jpeg(data, mode=ImageReadMode.RGB, device=self.device)
        except RuntimeError as error:
            reason = _SOURCE_LOCATION.sub("", str(error))  # torchvision prefixes its C++ source location
            raise DataError(f"shard {shard}, sample {key}: cannot decode the JPEG image ({reason})") from None

    def _other_format(self, data: torch.Tensor, key: str, shard: str) -> torch.Tensor:
        """PNG, WebP and GIF through torchvision; whatever else PIL reads (BMP, TIFF, ...) through PIL,
        as the default path would; the error names the sample when neither can."""
        import io

        import numpy as np
        from PIL import Image, UnidentifiedImageError
        from torchvision.io import ImageReadMode, decode_image

        try:
            return decode_image(data, mode=ImageReadMode.RGB)
        except RuntimeError:
            pass
        try:
            with Image.open(io.BytesIO(data.numpy().tobytes())) as image:
                pixels = np.asarray(image.convert("RGB"))
        except (UnidentifiedImageError, OSError, ValueError) as error:
            from cnclip_eval.data.shards import image_error_reason

            raise DataError(
                f"shard {shard}, sample {key}: cannot decode the image ({image_error_reason(error)})"
            ) from None
        return torch.from_numpy(pixels.copy()).permute(2, 0, 1)
