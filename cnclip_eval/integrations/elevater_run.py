"""The harness side of ``cnclip-eval export --format elevater``: the dataset's cached image features,
each method's classifier and the classification task's logits, ordered as ELEVATER's test split
(:mod:`.elevater_index`) and written in ELEVATER's format (:mod:`.elevater_export`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cnclip_eval.config import MethodSpec
from cnclip_eval.data.resolve import DatasetRequest
from cnclip_eval.errors import UserError
from cnclip_eval.fileio import atomic_write_text
from cnclip_eval.image_features import SINGLE_PROCESS
from cnclip_eval.integrations.elevater_export import (
    check_size,
    elevater_name,
    file_name,
    parameter_counts,
    prediction_record,
    probabilities,
    shot_fields,
    write_submission,
)
from cnclip_eval.integrations.export import slug
from cnclip_eval.models import DEFAULT_MODEL
from cnclip_eval.results import ResultRecord
from cnclip_eval.tasks.base import MethodRun
from cnclip_eval.tasks.classification import build_classifier


@dataclass(frozen=True)
class ElevaterRequest:
    dataset: DatasetRequest
    methods: tuple[MethodSpec, ...]
    out_dir: Path
    model: str = DEFAULT_MODEL
    arch: str | None = None
    seed: int = 0
    device: str = "auto"
    cache_dir: Path | None = None  # feature and classifier caches (shared with cnclip-eval)
    model_cache_dir: Path | None = None
    use_modelscope: bool = False
    text_batch_size: int = 256
    batch_size: int = 64
    num_workers: int = 2
    index_file: Path | None = None  # ELEVATER's (or CN-CLIP's) index of the test split
    model_name: str | None = None  # the file's model_name; default "CN-CLIP-<model>" as CN-CLIP's script
    dataset_name: str | None = None  # the file's dataset_name; default ELEVATER's name of the dataset
    progress: bool = False


@dataclass(frozen=True)
class ExportedPredictions:
    method: str  # the run name
    dataset_name: str
    path: Path  # the per-dataset file
    submission: Path  # the folder's all_predictions.zip, rebuilt
    shape: tuple[int, int, int]  # (seeds, N, C)
    order: str  # what the sample order came from
    main_metric: str
    value: float  # the harness's main metric for the same predictions


# --- the run: the harness's features, classifier and logits ----------------------------------------


def export_elevater(request: ElevaterRequest) -> list[ExportedPredictions]:
    """Every method's prediction file for one (model, dataset), and the rebuilt submission zips."""
    from cnclip_eval.config import RunConfig
    from cnclip_eval.data.resolve import resolve_dataset
    from cnclip_eval.engine import check_model_fits, pick_device, prepare_methods
    from cnclip_eval.features import ClassifierCache, default_cache_dir
    from cnclip_eval.integrations.elevater_index import folder_order, index_order, read_index
    from cnclip_eval.models import ModelRequest, load_model
    from cnclip_eval.naming import result_names
    from cnclip_eval.tasks.base import TASKS
    from cnclip_eval.text import TextEncoder

    dataset = resolve_dataset(request.dataset)
    if dataset.task_name != "classification":
        raise UserError(
            f"--format elevater: {dataset.name} is a {dataset.task_name} dataset; ELEVATER's is classification"
        )
    methods = prepare_methods(request.methods)  # unknown methods, options and index files fail first
    index = read_index(request.index_file) if request.index_file else None
    name = request.dataset_name or elevater_name(dataset)
    device = pick_device(request.device)
    config = RunConfig(
        models=(request.model,),
        datasets=(request.dataset,),
        methods=request.methods,
        arch=request.arch,
        batch_size=request.batch_size,
        text_batch_size=request.text_batch_size,
        num_workers=request.num_workers,
        device=device,
        cache_dir=request.cache_dir,
        model_cache_dir=request.model_cache_dir,
        use_modelscope=request.use_modelscope,
        seed=request.seed,
        progress=request.progress,
    )  # fp32 and PIL decoding: CN-CLIP's protocol, as the published ELEVATER numbers
    model = load_model(
        ModelRequest(
            request.model, request.arch, request.model_cache_dir, request.seed, device, request.use_modelscope
        )
    )
    check_model_fits(model.identity, request.model, methods, [dataset])
    task = TASKS.get(dataset.task_name)
    cache_root = Path(request.cache_dir or default_cache_dir())
    images = task.encode(model, dataset, config, cache_root, SINGLE_PROCESS)
    if index is not None:
        order, order_note = index_order(index, images.keys, images.labels), f"index file {index.path}"
    else:
        order, order_note = folder_order(images.keys, images.labels), "folder order (no --index-file)"
    check_size(name, len(order), str(index.path) if index else dataset.name)
    params = parameter_counts(model.module)
    model_name = request.model_name or f"CN-CLIP-{model.model_id}"
    exported = []
    encoder = TextEncoder(model, device, request.text_batch_size)  # shared: a prompt is encoded once
    for spec, method, options in methods:
        names = result_names(request.model, request.arch, request.dataset, dataset, spec, method, options)
        run = MethodRun(
            model, dataset, images, spec, method, options, encoder, ClassifierCache(cache_root), config, device, names
        )  # fmt: skip
        record, logits = method_logits(task, run)
        n_shot, seeds, trainable = shot_fields(record.provenance["method"]["details"], record.run_name)
        probs = probabilities(logits[order])  # (N, C) in ELEVATER's order
        content = prediction_record(
            model_name=model_name, dataset_name=name, params=params, n_shot=n_shot, seeds=seeds,
            trainable=trainable, probs=probs,
        )  # fmt: skip
        folder = Path(request.out_dir) / slug(record.run_name)
        path = atomic_write_text(folder / file_name(name, n_shot, seeds[0]), json.dumps(content))
        exported.append(
            ExportedPredictions(
                record.run_name,
                name,
                path,
                write_submission(folder),
                (1, *probs.shape),
                order_note,
                record.main_metric,
                record.metrics[record.main_metric],
            )
        )
    return exported


def method_logits(task, run: MethodRun) -> tuple[ResultRecord, np.ndarray]:
    """(the task's result record, its (N, C) logits in shard order) for one method."""
    record, predictions = task.run(run)
    if predictions.scores is not None:
        return record, predictions.scores  # the task's logits (kept when N x C fits its limit)
    # ImageNet-size results keep only top-k: the same classifier (now from the cache), the task's formula
    weights, _, _ = build_classifier(
        run.model, run.dataset, run.spec, run.method, run.options, run.encoder, run.classifier_cache, "fp32"
    )
    return record, (run.model.logit_scale * run.features.features @ weights.T).numpy()  # (N, C)
