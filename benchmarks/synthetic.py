"""Synthetic shards for timing: random-block images in CLIP_benchmark's layout (no accuracy meaning)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cnclip_eval.data.catalog import find_spec
from cnclip_eval.data.writer import Sample, encode_image, write_metadata, write_split


def make_shards(
    root: Path, n: int, num_shards: int = 4, image_size: int = 64, num_classes: int = 10, seed: int = 0
) -> Path:
    """``n`` JPEG images (as most real shards hold) labelled with the first ImageNet class names."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    classnames = find_spec("imagenet1k").read_classnames()[:num_classes]
    samples = []
    for i in range(n):
        blocks = rng.integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
        image = Image.fromarray(blocks).resize((image_size + i % 7, image_size), Image.BILINEAR)
        samples.append(
            Sample(f"img{i:06d}", encode_image(image, "jpg"), "jpg", int(rng.integers(num_classes)))
        )
    write_metadata(root, classnames, ["{c}的照片", "一张{c}的图片", "{c}的特写照片"])
    write_split(root, "test", samples, num_shards)
    return root
