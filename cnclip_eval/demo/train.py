"""Train the demo model: a tiny CN-CLIP, contrastively, on synthetic shapes with bilingual captions.

    python -m cnclip_eval.demo.train --out cnclip_eval/demo/demo.pt

The architecture is ``demo-rn@demo-bert`` (cn_clip's ``CLIP`` class, a 64 px ModifiedResNet of width 16, 3-layer BERT with
the real 21128-piece vocabulary), trained from scratch on the ``train`` split of
:mod:`cnclip_eval.demo.shapes`, preprocessed exactly as evaluation does (cn_clip's
``image_transform``), with captions tokenized by the real tokenizer (:mod:`cnclip_eval.text`).

The loss is CLIP's symmetric InfoNCE with one change: captions of the image's class count as
positives too (UniCL, Yang et al. 2022). With 20 classes a batch of 128 holds about six images
per class, and plain InfoNCE would push those true matches apart.

Deterministic: the same seed, torch version and thread count give the same checkpoint, bit for bit.
The checkpoint is CN-CLIP's ``{"state_dict": ...}`` in fp16 (evaluation loads it into fp32).
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path

import torch
import torch.nn.functional as F

from cnclip_eval.demo import captions, shapes

log = logging.getLogger(__name__)

ARCH = "demo-rn@demo-bert"
MAX_LOGIT_SCALE = math.log(100)  # CLIP's clamp: a temperature below 0.01 makes training unstable


@dataclass(frozen=True)
class TrainConfig:
    seed: int = 0  # initialisation, shuffling, captions and augmentation
    data_seed: int = 0  # the dataset's seed: 0 is the seed of the shipped test split
    epochs: int = 16  # the shipped checkpoint; zero-shot top-1 still rises at 12
    n_train: int = 8000  # 400 images per class; fresh images help more than more epochs
    n_test: int = 600
    batch_size: int = 128  # about six images per class per batch
    lr: float = 1e-3  # AdamW; small transformers trained from scratch tolerate a high rate
    weight_decay: float = 0.05  # on matrices only: decaying the embedding table would shrink
    # the rows of words never seen in training, which descriptions still use
    warmup_steps: int = 40
    num_threads: int = 2  # part of the determinism contract: float sums depend on the split
    data_dir: Path | None = None  # generated shards to reuse; None: generate into a temporary folder


def set_determinism(seed: int, num_threads: int) -> torch.Generator:
    """Seed torch, fix the thread count, forbid nondeterministic kernels; the data generator."""
    torch.manual_seed(seed)
    torch.set_num_threads(num_threads)
    torch.use_deterministic_algorithms(True)
    return torch.Generator().manual_seed(seed)


def load_split(root: Path, split: str, image_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, 3, S, S) images preprocessed as evaluation does, (N,) labels, in shard order."""
    from cn_clip.clip.utils import image_transform

    from cnclip_eval.data.shards import read_shard

    transform = image_transform(image_size)
    images, labels = [], []
    for shard in sorted((root / split).glob("*.tar"), key=lambda p: int(p.stem)):
        with open(shard, "rb") as stream:
            for _key, image, label in read_shard(stream, str(shard), transform, shapes.NUM_CLASSES, False):
                images.append(image)
                labels.append(label)
    return torch.stack(images), torch.tensor(labels)


@cache
def caption_ids(caption: str) -> tuple[int, ...]:
    from cnclip_eval.models.cnclip_text import tokenize_ids

    ids, _ = tokenize_ids([caption])
    return tuple(ids[0])


def caption_batch(labels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """(B, L) token ids: one freshly drawn caption per image, of the image's class."""
    from cnclip_eval.text import pad_batch

    texts = [
        captions.sample_caption(shapes.CLASSNAMES_ZH[c], shapes.CLASSNAMES_EN[c], generator)
        for c in labels.tolist()
    ]
    return pad_batch([list(caption_ids(t)) for t in texts])


def augment(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random horizontal and vertical flips: every class is closed under them."""
    flips = torch.rand(2, len(images), generator=generator) < 0.5  # (2, B)
    images = torch.where(flips[0, :, None, None, None], images.flip(3), images)
    return torch.where(flips[1, :, None, None, None], images.flip(2), images)


def contrastive_loss(
    image_features: torch.Tensor, text_features: torch.Tensor, labels: torch.Tensor, logit_scale: torch.Tensor
) -> torch.Tensor:
    """Symmetric InfoNCE over (B, D) normalized features; same-class pairs share the target mass."""
    logits = logit_scale * image_features @ text_features.t()  # (B images, B captions)
    same_class = (labels[:, None] == labels[None, :]).float()  # (B, B), symmetric
    targets = same_class / same_class.sum(dim=1, keepdim=True)
    return (F.cross_entropy(logits, targets) + F.cross_entropy(logits.t(), targets)) / 2


def learning_rate(step: int, total_steps: int, config: TrainConfig) -> float:
    """Linear warmup, then cosine decay to zero."""
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, total_steps - config.warmup_steps)
    return config.lr * 0.5 * (1 + math.cos(math.pi * progress))


def make_optimizer(model: torch.nn.Module, config: TrainConfig) -> torch.optim.AdamW:
    decay, no_decay = [], []
    for name, parameter in model.named_parameters():
        is_matrix = parameter.ndim >= 2 and "embedding" not in name
        (decay if is_matrix else no_decay).append(parameter)
    groups = [
        {"params": decay, "weight_decay": config.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=config.lr, betas=(0.9, 0.98), eps=1e-6)


@torch.no_grad()
def zero_shot_accuracy(
    model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, language: str
) -> float:
    """Top-1 on ``images`` with the evaluation templates (``demo-zh`` / ``demo-en``), as the harness does."""
    from cnclip_eval.models.cnclip_towers import loaded
    from cnclip_eval.text import TextEncoder, classifier_from_prompts

    if language == "zh":
        names, templates = shapes.CLASSNAMES_ZH, captions.EVAL_TEMPLATES_ZH
    else:
        names, templates = shapes.CLASSNAMES_EN, captions.EVAL_TEMPLATES_EN
    was_training = model.training
    model.eval()
    classifier = classifier_from_prompts(
        TextEncoder(
            loaded(
                model, model_id="training", arch=ARCH, image_size=shapes.IMAGE_SIZE, weights_id="", source=""
            )
        ),
        [[t.format(c=n) for t in templates] for n in names],
    )
    features = torch.cat([F.normalize(model.encode_image(b), dim=-1) for b in images.split(256)])
    model.train(was_training)
    return (features @ classifier.t()).argmax(1).eq(labels).float().mean().item()


def train(
    config: TrainConfig,
    train_data: tuple[torch.Tensor, torch.Tensor],
    test_data: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> torch.nn.Module:
    """The trained fp32 model; prints one progress line per epoch (and test accuracy if given)."""
    from cnclip_eval.models.arch import load_arch_config
    from cnclip_eval.models.cnclip import build

    generator = set_determinism(config.seed, config.num_threads)
    model = build(load_arch_config(ARCH), config.seed).train()
    optimizer = make_optimizer(model, config)
    images, labels = train_data
    steps_per_epoch = len(images) // config.batch_size  # the last partial batch is dropped
    total_steps, step, started = config.epochs * steps_per_epoch, 0, time.perf_counter()
    for epoch in range(config.epochs):
        order = torch.randperm(len(images), generator=generator)
        losses = []
        for batch in order[: steps_per_epoch * config.batch_size].split(config.batch_size):
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(step, total_steps, config)
            tokens = caption_batch(labels[batch], generator)  # (B, L)
            image_features, text_features, scale = model(augment(images[batch], generator), tokens)
            loss = contrastive_loss(image_features, text_features, labels[batch], scale)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            with torch.no_grad():
                model.logit_scale.clamp_(0, MAX_LOGIT_SCALE)
            losses.append(loss.item())
            step += 1
        line = f"epoch {epoch + 1}/{config.epochs}  loss {sum(losses) / len(losses):.4f}"
        if test_data is not None:
            zh, en = (zero_shot_accuracy(model, *test_data, language) for language in ("zh", "en"))
            line += f"  test top1 zh {zh:.3f} en {en:.3f}"
        print(f"{line}  ({time.perf_counter() - started:.0f} s)", flush=True)
    return model.eval()


def save_checkpoint(model: torch.nn.Module, path: Path) -> Path:
    """CN-CLIP's ``{"state_dict": ...}`` in fp16 (a few MB), checked to load with ``weights_only``."""
    from cnclip_eval.fileio import atomic_write

    state = {k: v.detach().to(torch.float16).contiguous() for k, v in model.state_dict().items()}
    atomic_write(path, lambda f: torch.save({"state_dict": state}, f))
    loaded = torch.load(path, map_location="cpu", weights_only=True)["state_dict"]
    if loaded.keys() != state.keys() or any(not torch.equal(loaded[k], state[k]) for k in state):
        raise RuntimeError(f"{path}: the checkpoint does not read back as written")
    return path


def prepare_data(config: TrainConfig, root: Path) -> tuple[tuple, tuple]:
    """Generate (or reuse) the shards under ``root`` and load both splits.

    A folder is reused only if it was generated with this config's seed and sizes (``--data-dir``
    kept from another run would otherwise train on other data without a word)."""
    import json

    wanted = shapes.generation_settings(config.data_seed, config.n_train, config.n_test, 3)
    if not (root / "classnames.txt").is_file():  # written last: its presence means complete
        shapes.generate(root, config.data_seed, config.n_train, config.n_test)
    else:
        settings_file = root / shapes.GENERATION_FILE
        found = json.loads(settings_file.read_text()) if settings_file.is_file() else None
        if found != wanted:
            raise SystemExit(
                f"{root}: generated with {found or 'unknown settings'}, but this run wants {wanted}; "
                "pass another --data-dir or the matching --data-seed/--n-train/--n-test"
            )
    image_size = shapes.IMAGE_SIZE
    return load_split(root, "train", image_size), load_split(root, "test", image_size)


def parse_args(argv: list[str] | None) -> tuple[TrainConfig, Path]:
    defaults = TrainConfig()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="checkpoint to write (.pt)")
    parser.add_argument("--data-dir", type=Path, help="keep the generated shards here and reuse them")
    for name, value in asdict(defaults).items():
        if name != "data_dir":
            parser.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)
    args = parser.parse_args(argv)
    fields = {k: v for k, v in vars(args).items() if k != "out"}
    return TrainConfig(**fields), args.out


def main(argv: list[str] | None = None) -> int:
    config, out = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="demo-shapes-") as scratch:
        root = config.data_dir or Path(scratch)
        train_data, test_data = prepare_data(config, root)
        print(
            f"data: {len(train_data[0])} train, {len(test_data[0])} test images "
            f"({time.perf_counter() - started:.0f} s)",
            flush=True,
        )
        model = train(config, train_data, test_data)
    save_checkpoint(model, out)
    print(
        f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - started:.0f} s",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
