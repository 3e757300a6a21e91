"""Evaluate CN-CLIP zero-shot: models x datasets x methods, one image pass per model and dataset.

Examples:
  cnclip-eval --dataset imagenet1k --method baseline
  cnclip-eval --dataset imagenet1k --data-root /data/wds_imagenet1k --method baseline,bilingual
  cnclip-eval --dataset ./my_shards --model tiny --method baseline --templates single
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cnclip_eval.config import MethodSpec, RunConfig
from cnclip_eval.data.resolve import DatasetRequest
from cnclip_eval.methods import METHODS


def comma_list(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def positive_int(value: str) -> int:
    number = int(value)
    if number <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return number


def add_arguments(parser: argparse.ArgumentParser) -> None:
    what = parser.add_argument_group("what to evaluate")
    what.add_argument(
        "--dataset",
        type=comma_list,
        required=True,
        help="catalog name(s) (see `cnclip-eval ls datasets`) or a shard folder / URL / hf://repo",
    )
    what.add_argument(
        "--method",
        type=comma_list,
        default=["baseline"],
        help="method(s), comma-separated (see `cnclip-eval ls methods`); default: baseline",
    )
    what.add_argument(
        "--model",
        type=comma_list,
        default=["ViT-B-16"],
        help="model name(s) (see `cnclip-eval ls models`) or a checkpoint path; default: ViT-B-16",
    )
    what.add_argument("--arch", help="VISION@TEXT for a checkpoint: cn_clip config names or JSON paths")
    data = parser.add_argument_group("data")
    data.add_argument("--data-root", help="local folder / URL / hf://repo with the catalog dataset's shards")
    data.add_argument("--split", help="split folder to read (default: the dataset's test split)")
    data.add_argument(
        "--classnames",
        help="Chinese class names: a variant of the catalog list "
        "(imagenet1k: cnclip, wukong) or a file with one name per line",
    )
    data.add_argument(
        "--classnames-en",
        help="English class names file (one per line), for bilingual and English-only models",
    )
    data.add_argument(
        "--templates", help="template set (see `cnclip-eval ls templates`) or a file of {c} templates"
    )
    data.add_argument("--templates-en", help="English template set or file (default: en80)")
    data.add_argument("--limit", type=positive_int, help="evaluate only the first N samples (quick checks)")
    run = parser.add_argument_group("run")
    run.add_argument("--batch-size", type=positive_int, default=64, help="images per batch (default 64)")
    run.add_argument(
        "--text-batch-size", type=positive_int, default=256, help="prompts per batch (default 256)"
    )
    run.add_argument(
        "--num-workers", type=int, default=2, help="DataLoader workers reading shards (default 2)"
    )
    run.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:1 ...")
    run.add_argument(
        "--precision",
        choices=("fp32", "fp16", "bf16"),
        default="fp32",
        help="GPU autocast precision (default fp32, as the published numbers)",
    )
    run.add_argument(
        "--decode",
        choices=("pil", "torchvision"),
        default="pil",
        help="image decoding: pil (default, CN-CLIP's own, in the workers) or torchvision "
        "(JPEG decoded on the model's device, for a GPU the CPU cannot feed; see the README)",
    )
    run.add_argument(
        "--seed", type=int, default=0, help="seed for random-init configs and sampling (default 0)"
    )
    run.add_argument(
        "--output-dir", type=Path, default=Path("results"), help="result files (default results/)"
    )
    run.add_argument(
        "--cache-dir",
        type=Path,
        help="feature/classifier cache (default $CNCLIP_EVAL_CACHE or ~/.cache/cnclip-eval)",
    )
    run.add_argument(
        "--model-cache-dir",
        type=Path,
        help="downloaded weights (default $CNCLIP_EVAL_MODEL_CACHE or ~/.cache/cnclip-eval/models)",
    )
    run.add_argument(
        "--modelscope", action="store_true", help="download weights from ModelScope, not Hugging Face"
    )
    run.add_argument(
        "--seeds",
        help="run each method that takes a seed (waffle, the few-shot methods) once per seed, e.g. 1,2,3; "
        "the leaderboard shows mean +- std over the seeds",
    )
    run.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_method_options(parser)


def add_method_options(parser: argparse.ArgumentParser) -> None:
    """``--{method}-{option}`` for every registered method's options."""
    for entry in METHODS.entries():
        method = METHODS.get(entry.name)
        if not method.options:
            continue
        group = parser.add_argument_group(f"method {entry.name}", method.summary)
        for option in method.options:
            group.add_argument(
                f"--{entry.name}-{option.name}".replace("_", "-"),
                dest=option_dest(entry.name, option.name),
                metavar=option.name.upper(),
                type=option.type,
                choices=option.choices,
                default=None,
                help=f"{option.help} (default: {option.default})",
            )


def option_dest(method: str, option: str) -> str:
    return f"method_opt__{method}__{option}"


def method_specs(args: argparse.Namespace) -> tuple[MethodSpec, ...]:
    """One spec per ``--method`` name; an option flag of a method that is not selected, an empty
    list and a method named twice are refused (each would silently do something else than asked)."""
    from cnclip_eval.errors import UserError

    if not args.method:
        raise UserError("--method names no method; e.g. --method baseline (see `cnclip-eval ls methods`)")
    repeated = sorted({name for name in args.method if args.method.count(name) > 1})
    if repeated:
        raise UserError(f"--method names {repeated[0]!r} twice; it would run the same method twice")
    given = {k: v for k, v in vars(args).items() if k.startswith("method_opt__") and v is not None}
    for dest in given:
        method, option = dest.removeprefix("method_opt__").split("__")
        if method not in args.method:
            flag = f"--{method}-{option}".replace("_", "-")
            raise UserError(
                f"{flag} is an option of method {method!r}, which --method does not select "
                f"({','.join(args.method)}); add {method} to --method or drop the flag"
            )
    specs = []
    for name in args.method:
        prefix = f"method_opt__{name}__"
        specs.append(
            MethodSpec(name, {k.removeprefix(prefix): v for k, v in given.items() if k.startswith(prefix)})
        )
    if getattr(args, "seeds", None):
        from cnclip_eval.method_grid import parse_seeds, with_seeds

        seeded = {
            e.name for e in METHODS.entries() if any(o.name == "seed" for o in METHODS.get(e.name).options)
        }
        return with_seeds(tuple(specs), parse_seeds(args.seeds), seeded)
    return tuple(specs)


def check_num_workers(num_workers: int) -> None:
    if num_workers < 0:
        from cnclip_eval.errors import UserError

        raise UserError(f"--num-workers {num_workers}: expected 0 (read shards in this process) or more")


def dataset_request(args: argparse.Namespace, name: str) -> DatasetRequest:
    """``--dataset`` ``name`` with the run's --data-root, --split, class-name and template flags."""
    return DatasetRequest(
        name,
        args.data_root,
        args.split,
        args.classnames,
        args.classnames_en,
        args.templates,
        args.templates_en,
    )


def run_config(args: argparse.Namespace) -> RunConfig:
    check_num_workers(args.num_workers)
    datasets = tuple(dataset_request(args, name) for name in args.dataset)
    return RunConfig(
        models=tuple(args.model),
        datasets=datasets,
        methods=method_specs(args),
        arch=args.arch,
        batch_size=args.batch_size,
        text_batch_size=args.text_batch_size,
        num_workers=args.num_workers,
        device=args.device,
        precision=args.precision,
        decode=args.decode,
        output_dir=args.output_dir,
        cache_dir=args.cache_dir,
        model_cache_dir=args.model_cache_dir,
        use_modelscope=args.modelscope,
        limit=args.limit,
        seed=args.seed,
        progress=not args.no_progress and sys.stderr.isatty(),
    )


def run(args: argparse.Namespace) -> int:
    from cnclip_eval.cli.output import print_leaderboard, print_results
    from cnclip_eval.distributed import current_world
    from cnclip_eval.engine import evaluate

    records = evaluate(run_config(args))
    if current_world().is_main:  # under torchrun, rank 0 holds the results
        print_results(records, args.output_dir)
        if len({r.run_name for r in records}) > 1:  # several methods: how they compare, and how surely
            print()
            print_leaderboard(records, args.output_dir)
    return 0
