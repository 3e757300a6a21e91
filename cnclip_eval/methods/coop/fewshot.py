"""CoOp's few-shot pieces: the shot images read again and their augmented features per epoch (shots are
drawn by cnclip_eval.methods.shots; used by `cnclip-eval coop train`, see cnclip_eval.train_coop)."""

from __future__ import annotations

import torch

from cnclip_eval.errors import UserError

# CoOp's augmentation (its configs: random_resized_crop, random_flip, normalize); the crop scale is
# torchvision's default, which CoOp uses
AUGMENT_CROP_SCALE = (0.08, 1.0)


def read_images(dataset, keys: set[str]) -> dict[str, object]:
    """The decoded (PIL) images of ``keys``, read from the shards; other samples are not decoded."""
    from cnclip_eval.data.shards import decode_image, group_samples, tar_members

    found: dict[str, object] = {}
    source = dataset.layout.source
    for shard in dataset.layout.shards:
        name = source.url(shard.relpath)
        with source.open(shard.relpath) as stream:
            for sample in group_samples(tar_members(stream, name), name):
                if sample["__key__"] in keys:
                    found[sample["__key__"]] = decode_image(sample)
    missing = sorted(keys - set(found))
    if missing:
        raise UserError(
            f"{dataset.layout.describe()}: samples {missing[:5]} vanished from the shards since caching"
        )
    return found


def augmented_features(model, images: list, seed: int, batch_size: int = 128):
    """``epoch -> (N, D)`` features of freshly augmented copies of ``images`` (frozen image tower).

    Each epoch draws its crops and flips from ``seed`` and the epoch number, so a run is repeatable.
    """
    from torchvision import transforms as T

    preprocessing = model.preprocessing  # the model's own size and normalization
    augment = T.Compose(
        [
            T.Lambda(lambda image: image.convert("RGB")),
            T.RandomResizedCrop(
                preprocessing.size,
                scale=AUGMENT_CROP_SCALE,
                interpolation=T.InterpolationMode(preprocessing.interpolation),
            ),
            T.RandomHorizontalFlip(),
            T.ToTensor(),
            T.Normalize(preprocessing.mean, preprocessing.std),
        ]
    )
    device = model.device

    @torch.inference_mode()
    def features(epoch: int) -> torch.Tensor:
        torch.manual_seed(seed * 100_003 + epoch)  # torchvision's random transforms use the global generator
        batch = torch.stack([augment(image) for image in images])
        out = [model.encode_image(chunk.to(device)).float() for chunk in batch.split(batch_size)]
        return torch.cat(out).clone()  # a normal tensor: inference tensors cannot enter autograd

    return features
