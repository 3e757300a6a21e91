"""The dataset catalog: one frozen spec per dataset, registered by name (and aliases).

A spec (:class:`~cnclip_eval.data.spec.DatasetSpec`) says where the dataset's shards are by
default, what its classes are called in Chinese and English (files in ``classnames/``, index =
label), which templates and which metric it uses. ``--data-root`` replaces the default source with
local shards of the same layout.

Registration runs one way: this module imports the modules that define specs (``elevater``, the
demo dataset) and registers them; they never import the catalog.
"""

from __future__ import annotations

from cnclip_eval.data import elevater
from cnclip_eval.data.spec import CLASSNAMES_DIR, DatasetSpec, read_classname_file
from cnclip_eval.demo import dataset as demo_dataset
from cnclip_eval.registry import Registry

DATASETS: Registry[DatasetSpec] = Registry("dataset")


def register(spec: DatasetSpec) -> DatasetSpec:
    DATASETS.add(spec.name, spec, f"{spec.num_classes} classes, {spec.main_metric}", spec.aliases)
    return spec


def find_spec(name: str) -> DatasetSpec:
    """A spec by name or alias; unknown names list the valid ones."""
    return DATASETS.get(name)


def is_catalog_name(name: str) -> bool:
    return name in DATASETS


register(
    DatasetSpec(
        name="imagenet1k",
        num_classes=1000,
        source="hf://clip-benchmark/wds_imagenet1k",
        classnames_zh={"cnclip": "imagenet1k.zh.txt", "wukong": "imagenet1k.wukong.zh.txt"},
        classnames_en="imagenet1k.en.txt",
        templates="cnclip183",  # CN-CLIP's script: ImageNet gets the 183 general templates too
        num_samples={"test": 50_000},
        aliases=("imagenet-1k", "imagenet", "wds/imagenet1k"),
        notes="ImageNet-1k val; Chinese names: CN-CLIP's label_cn (default) or the Wukong list",
    )
)
for _spec in (*elevater.SPECS, demo_dataset.SPEC):
    register(_spec)

__all__ = ["CLASSNAMES_DIR", "DATASETS", "DatasetSpec", "find_spec", "is_catalog_name", "read_classname_file"]
