"""Synthetic "shapes" images with Chinese and English class names, written as CLIP_benchmark shards.

Twenty classes: four colours x four shapes (红色的圆形 ... 黄色的星形) and four two-colour patterns
(条纹图案, 格子图案, 圆点图案, 波浪线图案), drawn at random size, position and rotation on a neutral
background (plain, gradient or speckled) with pixel noise. A shape class needs colour *and* form
to be told apart, a pattern class needs form only (its two colours are random), so a model cannot
score well by looking at one cue alone.

Every sample is drawn from its own ``numpy`` generator seeded by ``(seed, split, index)``, so a
split is reproducible bit for bit and its first ``n`` samples do not depend on how many follow.
Run ``python -m cnclip_eval.demo.shapes --out DIR`` to write both splits.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from cnclip_eval.data.writer import Sample, encode_image, write_metadata, write_split
from cnclip_eval.fileio import atomic_write_json

log = logging.getLogger(__name__)

IMAGE_SIZE = 64  # the demo model's input size: stored images need no resizing
SUPERSAMPLE = 4  # shapes are drawn at 4x and downsampled, for anti-aliased edges
IMAGE_FORMAT = (
    "jpg"  # the shipped test split must stay under 2 MB; lossless webp of noisy images is 3x larger
)
JPEG_QUALITY = 80  # JPEG artefacts are part of the data, the same in train and test
VERSION = 1  # bump when the images change, so caches keyed by the shard folder are not reused

COLOURS = (  # (Chinese, English, base RGB); each image jitters the base a little
    ("红色", "red", (215, 35, 35)),
    ("蓝色", "blue", (35, 75, 215)),
    ("绿色", "green", (40, 165, 55)),
    ("黄色", "yellow", (240, 205, 30)),
)
FORMS = (("圆形", "circle"), ("三角形", "triangle"), ("正方形", "square"), ("星形", "star"))
PATTERNS = (
    ("条纹图案", "stripes"),
    ("格子图案", "checkerboard"),
    ("圆点图案", "polka dots"),
    ("波浪线图案", "wavy lines"),
)
CLASSNAMES_ZH: tuple[str, ...] = tuple(f"{c}的{f}" for c, _, _ in COLOURS for f, _ in FORMS) + tuple(
    zh for zh, _ in PATTERNS
)
CLASSNAMES_EN: tuple[str, ...] = tuple(f"{c} {f}" for _, c, _ in COLOURS for _, f in FORMS) + tuple(
    en for _, en in PATTERNS
)
NUM_CLASSES = len(CLASSNAMES_ZH)  # 20
# neutral backgrounds, far from the four class colours
BACKGROUNDS = ((245, 245, 245), (200, 200, 200), (120, 120, 120), (40, 40, 40), (235, 225, 200))
# pattern colours: any two different entries (class colours included: a red stripe is no red shape)
PATTERN_INKS = ((20, 20, 20), (250, 250, 250), *(rgb for _, _, rgb in COLOURS), (150, 60, 170))
SPLIT_IDS = {"train": 0, "test": 1}
GENERATION_FILE = "generation.json"  # what a folder was generated with, so reuse can be checked


def generation_settings(seed: int, n_train: int, n_test: int, num_shards: int) -> dict:
    return {"version": VERSION, "seed": seed, "n_train": n_train, "n_test": n_test, "num_shards": num_shards}


@dataclass(frozen=True)
class SplitPlan:
    name: str
    count: int
    num_shards: int


def sample_rng(seed: int, split: str, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, SPLIT_IDS[split], index])


def jitter(rgb: tuple[int, ...], rng: np.random.Generator, amount: int = 22) -> tuple[int, ...]:
    return tuple(int(v) for v in np.clip(np.array(rgb) + rng.integers(-amount, amount + 1, 3), 0, 255))


def background(rng: np.random.Generator, size: int) -> np.ndarray:
    """(size, size, 3) float32: a plain, vertical-gradient or speckled neutral background."""
    base = np.array(jitter(BACKGROUNDS[rng.integers(len(BACKGROUNDS))], rng, 12), dtype=np.float32)
    canvas = np.broadcast_to(base, (size, size, 3)).copy()
    kind = rng.integers(3)
    if kind == 1:  # gradient, lighter or darker towards one side
        ramp = np.linspace(-1.0, 1.0, size, dtype=np.float32) * rng.uniform(-40, 40)
        canvas += ramp[:, None, None] if rng.integers(2) else ramp[None, :, None]
    elif kind == 2:  # coarse speckle, a texture unlike any pattern class
        cells = rng.normal(0, 14, (size // 16 + 1, size // 16 + 1, 1)).astype(np.float32)
        canvas += np.kron(cells, np.ones((16, 16, 1), dtype=np.float32))[:size, :size]
    return canvas


def polygon(form: str, centre: np.ndarray, radius: float, angle: float) -> list[tuple[float, float]]:
    """Vertices of a triangle, square or five-pointed star, rotated by ``angle`` (radians)."""
    if form == "star":
        radii = np.tile([radius, radius * 0.45], 5)
        angles = angle + np.arange(10) * np.pi / 5
    else:
        sides = {"triangle": 3, "square": 4}[form]
        radii = np.full(sides, radius)
        angles = angle + np.arange(sides) * 2 * np.pi / sides
    points = centre + np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1)
    return [(float(x), float(y)) for x, y in points]


def draw_shape(canvas: np.ndarray, form: str, rgb: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Paint one filled shape of random size, position and rotation onto ``canvas`` (S, S, 3)."""
    size = canvas.shape[0]
    radius = rng.uniform(0.16, 0.40) * size
    margin = radius * 0.8  # may touch the border a little, never leave the image
    centre = rng.uniform(margin, size - margin, 2)
    mask = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(mask)
    if form == "circle":
        r = radius * 0.85  # a circle of the same radius looks bigger than the polygons
        draw.ellipse([centre[0] - r, centre[1] - r, centre[0] + r, centre[1] + r], fill=255)
    else:
        draw.polygon(polygon(form, centre, radius, rng.uniform(0, 2 * np.pi)), fill=255)
    alpha = np.asarray(mask, dtype=np.float32)[..., None] / 255.0  # (S, S, 1)
    return canvas * (1 - alpha) + np.array(rgb, dtype=np.float32) * alpha


def pattern_mask(form: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """(S, S) bool: where the pattern's second colour goes, in coordinates rotated at random."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / SUPERSAMPLE
    theta = rng.uniform(0, np.pi)
    u = x * np.cos(theta) + y * np.sin(theta)
    v = -x * np.sin(theta) + y * np.cos(theta)
    period = rng.uniform(7, 13)  # in output pixels
    if form == "stripes":
        return (u / period) % 1.0 < 0.5
    if form == "checkerboard":
        return (np.floor(u / period) + np.floor(v / period)) % 2 == 0
    if form == "polka dots":
        du, dv = (u / period) % 1.0 - 0.5, (v / period) % 1.0 - 0.5
        return du**2 + dv**2 < rng.uniform(0.06, 0.12)
    wave = v + rng.uniform(1.5, 3.0) * np.sin(2 * np.pi * u / rng.uniform(10, 18))
    return (wave / period) % 1.0 < rng.uniform(0.3, 0.45)  # wavy lines


def draw_pattern(canvas: np.ndarray, form: str, rng: np.random.Generator) -> np.ndarray:
    """Fill the whole image, or a random rectangle covering most of it, with a two-colour pattern."""
    size = canvas.shape[0]
    first, second = rng.choice(len(PATTERN_INKS), 2, replace=False)
    ink = [np.array(jitter(PATTERN_INKS[i], rng, 15), dtype=np.float32) for i in (first, second)]
    pattern = np.where(pattern_mask(form, size, rng)[..., None], ink[1], ink[0])
    if rng.integers(2):
        return pattern
    x0, y0 = rng.integers(0, size // 4, 2)
    x1, y1 = size - rng.integers(0, size // 4, 2)
    canvas = canvas.copy()
    canvas[y0:y1, x0:x1] = pattern[y0:y1, x0:x1]
    return canvas


def render(label: int, rng: np.random.Generator, image_size: int = IMAGE_SIZE) -> Image.Image:
    """One RGB image of class ``label``; all randomness comes from ``rng``."""
    size = image_size * SUPERSAMPLE
    canvas = background(rng, size)
    num_shapes = len(COLOURS) * len(FORMS)
    if label < num_shapes:
        colour, form = COLOURS[label // len(FORMS)], FORMS[label % len(FORMS)]
        canvas = draw_shape(canvas, form[1], jitter(colour[2], rng), rng)
    else:
        canvas = draw_pattern(canvas, PATTERNS[label - num_shapes][1], rng)
    image = Image.fromarray(np.clip(canvas, 0, 255).astype(np.uint8))
    image = image.resize((image_size, image_size), Image.Resampling.BOX)
    pixels = np.asarray(image, dtype=np.float32)
    pixels += rng.normal(0, rng.uniform(0, 6), pixels.shape)  # sensor-like noise
    return Image.fromarray(np.clip(np.rint(pixels), 0, 255).astype(np.uint8))


def make_samples(seed: int, split: str, count: int, start: int = 0) -> list[Sample]:
    """Balanced labels (``index % 20``), so every shard and every prefix holds every class; indices
    from ``start`` (the shipped train split starts after the images the demo model was trained on)."""
    samples = []
    for index in range(start, start + count):
        label = index % NUM_CLASSES
        image = render(label, sample_rng(seed, split, index))
        samples.append(
            Sample(
                f"{split}_{index:06d}", encode_image(image, IMAGE_FORMAT, JPEG_QUALITY), IMAGE_FORMAT, label
            )
        )
    return samples


def generate(
    root: str | Path,
    seed: int = 0,
    n_train: int = 8000,
    n_test: int = 600,
    num_shards: int = 3,
    templates: list[str] | None = None,
) -> Path:
    """Write ``root/{train,test}/`` shards, ``classnames.txt`` (Chinese) and the templates file.

    A split with a count of 0 is skipped (the shipped dataset has only ``test``).
    """
    root = Path(root)
    plans = [SplitPlan("train", n_train, num_shards), SplitPlan("test", n_test, num_shards)]
    for plan in plans:
        if plan.count > 0:
            counts = write_split(root, plan.name, make_samples(seed, plan.name, plan.count), plan.num_shards)
            log.info("wrote %s/%s: %d samples in shards of %s", root, plan.name, plan.count, counts)
    atomic_write_json(root / GENERATION_FILE, generation_settings(seed, n_train, n_test, num_shards))
    write_metadata(root, list(CLASSNAMES_ZH), templates)  # last: classnames.txt means complete
    return root


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="dataset folder to write")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-train", type=int, default=8000)
    parser.add_argument("--n-test", type=int, default=600)
    parser.add_argument("--num-shards", type=int, default=3)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    generate(args.out, args.seed, args.n_train, args.n_test, args.num_shards)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
