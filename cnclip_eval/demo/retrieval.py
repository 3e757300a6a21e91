"""``--dataset demo-shapes-retrieval``: a small retrieval split of the shipped demo-shapes images, in
CN-CLIP's format, so retrieval runs offline on the demo model.

Five images of each of the 20 classes (the first ones of the shipped test split) and three Chinese
captions per class, written for this split in phrasings the demo model never saw in training. Each
caption matches every image of its class, as a MUGE query matches several images, and each image has
three matching captions. ``python -m cnclip_eval.demo.retrieval`` rewrites the shipped files.
"""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path

from cnclip_eval.demo import shapes
from cnclip_eval.demo.dataset import SHARDS_DIR

log = logging.getLogger(__name__)

VERSION = 1
RETRIEVAL_DIR = Path(__file__).parent / f"retrieval-v{VERSION}"
SPLIT = "test"
PER_CLASS = 5
CAPTIONS_ZH = ("画面中间是{c}", "一幅{c}的简单图画", "这张图里能看到{c}")


def shipped_images() -> list[tuple[str, bytes, int]]:
    """(key, encoded bytes, label) of the shipped demo-shapes test images, in shard order."""
    from cnclip_eval.data.shards import IMAGE_EXTENSIONS, group_samples, tar_members

    images = []
    shards = sorted((SHARDS_DIR / "test").glob("*.tar"), key=lambda p: int(p.stem))
    for shard in shards:
        with open(shard, "rb") as stream:
            for sample in group_samples(tar_members(stream, shard.name), shard.name):
                extension = next(e for e in IMAGE_EXTENSIONS if e in sample)
                images.append((sample["__key__"], sample[extension], int(sample["cls"])))
    return images


def write_shipped_split(root: Path = RETRIEVAL_DIR) -> Path:
    from cnclip_eval.fileio import atomic_write_text

    chosen: dict[int, list[tuple[str, bytes]]] = {c: [] for c in range(shapes.NUM_CLASSES)}
    for key, data, label in shipped_images():
        if len(chosen[label]) < PER_CLASS:
            chosen[label].append((key, data))
    image_lines, text_lines, image_ids = [], [], {}
    for label, images in chosen.items():
        image_ids[label] = [100_000 + label * PER_CLASS + i for i in range(len(images))]
        for image_id, (_, data) in zip(image_ids[label], images):
            image_lines.append(f"{image_id}\t{base64.urlsafe_b64encode(data).decode('ascii')}")
    for label, name in enumerate(shapes.CLASSNAMES_ZH):
        for j, caption in enumerate(CAPTIONS_ZH):
            record = {
                "text_id": label * len(CAPTIONS_ZH) + j,
                "text": caption.format(c=name),
                "image_ids": image_ids[label],
            }
            text_lines.append(json.dumps(record, ensure_ascii=False))
    atomic_write_text(root / f"{SPLIT}_imgs.tsv", "\n".join(image_lines) + "\n")
    atomic_write_text(root / f"{SPLIT}_texts.jsonl", "\n".join(text_lines) + "\n")
    log.info("wrote %d images and %d captions to %s", len(image_lines), len(text_lines), root)
    return root


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    write_shipped_split()
