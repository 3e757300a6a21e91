"""Synthetic shards for timing: random-block images in CLIP_benchmark's layout (no accuracy meaning):
classification shards (``make_shards``) and retrieval shards with several captions per image
(``make_retrieval_shards``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cnclip_eval.data.catalog import find_spec
from cnclip_eval.data.writer import (
    RetrievalSample,
    Sample,
    encode_image,
    write_metadata,
    write_retrieval_split,
    write_split,
)

# words of Flickr30K-CN-like captions; a caption is 3 to 14 of them (about 6 to 40 characters)
# fmt: off
CAPTION_WORDS = (
    "一个", "男人", "女人", "孩子", "小狗", "穿着", "红色的", "蓝色的", "衬衫", "在", "草地上",
    "街道上", "海边", "骑着", "自行车", "正在", "奔跑", "微笑", "看着", "远处", "一群", "人",
    "站在", "建筑物", "前面", "和", "他的", "朋友", "一起", "玩耍", "白色的", "帽子",
)
# fmt: on


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


def make_retrieval_shards(
    root: Path,
    n: int,
    captions_per_image: int = 5,
    num_shards: int = 4,
    image_size: int = 64,
    seed: int = 0,
) -> Path:
    """``n`` JPEG images, each with ``captions_per_image`` Chinese captions of varied length, in
    CLIP_benchmark's retrieval layout (``dataset_type.txt`` = retrieval, ``.txt`` captions)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    samples = []
    for i in range(n):
        blocks = rng.integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
        image = Image.fromarray(blocks).resize((image_size + i % 7, image_size), Image.BILINEAR)
        captions = tuple(
            "".join(rng.choice(CAPTION_WORDS, size=int(rng.integers(3, 15))))
            for _ in range(captions_per_image)
        )
        samples.append(RetrievalSample(f"img{i:06d}", encode_image(image, "jpg"), "jpg", captions))
    write_retrieval_split(root, "test", samples, num_shards)
    return root
