"""Decoding and resizing on the model's device (``--decode torchvision``), for a GPU the CPU cannot feed.

The default path (``--decode pil``) is CN-CLIP's own: DataLoader workers decode with PIL and run
cn_clip's ``image_transform``; it reproduces CN-CLIP's and CLIP_benchmark's numbers exactly. This
path moves the work after the loader: workers only cut encoded bytes out of the shards, and the
main process decodes JPEGs in batches with ``torchvision.io.decode_jpeg`` on the model's device
(nvJPEG on a CUDA GPU; other formats on the CPU), then squashes each image to ``S x S`` with torch's
antialiased bicubic, rounds to 8 bits as PIL does, and normalizes with CLIP's mean and std.

Torch's bicubic kernel (a = -0.75) is not PIL's (a = -0.5), so features differ slightly from the
PIL path and so can a prediction near a tie: ``tests/test_device_decode.py`` measures top-1
agreement with the PIL path on the demo data, and the results record which path made them.

torchvision 0.29 marks its decoders deprecated in favour of TorchCodec; they work at the pinned
version, and the warning is silenced here so that it does not repeat for every batch.
"""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F

from cnclip_eval.errors import DataError, UnknownNameError

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)

# decode mode -> what the feature cache and provenance record as the preprocessing
PREPROCESSING_IDS = {
    "pil": "cn_clip.image_transform:squash-bicubic+rgb-first+clip-mean-std",  # CN-CLIP's own, in the workers
    "torchvision": "torchvision.io.decode_jpeg(device)/torch-bicubic-antialias/round8/clip-mean-std",
}


def preprocessing_id(decode: str) -> str:
    if decode not in PREPROCESSING_IDS:
        raise UnknownNameError("decoder", decode, sorted(PREPROCESSING_IDS))
    return PREPROCESSING_IDS[decode]


def _is_jpeg(data: torch.Tensor) -> bool:
    return len(data) > 2 and int(data[0]) == 0xFF and int(data[1]) == 0xD8


class DevicePreprocess:
    """Encoded images (uint8 tensors) -> (B, 3, S, S) float32 on ``device``, normalized."""

    def __init__(self, image_size: int, device: torch.device) -> None:
        self.size = image_size
        self.device = torch.device(device)
        self.mean = torch.tensor(CLIP_MEAN, device=self.device).view(1, 3, 1, 1)
        self.std = torch.tensor(CLIP_STD, device=self.device).view(1, 3, 1, 1)

    def __call__(self, encoded: list[torch.Tensor], keys: list[str], shard: str) -> torch.Tensor:
        decoded = self._decode(encoded, keys, shard)
        resized = [
            F.interpolate(
                image.unsqueeze(0).float(),
                size=(self.size, self.size),
                mode="bicubic",
                antialias=True,
                align_corners=False,
            )
            for image in decoded
        ]
        batch = torch.cat(resized).round_().clamp_(0, 255).div_(255)  # 8-bit, as PIL's resize returns
        return (batch - self.mean) / self.std

    def _decode(self, encoded: list[torch.Tensor], keys: list[str], shard: str) -> list[torch.Tensor]:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=DeprecationWarning, module="torchvision")
            return self._decode_all(encoded, keys, shard)

    def _decode_all(self, encoded: list[torch.Tensor], keys: list[str], shard: str) -> list[torch.Tensor]:
        """(3, H, W) uint8 per image on the device; JPEGs in one batched call."""
        from torchvision.io import ImageReadMode, decode_image, decode_jpeg

        out: list[torch.Tensor | None] = [None] * len(encoded)
        jpegs = [i for i, data in enumerate(encoded) if _is_jpeg(data)]
        if jpegs:
            try:
                images = decode_jpeg([encoded[i] for i in jpegs], mode=ImageReadMode.RGB, device=self.device)
            except RuntimeError:  # one bad file fails the batch: find it and name it
                images = [self._one(decode_jpeg, encoded[i], keys[i], shard) for i in jpegs]
            for i, image in zip(jpegs, images):
                out[i] = image
        for i, data in enumerate(encoded):
            if out[i] is None:
                out[i] = self._one(decode_image, data, keys[i], shard).to(self.device)
        return out

    def _one(self, decode, data: torch.Tensor, key: str, shard: str) -> torch.Tensor:
        from torchvision.io import ImageReadMode

        try:
            kwargs = {"device": self.device} if decode.__name__ == "decode_jpeg" else {}
            return decode(data, mode=ImageReadMode.RGB, **kwargs)
        except RuntimeError as error:
            reason = str(error).split(", ")[-1]  # torchvision prefixes its C++ source location
            raise DataError(f"shard {shard}, sample {key}: cannot decode the image ({reason})") from None
