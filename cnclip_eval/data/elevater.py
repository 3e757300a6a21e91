"""The 20 ELEVATER datasets (Li et al., 2022), with the main metric ELEVATER reports for each.

Class lists are in ELEVATER's label order (``classnames/<ELEVATER key>.{zh,en}.txt``). Where
CLIP_benchmark's Hugging Face conversion (``clip-benchmark/wds_*``) holds the same classes in the
same order, that is the default source (``CLIP_BENCHMARK_SOURCES``; checked against the class lists
clip_benchmark ships in ``en_classnames.json``, from which those shards' ``classnames.txt`` were
written). Those are VTAB/torchvision test splits, so sample counts can differ from ELEVATER's.

The others have no default source: CLIP_benchmark's caltech101 orders its classes differently,
and cifar-10/100, dtd, food-101, resisc45, stanford-cars, fgvc-aircraft, voc-2007 and rendered-sst2
take their names from torchvision/TFDS, which this catalog has not checked. Make their shards from
CN-CLIP's ELEVATER image folders (``cnclip-eval convert``, which reads ``label_cn.txt``) and pass
``--data-root``. Either way ``resolve`` refuses shards whose ``classnames.txt`` holds the same
English names in another order.

Templates: those CN-CLIP's zero-shot script applies (``cnclip_eval.protocol``): per-dataset sets for
aircraft, food, flower, eurosat, resisc45 (eurosat's set) and country211, the 183 general ones for the
others. CN-CLIP's other per-dataset sets stay named options (``--templates cnclip-dtd`` ...).
"""

from __future__ import annotations

from cnclip_eval.data.spec import DatasetSpec
from cnclip_eval.protocol import cnclip_templates

# name, ELEVATER key (class-name files), classes, main metric, task, aliases
# (templates: CN-CLIP's script's choice, cnclip_eval.protocol.cnclip_templates)
ELEVATER_DATASETS = [
    (
        "caltech-101",
        "caltech-101",
        102,
        "mean_per_class_recall",
        "multiclass",
        ("caltech101", "vtab/caltech101"),
    ),
    ("cifar-10", "cifar-10", 10, "top1", "multiclass", ("cifar10",)),
    ("cifar-100", "cifar-100", 100, "top1", "multiclass", ("cifar100", "vtab/cifar100")),
    ("country211", "country211", 211, "top1", "multiclass", ()),
    ("dtd", "dtd", 47, "top1", "multiclass", ("vtab/dtd",)),
    ("eurosat", "eurosat_clip", 10, "top1", "multiclass", ("eurosat_clip", "vtab/eurosat")),
    ("fer-2013", "fer-2013", 7, "top1", "multiclass", ("fer2013",)),
    (
        "fgvc-aircraft",
        "fgvc-aircraft-2013b-variants102",
        100,
        "mean_per_class_recall",
        "multiclass",
        ("fgvc-aircraft-2013b-variants102", "fgvc_aircraft"),
    ),
    ("food-101", "food-101", 101, "top1", "multiclass", ("food101",)),
    ("gtsrb", "gtsrb", 43, "top1", "multiclass", ()),
    ("hateful-memes", "hateful-memes", 2, "roc_auc", "binary", ("hatefulmemes",)),
    (
        "kitti-distance",
        "kitti-distance",
        4,
        "top1",
        "multiclass",
        ("kitti_closest_vehicle_distance", "vtab/kitti_closest_vehicle_distance"),
    ),
    ("mnist", "mnist", 10, "top1", "multiclass", ()),
    (
        "oxford-flower-102",
        "oxford-flower-102",
        102,
        "mean_per_class_recall",
        "multiclass",
        ("flowers", "vtab/flowers"),
    ),
    (
        "oxford-iiit-pets",
        "oxford-iiit-pets",
        37,
        "mean_per_class_recall",
        "multiclass",
        ("pets", "vtab/pets"),
    ),
    ("patch-camelyon", "patch-camelyon", 2, "top1", "binary", ("pcam", "vtab/pcam")),
    ("rendered-sst2", "rendered-sst2", 2, "top1", "binary", ("renderedsst2",)),
    ("resisc45", "resisc45_clip", 45, "top1", "multiclass", ("resisc45_clip", "vtab/resisc45")),
    ("stanford-cars", "stanford-cars", 196, "top1", "multiclass", ("cars",)),
    (
        "voc-2007-classification",
        "voc-2007-classification",
        20,
        "map_11point",
        "multilabel",
        ("voc2007", "voc2007_multilabel"),
    ),
]

CLIP_BENCHMARK_SOURCES = {
    "country211": "hf://clip-benchmark/wds_country211",
    "eurosat": "hf://clip-benchmark/wds_vtab-eurosat",
    "fer-2013": "hf://clip-benchmark/wds_fer2013",
    "gtsrb": "hf://clip-benchmark/wds_gtsrb",
    "kitti-distance": "hf://clip-benchmark/wds_vtab-kitti_closest_vehicle_distance",
    "mnist": "hf://clip-benchmark/wds_mnist",
    "oxford-flower-102": "hf://clip-benchmark/wds_vtab-flowers",
    "oxford-iiit-pets": "hf://clip-benchmark/wds_vtab-pets",
    "patch-camelyon": "hf://clip-benchmark/wds_vtab-pcam",
}
_METRICS = {
    "multiclass": ("top1", "top5", "mean_per_class_recall"),
    "binary": ("top1", "roc_auc", "mean_per_class_recall"),
    "multilabel": ("map_11point", "mean_average_precision"),
}

SPECS = [
    DatasetSpec(
        name=_name,
        num_classes=_classes,
        source=CLIP_BENCHMARK_SOURCES.get(_name),
        classnames_zh={"elevater": f"{_key}.zh.txt"},
        classnames_en=f"{_key}.en.txt",
        templates=cnclip_templates(_name),
        task=_task,
        main_metric=_metric,
        metrics=tuple(dict.fromkeys((_metric, *_METRICS[_task]))),
        aliases=tuple(a for a in (*_aliases, f"wds/{_aliases[0]}" if _aliases else None) if a),
        notes=(
            "ELEVATER label order; CLIP_benchmark's shards by default"
            if _name in CLIP_BENCHMARK_SOURCES
            else "ELEVATER label order; no public shards in that order: --data-root (see cnclip_eval.data.elevater)"
        ),
    )
    for _name, _key, _classes, _metric, _task, _aliases in ELEVATER_DATASETS
]
