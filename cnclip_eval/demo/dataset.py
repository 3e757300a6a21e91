"""``--dataset demo-shapes``: the shipped test split of the synthetic shapes, and its template sets.

The 600 test images (3 shards, under 2 MB) and 600 train images for the few-shot methods ship inside the package, so the dataset runs offline
with no extra step and every machine evaluates the same bytes. They are the ``test`` split of
``shapes.generate(seed=0)``; a test checks that regenerating them gives the same pixels, and
``python -m cnclip_eval.demo.dataset`` rewrites them.

This module defines the spec; :mod:`cnclip_eval.data.catalog` registers it, and
:mod:`cnclip_eval.templates` the template sets ``demo-zh`` and ``demo-en`` (from
:mod:`cnclip_eval.demo.captions`). Importing it is cheap (no image is read).
"""

from __future__ import annotations

import logging
from pathlib import Path

from cnclip_eval.data.spec import DatasetSpec
from cnclip_eval.demo import shapes

log = logging.getLogger(__name__)

SHARDS_DIR = Path(__file__).parent / f"shapes-v{shapes.VERSION}"  # versioned: caches key on the path
DATA_SEED = 0
NUM_TEST = 600
# a small train split ships too, so the few-shot methods run offline: 30 images per class, enough for
# 16 shots and a validation set of 4. They are train-stream images the demo model never saw (indices
# from 8,000 on: it was trained on the first 8,000), so tuning on them is not tuning on memorised data.
NUM_TRAIN = 600
TRAIN_START = 8000

SPEC = DatasetSpec(
    name="demo-shapes",
    num_classes=shapes.NUM_CLASSES,
    source=str(SHARDS_DIR),
    classnames_zh={"default": "demo-shapes.zh.txt"},
    classnames_en="demo-shapes.en.txt",
    templates="demo-zh",
    templates_en="demo-en",
    splits=("test", "train"),
    num_samples={"test": NUM_TEST, "train": NUM_TRAIN},
    notes="synthetic coloured shapes and patterns (20 classes) shipped with the package, for the demo model",
)


def write_shipped_shards(root: Path = SHARDS_DIR) -> Path:
    """(Re)write the shipped splits: ``shapes.generate``'s test split with the dataset's seed, and a
    train split of ``NUM_TRAIN`` images from index ``TRAIN_START`` of its train stream."""
    from cnclip_eval.demo.captions import templates_zh
    from cnclip_eval.fileio import atomic_write_json

    shapes.generate(root, seed=DATA_SEED, n_train=0, n_test=NUM_TEST, templates=templates_zh())
    train = shapes.make_samples(DATA_SEED, "train", NUM_TRAIN, start=TRAIN_START)
    shapes.write_split(Path(root), "train", train, 3)
    settings = shapes.generation_settings(DATA_SEED, NUM_TRAIN, NUM_TEST, 3)
    atomic_write_json(Path(root) / shapes.GENERATION_FILE, {**settings, "train_start": TRAIN_START})
    return Path(root)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    write_shipped_shards()
