"""The classification task's few-shot path: the train split of the evaluated dataset, its keys and
labels read without decoding, K shots per class and a validation set drawn from them
(:mod:`cnclip_eval.methods.shots`), the drawn samples' features (encoded once per model and cached:
:mod:`cnclip_eval.shot_features`, shared with `coop train`; always PIL-decoded), the baseline's text
classifier, and the method's fit. Only the fitted scorer sees the test features."""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import torch

from cnclip_eval.config import MethodSpec, RunConfig
from cnclip_eval.data.resolve import ResolvedDataset, resolve_dataset
from cnclip_eval.errors import UserError
from cnclip_eval.fileio import sha256_json
from cnclip_eval.fingerprint import classifier_key_inputs, feature_key_inputs
from cnclip_eval.methods.base import MethodContext
from cnclip_eval.methods.baseline import TemplateEnsemble
from cnclip_eval.methods.fewshot import FewShotContext, Shots
from cnclip_eval.methods.shots import sample_shots, sample_validation
from cnclip_eval.models.base import ModelIdentity
from cnclip_eval.shot_features import sample_features, split_index
from cnclip_eval.tasks.base import MethodRun

TRAIN_SPLIT = "train"


def train_split(dataset: ResolvedDataset, method: str) -> ResolvedDataset:
    """The train split of ``dataset`` (same source, class names and templates); one line where there is none."""
    if dataset.layout.multilabel:
        raise UserError(f"method {method!r} needs single-label data; {dataset.name} is multi-label")
    if dataset.layout.split == TRAIN_SPLIT:
        raise UserError(
            f"method {method!r} draws its shots from the train split of {dataset.name}: evaluate it on "
            "another split (--split test)"
        )
    if dataset.request is None:
        raise UserError(f"method {method!r}: cannot tell where the train split of {dataset.name} is")
    try:
        return _resolve_train(dataclasses.replace(dataset.request, split=TRAIN_SPLIT))
    except UserError as error:
        raise UserError(f"method {method!r} needs the train split of {dataset.name}: {error}") from None


@functools.lru_cache(maxsize=64)
def _resolve_train(request):
    """Resolved once per process: a suite asks for it for every few-shot line, K and seed (45 lines of
    controls.yaml), and resolving lists the shards (over the network for hf:// sources)."""
    return resolve_dataset(request)


def baseline_spec(spec: MethodSpec) -> MethodSpec:
    """The zero-shot classifier few-shot methods start from: the template baseline (same templates)."""
    return MethodSpec("baseline", templates=spec.templates)


def few_shot_key(
    identity: ModelIdentity, dataset: ResolvedDataset, spec: MethodSpec, texts, config: RunConfig
) -> dict:
    """What a few-shot result depends on beyond its options: the train split's features and the
    baseline classifier it starts from."""
    train = train_split(dataset, spec.name)
    return {
        "train_features": feature_key_inputs(identity, train, config.precision, None, "pil"),
        "zero_shot": classifier_key_inputs(
            identity, texts, baseline_spec(spec), TemplateEnsemble(), {}, config.precision
        ),
    }


def few_shot_logits(run: MethodRun, texts, build_zero_shot) -> tuple[torch.Tensor, dict]:
    """(N, C) logits of the test features from the method fitted on the train split, and its provenance.
    ``build_zero_shot(spec)`` returns the baseline's (C, D) classifier (through the classifier cache)."""
    options, device = run.options, run.device
    train = train_split(run.dataset, run.spec.name)
    index = split_index(train, run.cache_root)  # keys and labels only: no image decoded
    shot_index = sample_shots(index.labels, index.keys, options["shots"], options["seed"], texts.classnames)
    val_index = sample_validation(
        index.labels, index.keys, shot_index, options["val_shots"], options["seed"], texts.classnames
    )
    # only the drawn samples are encoded (and cached: another seed or K adds what it adds)
    images = sample_features(run.model, train, index, np.concatenate([shot_index, val_index]), run.config,
                             run.cache_root)  # fmt: skip

    def shots(rows: np.ndarray, features: torch.Tensor) -> Shots:
        labels = torch.from_numpy(index.labels[rows]).long().to(device)
        return Shots(features.to(device), labels, [str(k) for k in index.keys[rows]])

    picked = shots(shot_index, images.features[: len(shot_index)])
    validation = shots(val_index, images.features[len(shot_index) :])
    model = run.model
    zero_shot = build_zero_shot(baseline_spec(run.spec)).to(device)
    context = MethodContext.for_model(model, run.encoder, texts, options)
    torch.manual_seed(options["seed"])
    scorer = run.method.fit(FewShotContext(context, zero_shot, picked, validation, model.logit_scale))
    with torch.no_grad():
        logits = scorer.scores(run.features.features.to(device)).float().cpu()
    provenance = {
        **scorer.provenance,
        "train_split": {
            "split": train.layout.split,
            "source": train.layout.source.describe(),
            "samples": len(index.keys),
            "features_cache_key": images.cache_key,
            "samples_encoded": images.encoded,
            "samples_from_cache": images.from_cache,
        },
        "shots": options["shots"],
        "seed": options["seed"],
        "shot_keys_sha256": sha256_json(picked.keys),
        "validation_keys_sha256": sha256_json(validation.keys),
        "n_shots": len(picked.keys),
        "n_validation": len(validation.keys),
    }
    return logits, provenance
