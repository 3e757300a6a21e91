"""The classification task: class names and templates become a method's ``(C, D)`` classifier, the
dataset's image features become ``logit_scale * features @ classifier.T`` logits, and the metrics
are the dataset's (top-1, top-5, mean per-class recall, mAP, ROC-AUC); the per-sample record is the
top-k of each image (:class:`~cnclip_eval.results.Predictions`)."""

from __future__ import annotations

import time

import numpy as np
import torch

from cnclip_eval.config import MethodSpec, RunConfig
from cnclip_eval.data.device_decode import preprocessing_id
from cnclip_eval.data.resolve import ResolvedDataset
from cnclip_eval.errors import UserError
from cnclip_eval.features import ClassifierCache
from cnclip_eval.fingerprint import classifier_key_inputs, feature_key_inputs
from cnclip_eval.image_features import autocast, dataset_features
from cnclip_eval.methods import Classifier, DatasetTexts, Method, MethodContext
from cnclip_eval.methods.baseline import TemplateEnsemble
from cnclip_eval.methods.fewshot import is_few_shot
from cnclip_eval.metrics import compute_metrics
from cnclip_eval.models import LoadedModel
from cnclip_eval.models.base import ModelIdentity, reads_chinese
from cnclip_eval.protocol import RunSettings, protocol_of
from cnclip_eval.provenance import environment
from cnclip_eval.results import Predictions, ResultRecord
from cnclip_eval.tasks.base import MethodRun
from cnclip_eval.tasks.few_shot import few_shot_key, few_shot_logits
from cnclip_eval.templates import resolve_templates
from cnclip_eval.text import TextEncoder


def dataset_texts(
    dataset: ResolvedDataset,
    spec: MethodSpec | None = None,
    languages: tuple[str, ...] = ("zh",),
    model_name: str = "",
) -> DatasetTexts:
    """The texts a method sees. A model that does not read Chinese gets the English class names and
    English templates in their place (CN-CLIP's paper compares CLIP on English names so: an upper
    bound on CLIP plus translation); its results say ``texts_language: en``."""
    if reads_chinese(languages):
        templates = resolve_templates(spec.templates) if spec and spec.templates else dataset.templates
        return DatasetTexts(
            dataset.name, dataset.classnames, dataset.classnames_en, templates, dataset.templates_en
        )
    if not dataset.classnames_en or not dataset.templates_en:
        raise UserError(
            f"model {model_name or '(this model)'} reads only {', '.join(languages)}, and dataset "
            f"{dataset.name} has no English class names: give --classnames-en FILE"
        )
    templates = resolve_templates(spec.templates) if spec and spec.templates else dataset.templates_en
    return DatasetTexts(
        dataset.name, dataset.classnames_en, dataset.classnames_en, templates, dataset.templates_en
    )


def texts_language(languages: tuple[str, ...]) -> str:
    """The language of the class names and templates a model is evaluated with."""
    return "zh" if reads_chinese(languages) else "en"


def build_classifier(
    model: LoadedModel,
    dataset: ResolvedDataset,
    spec: MethodSpec,
    method: Method,
    options: dict,
    encoder: TextEncoder,
    cache: ClassifierCache,
    precision: str,
) -> tuple[torch.Tensor, dict, bool]:
    """The method's ``(C, D)`` classifier, from the cache when the same inputs built it before."""
    texts = dataset_texts(dataset, spec, model.languages, model.model_id)
    key = cache.key(classifier_key_inputs(model.identity, texts, spec, method, options, precision))
    cached = cache.get(key)
    if cached is not None:
        return torch.from_numpy(cached[0]), cached[1], True
    context = MethodContext.for_model(model, encoder, texts, options)
    with autocast(torch.device(encoder.device), precision):
        classifier: Classifier = method.build(context)
    weights = classifier.weights.float().cpu()
    if weights.shape != (dataset.num_classes, weights.shape[1]):
        raise RuntimeError(
            f"method {spec.name} built a {tuple(weights.shape)} classifier for {dataset.num_classes} classes"
        )
    cache.put(key, weights.numpy(), classifier.provenance)
    return weights, classifier.provenance, False


def classify(run: MethodRun) -> tuple[ResultRecord, Predictions]:
    """One method's classifier applied to the dataset's image features: metrics, record, predictions."""
    model, dataset, images, spec, method, options = (
        run.model, run.dataset, run.features, run.spec, run.method, run.options
    )  # fmt: skip
    encoder, classifier_cache, config, device, named = (
        run.encoder, run.classifier_cache, run.config, run.device, run.names
    )  # fmt: skip
    started = time.perf_counter()
    if is_few_shot(method):  # fitted on the train split; only its scorer sees the test features
        texts = dataset_texts(dataset, spec, model.languages, model.model_id)

        def zero_shot(baseline: MethodSpec) -> torch.Tensor:
            return build_classifier(
                model, dataset, baseline, TemplateEnsemble(), {}, encoder, classifier_cache, config.precision
            )[0]

        scores, method_provenance = few_shot_logits(run, texts, zero_shot)
        logits, from_cache = scores.numpy(), False
    else:
        weights, method_provenance, from_cache = build_classifier(
            model, dataset, spec, method, options, encoder, classifier_cache, config.precision
        )
        logits = (model.logit_scale * images.features @ weights.T).numpy()  # (N, C)
    classifier_seconds = time.perf_counter() - started
    metric_names = list(dict.fromkeys([dataset.main_metric, *dataset.metrics]))
    metrics = compute_metrics(metric_names, logits, images.labels)
    english = texts_language(model.languages) == "en"  # CN-CLIP's protocol names Chinese texts
    protocol = protocol_of(
        RunSettings(
            dataset=dataset.name,
            templates=spec.templates
            or ("the dataset's English templates" if english else dataset.templates_source),
            classnames_kind="English class names" if english else dataset.classnames_kind,
            precision=config.precision,
            decode=config.decode,
            limit=config.limit,
            split=dataset.layout.split,
            trained_on=(
                f"{options['shots']} shots per class of the train split"
                if is_few_shot(method)
                else "nothing (zero-shot)"
            ),
        )
    )
    record = ResultRecord(
        model=model.model_id,
        dataset=dataset.name,
        split=dataset.layout.split,
        method=spec.name,
        run_name=named["run_name"],
        main_metric=dataset.main_metric,
        metrics=metrics,
        n_samples=len(images.keys),
        protocol=protocol["name"],
        provenance={
            "protocol": protocol,
            "model": model.provenance(),
            "dataset": {**dataset.provenance(), "tag": named["dataset_tag"]},
            "method": {
                "name": spec.name,
                "options": _jsonable(options),
                "templates": spec.templates,
                "details": method_provenance,
                "kind": getattr(method, "kind", "zero-shot"),  # the leaderboard's grouping
                "seed": options.get("seed"),
                "seed_group": named.get("seed_group", named["run_name"]),
            },
            "precision": config.precision,
            "image_preprocessing": {
                "decode": config.decode,
                "id": preprocessing_id(model.preprocessing, config.decode),
            },
            "texts_language": texts_language(model.languages),
            "batch_size": config.batch_size,
            "seed": config.seed,
            "limit": config.limit,
            "logit_scale": model.logit_scale,
            "image_features": {
                "cache_key": images.cache_key,
                "shards_from_cache": images.shards_from_cache,
                "shards_computed": images.shards_computed,
                "seconds": round(images.seconds, 3),
                "ranks": images.ranks,
            },
            "classifier": {"from_cache": from_cache, "seconds": round(classifier_seconds, 3)},
            "environment": environment(device),
        },
        file_stem=named["stem"],
    )
    return record, Predictions.from_logits(images.keys, logits, np.asarray(images.labels))


def _jsonable(options: dict) -> dict:
    return {
        k: (v if isinstance(v, str | int | float | bool | type(None)) else str(v)) for k, v in options.items()
    }


class ClassificationTask:
    name = "classification"
    main_metric_summary = "the dataset's (top-1 for most; see `cnclip-eval ls metrics`)"

    def check_model(self, identity: ModelIdentity, model_name: str, dataset: ResolvedDataset) -> None:
        dataset_texts(dataset, None, identity.languages, model_name)  # English names for English models

    def features_key(self, identity: ModelIdentity, dataset: ResolvedDataset, config: RunConfig) -> dict:
        return feature_key_inputs(identity, dataset, config.precision, config.limit, config.decode)

    def method_key(
        self,
        identity: ModelIdentity,
        dataset: ResolvedDataset,
        spec: MethodSpec,
        method: Method,
        options,
        config,
    ) -> dict:
        texts = dataset_texts(dataset, spec, identity.languages)
        key = classifier_key_inputs(identity, texts, spec, method, options, config.precision)
        if is_few_shot(
            method
        ):  # also the train split it learns from (resolved here: missing is refused early)
            key["few_shot"] = few_shot_key(identity, dataset, spec, texts, config)
        return key

    def encode(self, model: LoadedModel, dataset: ResolvedDataset, config: RunConfig, cache_root, world):
        return dataset_features(model, dataset, config, cache_root, world)

    def run(self, run: MethodRun) -> tuple[ResultRecord, Predictions]:
        return classify(run)


CLASSIFICATION = ClassificationTask()
