"""``--dataset demo-shapes``: the shipped test split of the synthetic shapes, and its template sets.

The 600 test images (3 shards, under 2 MB) ship inside the package, so the dataset runs offline
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

SPEC = DatasetSpec(
    name="demo-shapes",
    num_classes=shapes.NUM_CLASSES,
    source=str(SHARDS_DIR),
    classnames_zh={"default": "demo-shapes.zh.txt"},
    classnames_en="demo-shapes.en.txt",
    templates="demo-zh",
    templates_en="demo-en",
    num_samples={"test": NUM_TEST},
    notes="synthetic coloured shapes and patterns (20 classes) shipped with the package, for the demo model",
)


def write_shipped_shards(root: Path = SHARDS_DIR) -> Path:
    """(Re)write the shipped test split: ``shapes.generate`` with the dataset's seed, no train split."""
    from cnclip_eval.demo.captions import templates_zh

    return shapes.generate(root, seed=DATA_SEED, n_train=0, n_test=NUM_TEST, templates=templates_zh())


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    write_shipped_shards()
