"""Export methods as CLIP_benchmark files: class names, templates, and --load_clfs classifiers.

Examples:
  cnclip-eval export --method baseline --dataset imagenet1k --data-root /data/wds_imagenet1k --out cb/
  cnclip-eval export --method baseline,bilingual --dataset ./my_shards --model tiny --out cb/

Prints the `cnclip-benchmark eval ...` commands that run the exported files in CLIP_benchmark.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cnclip_eval.cli.eval_cmd import add_method_options, comma_list, method_specs, positive_int
from cnclip_eval.data.resolve import DatasetRequest


def add_arguments(parser: argparse.ArgumentParser) -> None:
    what = parser.add_argument_group("what to export")
    what.add_argument("--method", type=comma_list, required=True, help="method(s), comma-separated")
    what.add_argument("--dataset", required=True, help="catalog name or a shard folder / URL / hf://repo")
    what.add_argument("--model", default="ViT-B-16", help="model name or checkpoint path (default ViT-B-16)")
    what.add_argument("--arch", help="VISION@TEXT for a checkpoint: cn_clip config names or JSON paths")
    what.add_argument("--format", choices=("clip_benchmark",), default="clip_benchmark", help="file format")
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
    add_method_options(parser)


def run(args: argparse.Namespace) -> int:
    import shlex

    from cnclip_eval.integrations.export import ExportRequest, export_clip_benchmark

    request = ExportRequest(
        dataset=DatasetRequest(
            args.dataset,
            args.data_root,
            args.split,
            args.classnames,
            args.classnames_en,
            args.templates,
            args.templates_en,
        ),
        methods=method_specs(args),
        out_dir=args.out,
        model=args.model,
        arch=args.arch,
        seed=args.seed,
        device=args.device,
        cache_dir=args.cache_dir,
        model_cache_dir=args.model_cache_dir,
        use_modelscope=args.modelscope,
        text_batch_size=args.text_batch_size,
        benchmark_name=args.benchmark_name,
    )
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
