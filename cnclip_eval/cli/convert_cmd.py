"""Convert image folders (CN-CLIP's ELEVATER layout or an ImageFolder tree) or a retrieval set in
CN-CLIP's format (MUGE, Flickr30K-CN, COCO-CN) to webdataset shards.

Examples:
  cnclip-eval convert /data/elevater/cifar-10 --out /data/wds/cifar-10
  cnclip-eval convert ./my_images --out ./my_shards --splits test --shards 4
  cnclip-eval convert /data/MUGE --out /data/wds/muge --splits valid

SOURCE/<split>/000/x.jpg with SOURCE/label_cn.txt (ELEVATER), SOURCE/<split>/<class>/x.jpg
(ImageFolder), or SOURCE/<split>_imgs.tsv with SOURCE/<split>_texts.jsonl (CN-CLIP's retrieval
format: shards in CLIP_benchmark's retrieval layout plus <split>/texts.jsonl, which keeps every
text id and positive pair; see cnclip_eval.data.convert_retrieval). Re-running finishes a stopped
conversion and does nothing when it is complete.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path


# the same parsers as eval_cmd's, repeated so that `convert --help` does not import torch
def comma_list(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}") from None
    if number <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return number


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "source",
        metavar="SOURCE",
        help="folder with <split>/<class>/<image> files, or <split>_imgs.tsv + <split>_texts.jsonl",
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder for the shards")
    parser.add_argument(
        "--splits", type=comma_list, help="splits to convert, comma-separated (default: every split folder)"
    )
    parser.add_argument(
        "--shards", type=positive_int, metavar="N", help="shards per split (default: ~2000 images per shard)"
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an output made from another source or with other settings",
    )


def run(args: argparse.Namespace) -> int:
    from cnclip_eval.data.convert import convert
    from cnclip_eval.data.convert_retrieval import convert_retrieval, retrieval_splits
    from cnclip_eval.data.folders import plan_conversion

    progress = sys.stderr.isatty()
    if Path(args.source).is_dir() and retrieval_splits(Path(args.source)):
        report = convert_retrieval(
            Path(args.source), Path(args.out), args.splits, args.shards, args.overwrite, progress
        )
    else:
        plan = plan_conversion(Path(args.source), args.splits, args.shards)
        report = convert(plan, Path(args.out), overwrite=args.overwrite, progress=progress)
    if report.up_to_date:
        done = ", ".join(
            f"{s.name}: {_count(s.images, 'image')} in {_count(s.shards, 'shard')}" for s in report.splits
        )
        print(f"{report.out}: up to date ({done})")
    else:
        for split in report.splits:
            print(
                f"{split.name}: {_count(split.images, 'image')}, {_count(split.shards, 'shard')} "
                f"({split.shards_written} written) -> {report.out / split.name}"
            )
    if report.skipped:
        print(_skipped_message(report.skipped), file=sys.stderr)
    for split in report.splits:
        option = "" if split.name == "test" else f" --split {shlex.quote(split.name)}"
        print(f"evaluate: cnclip-eval --dataset {shlex.quote(str(report.out))}{option}")
    return 0


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _skipped_message(skipped: tuple[str, ...]) -> str:
    suffixes = sorted({Path(p).suffix.lower() or "(none)" for p in skipped})
    return (
        f"warning: skipped {_count(len(skipped), 'file')} with an unsupported extension ({', '.join(suffixes)}; "
        f"images must be .jpg, .jpeg, .png or .webp), e.g. {skipped[0]}"
    )
