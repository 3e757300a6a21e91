"""The harness side of ``cnclip-eval export --format elevater``: the dataset's cached image features,
each method's classifier and the classification task's logits, ordered as ELEVATER's test split
(:mod:`.elevater_index`) and written in ELEVATER's format (:mod:`.elevater_export`)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cnclip_eval.data.resolve import ResolvedDataset
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
from cnclip_eval.integrations.export import ExportInputs, slug
from cnclip_eval.results import ResultRecord
from cnclip_eval.tasks.base import MethodRun
from cnclip_eval.tasks.classification import build_classifier

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ElevaterRequest(ExportInputs):
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
    from cnclip_eval.integrations.elevater_index import read_index
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
    order, order_note = sample_order(dataset, index, images)
    check_size(name, len(order), str(index.path) if index else dataset.name)
    params = parameter_counts(model.module)
    model_name = request.model_name or f"CN-CLIP-{model.model_id}"
    exported = []
    encoder = TextEncoder(model, device, request.text_batch_size)  # shared: a prompt is encoded once
    for spec, method, options in methods:
        names = result_names(request.model, request.arch, request.dataset, dataset, spec, method, options)
        run = MethodRun(
            model, dataset, images, spec, method, options, encoder, ClassifierCache(cache_root), config, device, names,
            cache_root,
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


def sample_order(dataset: ResolvedDataset, index, images) -> tuple[np.ndarray, str]:
    """(N,) positions of the shard samples in ELEVATER's order, and what that order came from."""
    from cnclip_eval.integrations.elevater_index import folder_order, index_order

    needs_folder = index is None or index.kind == "cnclip-permutation"  # ImageFolder's order
    paths, converted_from = (converted_paths(dataset) if needs_folder else None) or (None, None)
    folder_note = f"file names of {converted_from}" if paths else "keys"
    if index is None:
        return folder_order(
            images.keys, images.labels, paths
        ), f"folder order from the {folder_note} (no --index-file)"
    note = f"index file {index.path}"
    if index.kind == "cnclip-permutation":
        note += f" over the folder order from the {folder_note}"
    return index_order(index, images.keys, images.labels, paths), note


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


def converted_paths(dataset: ResolvedDataset) -> tuple[dict[str, str], Path] | None:
    """(key -> path inside the split folder, the source folder) when the shards are a ``cnclip-eval
    convert`` of a folder still on this machine and unchanged since (same file list as the conversion
    manifest records); None otherwise."""
    from cnclip_eval.data.convert import MANIFEST
    from cnclip_eval.data.folders import plan_conversion
    from cnclip_eval.data.sources import read_text

    split = dataset.layout.split
    try:
        manifest = json.loads(read_text(dataset.layout.source, MANIFEST) or "null")
        source, recorded = Path(manifest["source"]), manifest["splits"][split]
    except (TypeError, KeyError, ValueError, UserError):  # no manifest, not ours, not this split
        return None
    if not (source / split).is_dir():
        return None
    try:
        [plan] = plan_conversion(source, [split]).splits
    except UserError:
        return None
    if plan.manifest()["files_sha256"] != recorded.get("files_sha256"):
        log.warning(
            "%s: changed since the conversion; the folder order is rebuilt from the keys", source / split
        )
        return None
    return {f.key: f.relpath for f in plan.files}, source / split
