"""``evaluate``: models x datasets x methods, with one image pass per (model, dataset).

The order of work is chosen so that mistakes surface before anything expensive: datasets and
methods are resolved and checked first, then each model is loaded, its image features computed
(or read from the cache) once per dataset, and every method's classifier applied to them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import torch

from cnclip_eval.config import MethodSpec, RunConfig
from cnclip_eval.data.device_decode import check_decode
from cnclip_eval.data.resolve import ResolvedDataset, resolve_dataset
from cnclip_eval.distributed import current_world, rank_device
from cnclip_eval.errors import UserError
from cnclip_eval.features import ClassifierCache, default_cache_dir
from cnclip_eval.fingerprint import (
    index_existing,
    result_fingerprint,
)
from cnclip_eval.methods import METHODS, Method
from cnclip_eval.methods.base import refuse_for_model, refuse_missing_capabilities, resolve_options
from cnclip_eval.models import (
    ModelIdentity,
    ModelRequest,
    check_model_name,
    identify_model,
    load_model,
)
from cnclip_eval.naming import refuse_collisions, result_names
from cnclip_eval.results import ResultRecord, load_result, save_result
from cnclip_eval.tasks.base import TASKS, MethodRun
from cnclip_eval.text import TextEncoder

log = logging.getLogger(__name__)

LOGIT_SCALE = 100.0  # CN-CLIP's and CLIP_benchmark's zero-shot scale (cn_clip models' logit_scale)


def pick_device(requested: str) -> str:
    if requested not in ("auto", "cpu", "cuda") and not requested.startswith(("cuda:", "mps")):
        raise UserError(f"--device {requested}: expected auto, cpu, cuda or cuda:N")
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"--device {requested}: no CUDA device is available here; use --device cpu")
    return requested


def check_output_dir(output_dir: Path) -> None:
    output_dir = Path(output_dir)
    if output_dir.exists() and not output_dir.is_dir():
        raise UserError(f"--output-dir {output_dir}: is a file, not a folder")
    existing = next((p for p in [output_dir, *output_dir.parents] if p.exists()), None)
    if existing is not None and not existing.is_dir():
        raise UserError(f"--output-dir {output_dir}: {existing} is a file, not a folder")


def check_precision(precision: str, device: str) -> None:
    if precision != "fp32" and not device.startswith("cuda"):
        raise UserError(f"--precision {precision} needs a GPU; on the CPU the weights stay fp32")


def prepare_methods(specs: tuple[MethodSpec, ...]) -> list[tuple[MethodSpec, Method, dict]]:
    prepared = []
    for spec in specs:
        method = METHODS.get(spec.name)()
        prepared.append((spec, method, resolve_options(method, spec.options)))
    return prepared


def evaluate(
    config: RunConfig, on_result: Callable[[ResultRecord], None] | None = None
) -> list[ResultRecord]:
    """Every (model, dataset, method) result; under torchrun, rank 0 returns them and the others []."""
    world = current_world()
    if world.size > 1 and config.limit is not None:
        raise UserError("--limit counts samples in shard order and cannot be split across torchrun ranks")
    check_output_dir(config.output_dir)  # before any compute: a file there would fail only at the end
    device = rank_device(pick_device(config.device), world)
    check_precision(config.precision, device)
    check_decode(config.decode)  # an unknown --decode fails before anything is loaded
    for model_name in config.models:  # an unknown second model is named before the first one runs
        check_model_name(model_name)
    datasets = [resolve_dataset(request) for request in config.datasets]
    methods = prepare_methods(config.methods)
    names = plan_names(config, datasets, methods)
    refuse_collisions([(n["stem"], n["what"]) for n in names.values()])
    cache_root = Path(config.cache_dir or default_cache_dir())
    existing = index_existing(config.output_dir) if config.skip_existing else {}
    records = []

    def emit(record: ResultRecord) -> None:
        records.append(record)
        if on_result:
            on_result(record)

    requests = [
        ModelRequest(name, config.arch, config.model_cache_dir, config.seed, device, config.use_modelscope)
        for name in config.models
    ]
    identities = [identify_model(request) for request in requests]
    for identity, model_name in zip(identities, config.models):  # before any model runs
        if identity is not None:
            check_model_fits(identity, model_name, methods, datasets)
    for i, model_name in enumerate(config.models):
        request, identity = requests[i], identities[i]
        model = None
        if identity is None:  # a provider that cannot tell its weights without loading them
            model = load_model(request)
            identity = model.identity
            check_model_fits(identity, model_name, methods, datasets)
        todo: list[tuple[ResolvedDataset, list]] = []
        for d, dataset in enumerate(datasets):
            task = TASKS.get(dataset.task_name)
            features_key = task.features_key(identity, dataset, config)
            pending = []
            for m, (spec, method, options) in enumerate(methods):
                named = names[(i, d, m)]
                method_key = task.method_key(identity, dataset, spec, method, options, config)
                fingerprint = result_fingerprint(features_key, method_key, named["stem"])
                if fingerprint in existing:
                    log.info("skipping %s: result exists", named["what"])
                    emit(load_result(existing[fingerprint]))
                else:
                    pending.append((spec, method, options, fingerprint, named))
            if pending:
                todo.append((dataset, pending))
        if not todo:
            continue
        model = model or load_model(request)
        encoder = TextEncoder(model, device, config.text_batch_size)
        for dataset, pending in todo:
            task = TASKS.get(dataset.task_name)
            images = task.encode(model, dataset, config, cache_root, world)
            if not world.is_main:
                continue  # rank 0 builds the classifiers and writes the results
            for spec, method, options, fingerprint, named in pending:
                run = MethodRun(
                    model, dataset, images, spec, method, options, encoder, ClassifierCache(cache_root),
                    config, device, named, cache_root,
                )  # fmt: skip
                record, predictions = task.run(run)
                record.provenance["request_fingerprint"] = fingerprint
                save_result(record, predictions, config.output_dir)
                emit(record)
    return records


def check_model_fits(
    identity: ModelIdentity, model_name: str, methods: list, datasets: list[ResolvedDataset]
) -> None:
    """Refuse, before any work, a method needing a capability the model lacks or texts in a language
    it does not read, and an English-only model on a dataset without English class names."""
    if identity.capabilities is not None:
        refuse_missing_capabilities(
            [method for _, method, _ in methods], model_name, identity.family, identity.capabilities
        )
    refuse_for_model(methods, model_name, identity.family, identity.languages)
    for dataset in datasets:
        TASKS.get(dataset.task_name).check_model(identity, model_name, dataset)


def planned_stems(config: RunConfig) -> list[tuple[str, str]]:
    """``(file stem, description)`` of every result ``config`` would write (for a suite's check
    across its models before anything runs)."""
    datasets = [resolve_dataset(request) for request in config.datasets]
    return [
        (n["stem"], n["what"]) for n in plan_names(config, datasets, prepare_methods(config.methods)).values()
    ]


def plan_names(config: RunConfig, datasets: list[ResolvedDataset], methods: list) -> dict:
    """(model, dataset request, method spec) -> its names (see :mod:`cnclip_eval.naming`) and a
    description for messages, for every result of the run."""
    names = {}
    for i, model_name in enumerate(config.models):
        for d, (request, dataset) in enumerate(zip(config.datasets, datasets)):
            for m, (spec, method, options) in enumerate(methods):
                named = result_names(model_name, config.arch, request, dataset, spec, method, options)
                named["what"] = f"{model_name} / {request.dataset} / {named['run_name']}"
                names[(i, d, m)] = named
    return names
