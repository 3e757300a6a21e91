"""What each method costs beside the baseline, on the demo model and demo-shapes, with CLIP_benchmark's
zero-shot run on the same shards in the same process as the yardstick.

Run from the repository root (CPU, offline, about a minute)::

    python benchmarks/method_costs.py                         # every registered method but coop
    python benchmarks/method_costs.py --methods baseline,waffle,tip-adapter --repeats 5

For each method: the seconds from image features (already cached, as in any run after the first) to
the result (classifier or fit, logits, metrics), median over --repeats after one warm-up call, with a
fresh classifier cache and text memo each time, and that time over the baseline's. The few-shot methods read their shots' features from
the cache too; the one-off cost of a first draw (the train split's label index, read without decoding,
and the drawn samples' encoding) is its own row. The last row is
CLIP_benchmark's ``zeroshot_classification`` on the same test shards (image pass and template
classifier: what one run of it costs), so the figures have a common scale. Figures go to stdout as a
markdown table; paste them into benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.compare_clip_benchmark import clip_benchmark_eval, model_texts  # noqa: E402
from cnclip_eval.config import MethodSpec, RunConfig  # noqa: E402
from cnclip_eval.data.resolve import DatasetRequest, resolve_dataset  # noqa: E402
from cnclip_eval.demo.dataset import SHARDS_DIR  # noqa: E402
from cnclip_eval.engine import prepare_methods  # noqa: E402
from cnclip_eval.features import ClassifierCache  # noqa: E402
from cnclip_eval.image_features import dataset_features  # noqa: E402
from cnclip_eval.methods import METHODS  # noqa: E402
from cnclip_eval.methods.shots import sample_shots, sample_validation  # noqa: E402
from cnclip_eval.models import ModelRequest, load_model  # noqa: E402
from cnclip_eval.shot_features import sample_features, split_index  # noqa: E402
from cnclip_eval.tasks.base import MethodRun  # noqa: E402
from cnclip_eval.tasks.classification import CLASSIFICATION  # noqa: E402
from cnclip_eval.tasks.few_shot import train_split  # noqa: E402
from cnclip_eval.text import TextEncoder  # noqa: E402


def timed(run, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    everything = ",".join(n for n in METHODS.names() if n != "coop")  # coop needs a trained context file
    parser.add_argument("--methods", default=everything)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--workers", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    model = load_model(ModelRequest("demo", device="cpu"))
    dataset = resolve_dataset(DatasetRequest("demo-shapes"))
    config = RunConfig(models=("demo",), datasets=(), methods=(), batch_size=args.batch_size,
                       num_workers=args.workers, progress=False)  # fmt: skip
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp)
        images = dataset_features(model, dataset, config, cache)
        train = train_split(dataset, "bench")

        def first_draw():  # what the first few-shot method of a run pays once
            index = split_index(train, cache / "first")  # labels, no image decoded
            shots = sample_shots(index.labels, index.keys, 16, 1, dataset.classnames)
            validation = sample_validation(index.labels, index.keys, shots, 4, 1, dataset.classnames)
            return sample_features(
                model, train, index, np.concatenate([shots, validation]), config, cache / "first"
            )

        train_seconds, _ = timed(first_draw, 1)
        whole_seconds, _ = timed(lambda: dataset_features(model, train, config, cache / "whole"), 1)
        encoder = TextEncoder(model, "cpu")
        methods = [MethodSpec(name) for name in args.methods.split(",")]
        for spec, method, options in prepare_methods(tuple(methods)):

            def once(spec=spec, method=method, options=options):
                fresh = ClassifierCache(cache / f"clf-{time.perf_counter_ns()}")
                encoder._memo.clear()  # each repeat encodes its prompts again, as a first run would
                run = MethodRun(model, dataset, images, spec, method, options, encoder, fresh, config, "cpu",
                                {"run_name": spec.name, "dataset_tag": "", "stem": spec.name}, cache)  # fmt: skip
                return CLASSIFICATION.run(run)[0]

            once()  # warm-up: the first call of a code path pays one-off allocation costs
            seconds, record = timed(once, args.repeats)
            rows.append((spec.name, getattr(method, "kind", "zero-shot"), seconds, record.metrics["top1"]))
        texts = model_texts(model, SHARDS_DIR, argparse.Namespace(dataset="demo-shapes"))
        theirs, accuracy = timed(
            lambda: clip_benchmark_eval(model, SHARDS_DIR, texts.classnames, texts.templates,
                                        argparse.Namespace(batch_size=args.batch_size, workers=args.workers)),
            args.repeats,
        )  # fmt: skip
    base = next(seconds for name, _, seconds, _ in rows if name == "baseline")
    print(f"demo model, demo-shapes (600 test images, 20 classes), {platform.processor() or platform.machine()}, "
          f"{torch.get_num_threads()} threads, torch {torch.__version__}, median of {args.repeats}\n")  # fmt: skip
    print("| method | kind | seconds (features cached) | × baseline | top-1 |")
    print("| --- | --- | ---: | ---: | ---: |")
    for name, kind, seconds, top1 in rows:
        print(f"| `{name}` | {kind} | {seconds:.3f} | {seconds / base:.1f} | {100 * top1:.2f} |")
    print(f"| few-shot inputs, first time: label index of the 600 train images + encoding the 400 drawn | | "
          f"{train_seconds:.3f} | {train_seconds / base:.1f} | |")  # fmt: skip
    print(
        f"| (for scale: encoding the whole train split) | | {whole_seconds:.3f} | {whole_seconds / base:.1f} | |"
    )
    print(f"| CLIP_benchmark zero-shot, one run (image pass + template classifier) | | {theirs:.3f} | "
          f"{theirs / base:.1f} | {100 * accuracy:.2f} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
