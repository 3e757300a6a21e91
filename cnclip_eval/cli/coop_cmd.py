"""Train CoOp context vectors few-shot: cnclip-eval coop train --dataset D --shots K --out ctx.safetensors"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    train = sub.add_parser("train", help="learn a context on K images per class of the train split")
    train.add_argument("--dataset", required=True, help="catalog name or shard folder / URL")
    train.add_argument("--data-root", help="local shards of a catalog dataset")
    train.add_argument("--split", default="train", help="split to sample the shots from (default train)")
    train.add_argument("--classnames", help="Chinese class names: catalog variant or file")
    train.add_argument("--shots", type=int, required=True, help="images per class (CoOp: 1, 2, 4, 8, 16)")
    train.add_argument("--seed", type=int, default=0, help="seed of the shot sampling and the training")
    train.add_argument("--model", default="ViT-B-16", help="model name or checkpoint path")
    train.add_argument("--arch", help="VISION@TEXT for a checkpoint")
    train.add_argument(
        "--n-ctx", type=int, default=16, help="context vectors (default 16; ignored with --init)"
    )
    train.add_argument("--init", default="", help="start from a phrase's embeddings, e.g. 一张的照片")
    train.add_argument("--class-token-position", choices=("end", "middle", "front"), default="end")
    train.add_argument("--csc", action="store_true", help="class-specific contexts")
    train.add_argument(
        "--epochs", type=int, help="default: CoOp's by shot count (1: 50, 2-4: 100, 8-16: 200)"
    )
    train.add_argument(
        "--augment",
        action="store_true",
        help="CoOp's random-resized-crop + flip: re-encode augmented shots every epoch (slower)",
    )
    train.add_argument(
        "--kg-weight",
        type=float,
        default=0.0,
        help="KgCoOp (arXiv 2303.13283): weight of the term keeping the learned prompts' text features near "
        "the hand-written templates' (KgCoOp uses 8.0); default 0 = plain CoOp",
    )
    train.add_argument("--lr", type=float, default=0.002)
    train.add_argument("--batch-size", type=int, default=32)
    train.add_argument(
        "--out", type=Path, required=True, help="context file (.safetensors), a .json beside it"
    )
    train.add_argument("--cache-dir", type=Path, help="feature cache")
    train.add_argument("--device", default="auto")


def run(args: argparse.Namespace) -> int:
    from cnclip_eval.train_coop import train_from_args

    meta = train_from_args(args)
    print(
        f"{args.out}: {meta['num_classes']} classes x {meta['shots']} shots, {meta['epochs']} epochs, "
        f"loss {meta['losses'][0]:.3f} -> {meta['final_loss']:.3f}, "
        f"train accuracy {100 * meta['train_accuracy_before']:.1f}% -> {100 * meta['train_accuracy_after']:.1f}%"
    )
    return 0
