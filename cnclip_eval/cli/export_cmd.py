"""Export methods as CLIP_benchmark files (class names, templates, and --load_clfs classifiers), or as
prediction files for ELEVATER's evaluation server.

Examples:
  cnclip-eval export --method baseline --dataset imagenet1k --data-root /data/wds_imagenet1k --out cb/
  cnclip-eval export --method baseline,bilingual --dataset ./my_shards --model tiny --out cb/
  cnclip-eval export --format elevater --method baseline --dataset cifar-10 --data-root /data/cifar-10 \
      --index-file /data/cifar-10/index.json --out elevater/

clip_benchmark prints the `cnclip-benchmark eval ...` commands that run the exported files in
CLIP_benchmark; elevater prints each prediction file and the all_predictions.zip to upload.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cnclip_eval.cli.eval_cmd import (
    add_method_options,
    check_num_workers,
    comma_list,
    dataset_request,
    method_specs,
    positive_int,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    what = parser.add_argument_group("what to export")
    what.add_argument("--method", type=comma_list, required=True, help="method(s), comma-separated")
    what.add_argument("--dataset", required=True, help="catalog name or a shard folder / URL / hf://repo")
    what.add_argument("--model", default="ViT-B-16", help="model name or checkpoint path (default ViT-B-16)")
    what.add_argument("--arch", help="VISION@TEXT for a checkpoint: cn_clip config names or JSON paths")
    what.add_argument(
        "--format",
        choices=tuple(FORMATS),
        default="clip_benchmark",
        help="clip_benchmark (default): CLIP_benchmark's input files; elevater: ELEVATER prediction files",
    )
    what.add_argument("--out", type=Path, required=True, help="folder for the exported files")
    what.add_argument(
        "--benchmark-name",
        help="X of CLIP_benchmark's --dataset wds/X, the key in the JSON files (default: the dataset's name)",
    )
    data = parser.add_argument_group("data (as for cnclip-eval)")
    data.add_argument("--data-root", help="local folder / URL / hf://repo with the catalog dataset's shards")
    data.add_argument("--split", help="split folder (default: the dataset's test split)")
    data.add_argument("--classnames", help="Chinese class names: a catalog variant or a file")
    data.add_argument("--classnames-en", help="English class names file (one per line), for bilingual")
    data.add_argument("--templates", help="template set or file of {c} templates")
    data.add_argument("--templates-en", help="English template set or file (default: en80)")
    run = parser.add_argument_group("run")
    run.add_argument("--device", default="auto", help="auto (default), cpu, cuda ...")
    run.add_argument("--seed", type=int, default=0, help="seed for random-init configs (default 0)")
    run.add_argument("--text-batch-size", type=positive_int, default=256, help="prompts per batch")
    run.add_argument("--cache-dir", type=Path, help="classifier cache (default: cnclip-eval's)")
    run.add_argument("--model-cache-dir", type=Path, help="downloaded weights")
    run.add_argument("--modelscope", action="store_true", help="download weights from ModelScope")
    elevater = parser.add_argument_group("--format elevater")
    elevater.add_argument(
        "--index-file",
        type=Path,
        help="ELEVATER's test index (test.txt / COCO .json) or CN-CLIP's index.json: the sample order "
        "(default: the class-folder order of the converted folder)",
    )
    elevater.add_argument("--submission-model", help="the files' model_name (default: CN-CLIP-<model>)")
    elevater.add_argument("--submission-dataset", help="the files' dataset_name (default: ELEVATER's name)")
    elevater.add_argument("--batch-size", type=positive_int, default=64, help="images per batch (default 64)")
    elevater.add_argument("--num-workers", type=int, default=2, help="shard-reading workers (default 2)")
    add_method_options(parser)


ELEVATER_ONLY = ("index_file", "submission_model", "submission_dataset")


def run(args: argparse.Namespace) -> int:
    return FORMATS[args.format](args)


def common_request(args: argparse.Namespace) -> dict:
    """What every export format is asked: the dataset, the methods, the model and where things go."""
    return {
        "dataset": dataset_request(args, args.dataset),
        "methods": method_specs(args),
        "out_dir": args.out,
        "model": args.model,
        "arch": args.arch,
        "seed": args.seed,
        "device": args.device,
        "cache_dir": args.cache_dir,
        "model_cache_dir": args.model_cache_dir,
        "use_modelscope": args.modelscope,
        "text_batch_size": args.text_batch_size,
    }


def run_clip_benchmark(args: argparse.Namespace) -> int:
    import shlex

    from cnclip_eval.errors import UserError
    from cnclip_eval.integrations.export import ExportRequest, export_clip_benchmark

    given = [f"--{name.replace('_', '-')}" for name in ELEVATER_ONLY if getattr(args, name) is not None]
    if given:
        raise UserError(f"{given[0]} is an option of --format elevater, not of --format clip_benchmark")

    request = ExportRequest(**common_request(args), benchmark_name=args.benchmark_name)
    for item in export_clip_benchmark(request):
        templates_note = "" if item.prompts_are_method else " (placeholder: CLIP_benchmark needs one)"
        print(f"{item.method} -> {item.dataset_key}")
        print(f"  class names  {item.classnames}")
        print(f"  templates    {item.templates}{templates_note}")
        print(f"  classifier   {item.classifier}  (D, C) = {item.classifier_shape}, for --load_clfs")
        if item.prompt_command:
            print("  run from the prompts (CLIP_benchmark encodes them itself):")
            print(f"    {shlex.join(item.prompt_command)}")
        print("  run from the classifier (bit-identical to the one cnclip-eval uses):")
        print(f"    {shlex.join(item.classifier_command)}")
    return 0


def run_elevater(args: argparse.Namespace) -> int:
    import sys

    from cnclip_eval.errors import UserError
    from cnclip_eval.integrations.elevater_run import ElevaterRequest, export_elevater

    if args.benchmark_name is not None:
        raise UserError("--benchmark-name is an option of --format clip_benchmark; use --submission-dataset")
    check_num_workers(args.num_workers)
    request = ElevaterRequest(
        **common_request(args),
        batch_size=args.batch_size,
        num_workers=args.num_workers,
        index_file=args.index_file,
        model_name=args.submission_model,
        dataset_name=args.submission_dataset,
        progress=sys.stderr.isatty(),
    )
    for item in export_elevater(request):
        seeds, n, c = item.shape
        print(f"{item.method} -> {item.dataset_name}: {n} samples x {c} classes, {item.order}")
        print(f"  predictions  {item.path}")
        print(f"  submission   {item.submission}  (upload to ELEVATER's EvalAI challenge)")
        print(
            f"  {item.main_metric} = {100 * item.value:.2f} (the harness's own metric on these predictions)"
        )
    return 0


FORMATS = {"clip_benchmark": run_clip_benchmark, "elevater": run_elevater}
