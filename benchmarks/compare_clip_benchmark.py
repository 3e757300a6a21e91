"""Side-by-side speed comparison: cnclip-eval vs CLIP_benchmark, same model, same shards, one run.

Run from the repository root::

    python benchmarks/compare_clip_benchmark.py                     # CPU, tiny model, small shards
    python benchmarks/compare_clip_benchmark.py --device cuda --arch ViT-B-16@RoBERTa-wwm-ext-base-chinese \
        --images 5000 --text-classes 1000
    python benchmarks/compare_clip_benchmark.py --model open_clip:tiny-oc-xlmr --dataset demo-shapes \
        --methods baseline,llm,bilingual,waffle --scenarios a,c,d      # an open_clip model

Scenarios (medians over --repeats, ratio = CLIP_benchmark time / ours):

a. a leaderboard of several methods on one dataset: ours = one image pass + one classifier per method;
   CLIP_benchmark = one run per method (it is handed our finished classifiers through ``load_clfs``
   for the methods it cannot express, which favours it);
b. the ImageNet-1k text classifier from 80 Chinese templates on the real-size text tower (random
   weights), with the max |difference| of the two classifiers;
c. one method, cold cache;  d. a second method with image features cached (vs c);
e. peak memory (max RSS of a fresh process) at two dataset sizes, 10x apart;
r. image-text retrieval on generated retrieval shards with --captions-per-image captions per image:
   CLIP_benchmark's ``zeroshot_retrieval.evaluate`` on its wds loader (each image batch's captions
   tokenized to the full context length) vs our retrieval task (resolve, image features with a cold
   cache, captions batched by --text-batch-size, sorted by length and cut to each batch's longest,
   recalls); the check compares the six recalls (one image per caption holds in these shards).

Both sides use fp32 (CLIP_benchmark with amp off) and the same batch size and worker count. Model
loading is not timed. Figures go to stdout as a markdown table; paste them into benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.synthetic import make_retrieval_shards, make_shards  # noqa: E402
from cnclip_eval.config import MethodSpec, RunConfig  # noqa: E402
from cnclip_eval.data.catalog import find_spec  # noqa: E402
from cnclip_eval.data.resolve import DatasetRequest, resolve_dataset  # noqa: E402
from cnclip_eval.distributed import current_world  # noqa: E402
from cnclip_eval.engine import prepare_methods  # noqa: E402
from cnclip_eval.features import ClassifierCache  # noqa: E402
from cnclip_eval.image_features import dataset_features  # noqa: E402
from cnclip_eval.models import ModelRequest, load_model  # noqa: E402
from cnclip_eval.tasks.base import MethodRun  # noqa: E402
from cnclip_eval.tasks.classification import CLASSIFICATION, build_classifier, dataset_texts  # noqa: E402
from cnclip_eval.tasks.retrieval import RETRIEVAL  # noqa: E402
from cnclip_eval.templates import resolve_templates  # noqa: E402
from cnclip_eval.text import TextEncoder, classifier_from_prompts  # noqa: E402


def median_seconds(run: Callable[[], object], repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        started = time.perf_counter()
        result = run()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def request_for(data_dir: Path, args) -> DatasetRequest:
    """Our side reads the same shards; through the catalog name when --dataset names one, so that the
    dataset's packs and shipped CoOp context are found as a user's run would find them."""
    return DatasetRequest(args.dataset or str(data_dir))


def catalog_shards(name: str) -> Path:
    """The local shard folder of a catalog dataset (CLIP_benchmark reads it as its dataset_root)."""
    spec = find_spec(name)
    if not spec.source or not Path(spec.source).is_dir():
        raise SystemExit(f"--dataset {name}: its shards are not local ({spec.source}); pass a folder instead")
    return Path(spec.source)


# --- CLIP_benchmark's side, as its CLI runs a wds/ dataset ------------------------------------------


def their_text_side(model):
    """The tokenizer CLIP_benchmark uses for the model's family: cn_clip's ``tokenize`` (as our plugin
    gives it), or open_clip's own ``get_tokenizer`` (CLIP_benchmark's native open_clip loader)."""
    if model.family == "open_clip":
        import open_clip

        return open_clip.get_tokenizer(model.arch.removeprefix("open_clip:"))
    from cn_clip.clip import tokenize

    return tokenize


def clip_benchmark_eval(model, data_dir: Path, classnames, templates, args, load_clfs=()):
    from clip_benchmark.datasets.builder import build_wds_dataset
    from clip_benchmark.metrics import zeroshot_classification

    dataset = build_wds_dataset("bench", model.transform, split="test", data_dir=str(data_dir))
    loader = torch.utils.data.DataLoader(
        dataset.batched(args.batch_size), batch_size=None, shuffle=False, num_workers=args.workers
    )
    classifier = (
        zeroshot_classification.torch.load(load_clfs[0], map_location="cpu").to(model.device)
        if load_clfs
        else zeroshot_classification.zero_shot_classifier(
            model.module, their_text_side(model), classnames, templates, str(model.device.type), amp=False
        )
    )
    logits, target = zeroshot_classification.run_classification(
        model.module, classifier, loader, str(model.device.type), amp=False
    )
    return float((logits.argmax(1) == target).float().mean())


# --- our side ----------------------------------------------------------------------------------------


def ours_eval(model, data_dir: Path, methods: list[MethodSpec], cache_dir: Path, args):
    dataset = resolve_dataset(request_for(data_dir, args))
    config = RunConfig(
        models=(model.model_id,),
        datasets=(),
        methods=tuple(methods),
        batch_size=args.batch_size,
        num_workers=args.workers,
        progress=False,
    )
    images = dataset_features(model, dataset, config, cache_dir)
    encoder = TextEncoder(model, model.device, args.text_batch_size)
    accuracies = {}
    for spec, method, options in prepare_methods(tuple(methods)):
        run = MethodRun(
            model, dataset, images, spec, method, options, encoder,
            ClassifierCache(cache_dir / f"clf-{time.perf_counter_ns()}"), config, str(model.device),
            {"run_name": spec.run_name, "dataset_tag": "", "stem": f"bench-{spec.run_name}"}, cache_dir,
        )  # fmt: skip
        record, _ = CLASSIFICATION.run(run)
        accuracies[spec.run_name] = record.metrics["top1"]
    return accuracies


def export_classifier(model, data_dir: Path, spec: MethodSpec, path: Path, args) -> Path:
    """Our finished (C, D) classifier as CLIP_benchmark's (D, C) ``load_clfs`` tensor."""
    dataset = resolve_dataset(request_for(data_dir, args))
    [(spec, method, options)] = prepare_methods((spec,))
    encoder = TextEncoder(model, model.device, args.text_batch_size)
    weights, _, _ = build_classifier(
        model, dataset, spec, method, options, encoder, ClassifierCache(path.parent / "clf"), "fp32"
    )
    torch.save(weights.T.contiguous(), path)
    return path


# --- scenarios -----------------------------------------------------------------------------------------


def model_texts(model, data_dir, args):
    """The class names and templates the model reads (English ones for an English-only model)."""
    return dataset_texts(resolve_dataset(request_for(data_dir, args)), None, model.languages)


def scenario_leaderboard(model, data_dir, methods, args, work: Path) -> dict:
    dataset = model_texts(model, data_dir, args)
    exported = {
        m.run_name: export_classifier(model, data_dir, m, work / f"{m.run_name}.pt", args)
        for m in methods
        if m.name != "baseline"
    }

    def theirs():
        return [
            clip_benchmark_eval(
                model,
                data_dir,
                dataset.classnames,
                dataset.templates,
                args,
                load_clfs=[exported[m.run_name]] if m.run_name in exported else (),
            )
            for m in methods
        ]

    def ours():
        return ours_eval(model, data_dir, methods, work / f"cold-{time.perf_counter_ns()}", args)

    t_theirs, acc_theirs = median_seconds(theirs, args.repeats)
    t_ours, acc_ours = median_seconds(ours, args.repeats)
    return {
        "scenario": f"a. {len(methods)}-method leaderboard ({', '.join(m.run_name for m in methods)})",
        "clip_benchmark_s": t_theirs,
        "ours_s": t_ours,
        "check": f"top-1 ours {list(acc_ours.values())} vs CLIP_benchmark {acc_theirs}",
    }


def scenario_text_classifier(args) -> dict:
    from clip_benchmark.metrics.zeroshot_classification import zero_shot_classifier
    from cn_clip.clip import tokenize

    from cnclip_eval.data.catalog import find_spec

    device = args.device
    model = load_model(ModelRequest("random", arch=args.text_arch, device=device))
    classnames = find_spec("imagenet1k").read_classnames()[: args.text_classes]
    templates = resolve_templates("zh80")
    prompts = [[t.format(c=c) for t in templates] for c in classnames]
    # a fresh encoder each repeat: an encoder remembers its prompts, which would time nothing the second time
    t_ours, ours = median_seconds(
        lambda: classifier_from_prompts(TextEncoder(model, device, args.text_batch_size), prompts),
        args.repeats,
    )
    t_theirs, theirs = median_seconds(
        lambda: zero_shot_classifier(model.module, tokenize, classnames, templates, device, amp=False),
        args.repeats,
    )
    diff = (ours.to(theirs.device) - theirs.T).abs().max().item()
    return {
        "scenario": f"b. text classifier, {len(classnames)} ImageNet classes x {len(templates)} zh templates, "
        f"{args.text_arch.split('@')[1]} (random weights)",
        "clip_benchmark_s": t_theirs,
        "ours_s": t_ours,
        "check": f"max |diff| = {diff:.2e}",
    }


def scenario_cold_and_cached(model, data_dir, args, work: Path) -> list[dict]:
    dataset = model_texts(model, data_dir, args)
    baseline = [MethodSpec("baseline")]
    t_theirs, _ = median_seconds(
        lambda: clip_benchmark_eval(model, data_dir, dataset.classnames, dataset.templates, args),
        args.repeats,
    )
    t_cold, _ = median_seconds(
        lambda: ours_eval(model, data_dir, baseline, work / f"cold-{time.perf_counter_ns()}", args),
        args.repeats,
    )
    warm = work / "warm"
    ours_eval(model, data_dir, baseline, warm, args)
    second = [MethodSpec("baseline", label="baseline-single", templates="single")]
    t_warm, _ = median_seconds(lambda: ours_eval(model, data_dir, second, warm, args), args.repeats)
    return [
        {
            "scenario": "c. one method, cold cache",
            "clip_benchmark_s": t_theirs,
            "ours_s": t_cold,
            "check": "",
        },
        {
            "scenario": "d. second method, image features cached (ratio: c ours / d ours)",
            "clip_benchmark_s": t_cold,
            "ours_s": t_warm,
            "check": "",
        },
    ]


def scenario_memory(args, work: Path) -> dict:
    peaks = {}
    for n in (args.memory_images, 10 * args.memory_images):
        data_dir = make_shards(work / f"mem-{n}", n, num_shards=4, image_size=args.image_size)
        argv = [
            "--dataset",
            str(data_dir),
            "--model",
            args.model,
            "--arch",
            args.arch,
            "--num-workers",
            "0",
            "--device",
            args.device,
            "--output-dir",
            str(work / f"r{n}"),
            "--cache-dir",
            str(work / f"c{n}"),
            "--no-progress",
        ]
        # the peak over the whole run, and the resident size once torch and the package are imported:
        # their difference is what the evaluation itself needed
        code = (
            "import json, os, resource, sys, torch; import cnclip_eval.engine; from cnclip_eval.cli import main; "
            "start = int(open('/proc/self/statm').read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 1024; "
            "main(json.loads(sys.argv[1])); "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, start)"
        )
        out = subprocess.run(
            [sys.executable, "-c", code, json.dumps(argv)],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        ).stdout
        peak_kib, start_kib = map(float, out.strip().splitlines()[-1].split())
        peaks[n] = (peak_kib / 1024, (peak_kib - start_kib) / 1024)  # MiB
    (small, small_run), (large, large_run) = peaks.values()
    return {
        "scenario": f"e. peak RSS of a cnclip-eval run, {args.memory_images} vs {10 * args.memory_images} "
        "images (MiB; columns: small, large)",
        "clip_benchmark_s": small,
        "ours_s": large,
        "check": f"growth {100 * (large - small) / small:.1f}% for 10x the images; above the imports: "
        f"{small_run:.0f} vs {large_run:.0f} MiB",
    }


def their_retrieval(model, data_dir: Path, args) -> dict[str, float]:
    """CLIP_benchmark's retrieval, as its cli runs a caption dataset (recalls as fractions)."""
    from clip_benchmark.datasets.builder import build_wds_dataset, image_captions_collate_fn
    from clip_benchmark.metrics import zeroshot_retrieval

    dataset = build_wds_dataset("bench", model.transform, split="test", data_dir=str(data_dir))
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=args.batch_size, collate_fn=image_captions_collate_fn, num_workers=args.workers
    )
    metrics = zeroshot_retrieval.evaluate(
        model.module,
        loader,
        their_text_side(model),
        str(model.device.type),
        amp=False,
        recall_k_list=[1, 5, 10],
    )
    return {
        f"{ours}_r{k}": metrics[f"{theirs}_retrieval_recall@{k}"]
        for ours, theirs in (("t2i", "image"), ("i2t", "text"))
        for k in (1, 5, 10)
    }


def our_retrieval(model, data_dir: Path, cache_dir: Path, args) -> dict[str, float]:
    """Our retrieval task on the same shards, as the engine runs it (cold caches under ``cache_dir``)."""
    dataset = resolve_dataset(DatasetRequest(str(data_dir)))
    config = RunConfig(
        models=(model.model_id,), datasets=(), methods=(MethodSpec("baseline"),),
        batch_size=args.batch_size, num_workers=args.workers, progress=False,
    )  # fmt: skip
    features = RETRIEVAL.encode(model, dataset, config, cache_dir, current_world())
    [(spec, method, options)] = prepare_methods(config.methods)
    run = MethodRun(
        model, dataset, features, spec, method, options, TextEncoder(model, model.device, args.text_batch_size),
        ClassifierCache(cache_dir), config, str(model.device),
        {"run_name": "baseline", "dataset_tag": "", "stem": "bench-retrieval"}, cache_dir,
    )  # fmt: skip
    record, _ = RETRIEVAL.run(run)
    return {name: value for name, value in record.metrics.items() if name != "mean_recall"}


def scenario_retrieval(model, args, work: Path) -> dict:
    data_dir = make_retrieval_shards(
        work / "retrieval", args.retrieval_images, args.captions_per_image, image_size=args.image_size
    )
    t_theirs, theirs = median_seconds(lambda: their_retrieval(model, data_dir, args), args.repeats)
    t_ours, ours = median_seconds(
        lambda: our_retrieval(model, data_dir, work / f"r-{time.perf_counter_ns()}", args), args.repeats
    )
    diff = max(abs(ours[name] - theirs[name]) for name in theirs)
    return {
        "scenario": f"r. retrieval, {args.retrieval_images} images x {args.captions_per_image} captions, "
        "cold cache",
        "clip_benchmark_s": t_theirs,
        "ours_s": t_ours,
        "check": f"max |recall diff| = {diff:.1e} over t2i/i2t R@1/5/10 (ours t2i R@1 {ours['t2i_r1']:.4f})",
    }


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument(
        "--model",
        default="random",
        help="registered model (default: random init of --arch); open_clip:<arch>[:<tag>] runs CLIP_benchmark "
        "with open_clip's own tokenizer and transform; open_clip:tiny-oc-xlmr / tiny-oc-clip are the tests' tiny "
        "random open_clip models (XLM-R / CLIP text tower), built offline",
    )
    parser.add_argument("--arch", default="tiny-vit@tiny-bert")
    parser.add_argument(
        "--text-arch",
        default="tiny-vit@RoBERTa-wwm-ext-base-chinese",
        help="arch for scenario b (the text tower is what is timed)",
    )
    parser.add_argument(
        "--dataset", help="a catalog dataset with local shards (e.g. demo-shapes) instead of generated shards"
    )
    parser.add_argument("--images", type=int, default=512, help="images in the generated shards")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--memory-images", type=int, default=300)
    parser.add_argument("--text-classes", type=int, default=25, help="ImageNet classes for scenario b")
    parser.add_argument("--methods", default="baseline,llm,bilingual,coop")
    parser.add_argument(
        "--method-options", default="{}", help='JSON: {"coop": {"context": "ctx.safetensors"}}'
    )
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--text-batch-size", type=int, default=256)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--retrieval-images", type=int, default=500, help="images in scenario r's shards")
    parser.add_argument("--captions-per-image", type=int, default=5, help="captions per image in scenario r")
    parser.add_argument("--scenarios", default="a,b,c,d,e,r")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    chosen = set(args.scenarios.split(","))
    options = json.loads(args.method_options)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.dataset:
            data_dir = catalog_shards(args.dataset)
        else:
            data_dir = make_shards(work / "shards", args.images, num_shards=4, image_size=args.image_size)
        if args.model.startswith("open_clip:tiny-oc-"):  # the tests' tiny open_clip models, built offline
            sys.path.insert(0, str(ROOT / "tests"))
            from openclip_tiny import register

            register(args.model.removeprefix("open_clip:"), work / "open_clip")
        arch = None if args.model.startswith("open_clip:") else args.arch
        model = load_model(ModelRequest(args.model, arch=arch, device=args.device))
        if "a" in chosen:
            methods = [MethodSpec(name, options.get(name, {})) for name in args.methods.split(",")]
            rows.append(scenario_leaderboard(model, data_dir, methods, args, work))
        if "b" in chosen:
            rows.append(scenario_text_classifier(args))
        if chosen & {"c", "d"}:
            rows.extend(scenario_cold_and_cached(model, data_dir, args, work))
        if "e" in chosen:
            rows.append(scenario_memory(args, work))
        if "r" in chosen:
            rows.append(scenario_retrieval(model, args, work))
    machine = (
        f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
        if args.device == "cpu"
        else torch.cuda.get_device_name()
    )
    data = (
        f"dataset {args.dataset}"
        if args.dataset
        else f"{args.images} generated images of {args.image_size}px"
    )
    if "r" in chosen:
        data += f"; retrieval: {args.retrieval_images} generated images x {args.captions_per_image} captions"
    print(
        f"\nmachine: {machine}; device {args.device}; torch {torch.__version__}; model {args.model} "
        f"({model.family} {model.arch}); {data}; median of {args.repeats}\n"
    )
    print("| scenario | CLIP_benchmark | cnclip-eval | ratio | check |")
    print("| --- | ---: | ---: | ---: | --- |")
    for row in rows:
        ratio = row["clip_benchmark_s"] / row["ours_s"] if row["ours_s"] else float("inf")
        print(
            f"| {row['scenario']} | {row['clip_benchmark_s']:.3f} | {row['ours_s']:.3f} | {ratio:.2f}x | "
            f"{row['check']} |"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
