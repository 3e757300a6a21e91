"""From ``--dataset`` (a catalog name or a shard folder/URL) to everything a run needs to know.

All checks on names and counts happen here, before any model is loaded: a wrong class-name file
fails in a second, not after an hour of image encoding.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cnclip_eval.data.catalog import DATASETS, DatasetSpec, find_spec, is_catalog_name, read_classname_file
from cnclip_eval.data.layout import ShardLayout, read_classnames, read_layout, read_templates
from cnclip_eval.data.retrieval_dataset import (
    RETRIEVAL_SPECS,
    is_retrieval_folder,
    resolve_retrieval_catalog,
    resolve_retrieval_folder,
    resolve_retrieval_shards,
)
from cnclip_eval.data.retrieval_shards import is_retrieval_shards
from cnclip_eval.data.sources import Source, open_source
from cnclip_eval.errors import DataError, UnknownNameError
from cnclip_eval.fileio import sha256_json
from cnclip_eval.protocol import GENERAL_TEMPLATES
from cnclip_eval.templates import resolve_templates


@dataclass(frozen=True)
class DatasetRequest:
    dataset: str
    data_root: str | None = None
    split: str | None = None
    classnames: str | None = None  # a variant of the catalog spec, or a file
    classnames_en: str | None = None  # a file
    templates: str | None = None  # a template set name or file
    templates_en: str | None = None


@dataclass(frozen=True)
class ResolvedDataset:
    name: str
    spec: DatasetSpec | None
    layout: ShardLayout
    classnames: list[str]
    classnames_source: str  # "imagenet1k:cnclip", a file path, or "<root>/classnames.txt"
    classnames_kind: str  # "<dataset>:<variant>" (the catalog's), "folder-zh", "folder", or "file"
    classnames_en: list[str] | None
    templates: list[str]
    templates_source: str
    templates_en: list[str]
    main_metric: str
    metrics: tuple[str, ...]
    expected_samples: int | None
    # what it was resolved from: few-shot methods resolve the same dataset's train split from it
    request: DatasetRequest | None = field(default=None, compare=False)

    @property
    def num_classes(self) -> int:
        return len(self.classnames)

    @property
    def task_name(self) -> str:
        """The registered task (:data:`cnclip_eval.tasks.base.TASKS`) that scores this dataset."""
        return "classification"

    def provenance(self) -> dict:
        return {
            "name": self.name,
            "source": self.layout.source.describe(),
            "split": self.layout.split,
            "shards": [s.relpath for s in self.layout.shards],
            "classnames": self.classnames_source,
            "classnames_kind": self.classnames_kind,
            "classnames_sha256": sha256_json(self.classnames),
            "templates": self.templates_source,
            "templates_sha256": sha256_json(self.templates),
            "task": self.spec.task
            if self.spec
            else ("multilabel" if self.layout.multilabel else "multiclass"),
        }


def resolve_dataset(request: DatasetRequest) -> ResolvedDataset:
    if request.dataset in RETRIEVAL_SPECS:
        return resolve_retrieval_catalog(request.dataset, request.data_root, request.split)
    if is_catalog_name(request.dataset):
        return _resolve_catalog(find_spec(request.dataset), request)
    if is_retrieval_folder(request.dataset, request.split):
        return resolve_retrieval_folder(request.dataset, request.split)
    if request.dataset.startswith(("hf://", "http://", "https://")) or Path(request.dataset).is_dir():
        source = open_source(request.dataset)
        if is_retrieval_shards(source):  # CLIP_benchmark's dataset_type.txt says "retrieval"
            return resolve_retrieval_shards(source, request.dataset, request.split)
        return _resolve_folder(request, source)
    if "/" in request.dataset or "\\" in request.dataset or request.dataset.startswith((".", "~")):
        raise DataError(
            f"--dataset {request.dataset}: no such folder (expected a shard folder or a catalog name)"
        )
    raise UnknownNameError("dataset", request.dataset, DATASETS.names())


def _resolve_catalog(spec: DatasetSpec, request: DatasetRequest) -> ResolvedDataset:
    root = request.data_root or spec.source
    if root is None:
        raise DataError(
            f"dataset {spec.name!r} has no public shards; make them with `cnclip-eval convert` and pass --data-root"
        )
    split = request.split or spec.splits[0]
    source = open_source(root)
    layout = read_layout(source, split)
    _check_folder_classes(layout, spec)
    classnames, classnames_source, classnames_kind = _catalog_classnames(spec, request, layout)
    classnames_en = (
        read_classname_file(Path(request.classnames_en), spec.num_classes)
        if request.classnames_en
        else spec.read_classnames_en()
    )
    templates_name = request.templates or spec.templates
    return ResolvedDataset(
        name=spec.name,
        spec=spec,
        layout=layout,
        classnames=classnames,
        classnames_source=classnames_source,
        classnames_kind=classnames_kind,
        classnames_en=classnames_en,
        templates=resolve_templates(templates_name),
        templates_source=templates_name,
        templates_en=resolve_templates(request.templates_en or spec.templates_en),
        main_metric=spec.main_metric,
        # CN-CLIP's script reports top-1 everywhere: single-label shards of a multi-label dataset (VOC
        # from CN-CLIP's class folders) get it beside the main metric, so its number can be checked
        metrics=spec.metrics if layout.multilabel or "top1" in spec.metrics else (*spec.metrics, "top1"),
        expected_samples=spec.num_samples.get(split),
        request=request,
    )


CATALOG_CLASSNAMES = "catalog"  # --classnames catalog: the catalog's own list even where the folder has one


def _catalog_classnames(
    spec: DatasetSpec, request: DatasetRequest, layout: ShardLayout
) -> tuple[list[str], str, str]:
    """(names, where they came from, kind) for a catalog dataset.

    CN-CLIP evaluates with the dataset folder's own Chinese names (``label_cn.txt``, which
    ``convert`` writes as ``classnames.txt``), so those are the default when the folder has them in
    the right number (a permutation of the catalog's lists was refused before this); where the
    folder's names are English (CLIP_benchmark's shards), the catalog's Chinese list is used.
    """
    if request.classnames and Path(request.classnames).is_file():
        path = Path(request.classnames)
        return read_classname_file(path, spec.num_classes), str(path.resolve()), "file"
    if request.classnames in (None, CATALOG_CLASSNAMES):
        folder = read_classnames(layout.source) if request.classnames is None else None
        if folder and len(folder) == spec.num_classes and _mostly_chinese(folder):
            return folder, layout.source.url("classnames.txt"), "folder-zh"
        variant = spec.default_variant
    else:
        variant = request.classnames
    return spec.read_classnames(variant), f"{spec.name}:{variant}", f"{spec.name}:{variant}"


def _mostly_chinese(names: list[str]) -> bool:
    """Chinese class-name lists keep a few Latin names (iPod, T恤); English lists have no CJK at all."""
    return sum(any("\u4e00" <= ch <= "\u9fff" for ch in name) for name in names) * 2 >= len(names)


def _check_folder_classes(layout: ShardLayout, spec: DatasetSpec) -> None:
    """Shards of a catalog dataset must hold its classes in its label order.

    The shards name their classes in ``classnames.txt`` (English in CLIP_benchmark's conversions,
    Chinese in ``cnclip-eval convert``'s) and, from ``convert``, ``classnames_en.txt``. Each is
    compared with every list of the catalog in its language: the same names in another order are
    refused, since evaluating them would score a permutation of the labels.
    """
    files = {
        name: lines
        for name in ("classnames.txt", "classnames_en.txt")
        if (lines := read_classnames(layout.source, name))
    }
    for file_name, names in files.items():
        if len(names) != spec.num_classes:
            raise DataError(
                f"{layout.source.url(file_name)}: {len(names)} classes, but the catalog spec has "
                f"{spec.num_classes}; these shards are of another dataset or another label order"
            )
        for catalog_list in _catalog_lists(spec):
            ours, theirs = [_normal(n) for n in catalog_list], [_normal(n) for n in names]
            if ours != theirs and sorted(ours) == sorted(theirs):
                label = next(i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b)
                raise DataError(
                    f"{layout.source.url(file_name)}: the classes of {spec.name} in another label order "
                    f"(label {label} is {names[label]!r} there, {catalog_list[label]!r} in the catalog); "
                    "convert the shards in the catalog's order"
                )


def _catalog_lists(spec: DatasetSpec) -> list[list[str]]:
    english = spec.read_classnames_en()
    return ([english] if english else []) + [spec.read_classnames(variant) for variant in spec.classnames_zh]


def _normal(name: str) -> str:
    return " ".join(name.lower().replace("_", " ").split())


def _resolve_folder(request: DatasetRequest, source: Source) -> ResolvedDataset:
    split = request.split or "test"
    layout = read_layout(source, split)
    folder_names = read_classnames(source)
    if request.classnames:
        classnames = read_classname_file(Path(request.classnames))
        classnames_source, classnames_kind = str(Path(request.classnames).resolve()), "file"
        if folder_names is not None and len(folder_names) != len(classnames):
            raise DataError(
                f"{request.classnames}: {len(classnames)} class names, but {source.url('classnames.txt')} "
                f"has {len(folder_names)}"
            )
    elif folder_names is not None:
        classnames, classnames_source = folder_names, source.url("classnames.txt")
        classnames_kind = "folder-zh" if _mostly_chinese(folder_names) else "folder"
    else:
        raise DataError(
            f"{source.url('classnames.txt')}: missing; give the class names with --classnames FILE"
        )
    classnames_en = (
        read_classname_file(Path(request.classnames_en), len(classnames)) if request.classnames_en else None
    )
    if request.templates:
        templates, templates_source = resolve_templates(request.templates), request.templates
    else:
        folder_templates = read_templates(source)
        templates, templates_source = (
            (folder_templates, source.url("zeroshot_classification_templates.txt"))
            if folder_templates
            else (resolve_templates(GENERAL_TEMPLATES), GENERAL_TEMPLATES)
        )
    multilabel = layout.multilabel
    return ResolvedDataset(
        name=Path(request.dataset.rstrip("/")).name,
        spec=None,
        layout=layout,
        classnames=classnames,
        classnames_source=classnames_source,
        classnames_kind=classnames_kind,
        classnames_en=classnames_en,
        templates=templates,
        templates_source=templates_source,
        templates_en=resolve_templates(request.templates_en or "en80"),
        main_metric="mean_average_precision" if multilabel else "top1",
        metrics=("mean_average_precision",) if multilabel else ("top1", "top5", "mean_per_class_recall"),
        expected_samples=None,
        request=request,
    )
