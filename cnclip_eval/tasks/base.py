"""The task seam: what the engine hands a task for one (model, dataset, method) result, and what a
task gives back. The engine orchestrates (models x datasets x methods, image features, skipping,
writing); a task owns how the dataset's texts are built, how features become scores, its metrics,
its per-sample record and its main metric. Tasks are registered by name in :data:`TASKS`; a dataset
names its task (``ResolvedDataset.task_name``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from cnclip_eval.registry import Registry

if TYPE_CHECKING:
    from cnclip_eval.config import MethodSpec, RunConfig
    from cnclip_eval.data.resolve import ResolvedDataset
    from cnclip_eval.features import ClassifierCache
    from cnclip_eval.image_features import DatasetFeatures
    from cnclip_eval.methods.base import Method
    from cnclip_eval.models.base import LoadedModel, ModelIdentity
    from cnclip_eval.results import Predictions, ResultRecord
    from cnclip_eval.text import TextEncoder


@dataclass(frozen=True)
class MethodRun:
    """Everything one result is made from (one typed context instead of a row of arguments)."""

    model: LoadedModel
    dataset: ResolvedDataset
    features: DatasetFeatures  # the dataset's image features under ``model`` (cached per shard)
    spec: MethodSpec
    method: Method
    options: dict[str, Any]  # the method's options, parsed and defaulted
    encoder: TextEncoder  # shared by every method of the run: a prompt is encoded once
    classifier_cache: ClassifierCache
    config: RunConfig
    device: str
    names: dict[str, str]  # run_name, dataset_tag, stem (see cnclip_eval.naming)
    cache_root: Path  # the feature caches (few-shot methods encode the train split through them)


class Task(Protocol):
    name: str
    main_metric_summary: str

    def check_model(self, identity: ModelIdentity, model_name: str, dataset: ResolvedDataset) -> None:
        """Refuse, before any work, a model that cannot be evaluated on ``dataset`` (one line)."""
        ...

    def features_key(self, identity: ModelIdentity, dataset: ResolvedDataset, config: RunConfig) -> dict:
        """Everything the dataset's encoded features depend on (skip-existing and caches key on it)."""
        ...

    def method_key(
        self,
        identity: ModelIdentity,
        dataset: ResolvedDataset,
        spec: MethodSpec,
        method: Method,
        options,
        config,
    ) -> dict:
        """Everything one method's scores depend on beyond the features."""
        ...

    def encode(self, model: LoadedModel, dataset: ResolvedDataset, config: RunConfig, cache_root, world):
        """The dataset's features under ``model`` (cached, resumable): the expensive part, once per
        model and dataset, shared by every method."""
        ...

    def run(self, run: MethodRun) -> tuple[ResultRecord, Predictions]:
        """The result record and its per-sample predictions."""
        ...


TASKS: Registry[Task] = Registry("task")
TASKS.add(
    "classification",
    "cnclip_eval.tasks.classification:CLASSIFICATION",
    "class names + templates -> a (C, D) classifier; top-1, mean per-class recall, mAP, ROC-AUC",
)
TASKS.add(
    "retrieval",
    "cnclip_eval.tasks.retrieval:RETRIEVAL",
    "captions and images -> cosine scores; t2i / i2t R@1/5/10 and mean_recall (CN-CLIP's MR)",
)
