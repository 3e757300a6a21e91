"""CN-CLIP's own zero-shot protocol: which settings make it up, and whether a run followed it.

CN-CLIP's reference script, ``cn_clip/eval/zeroshot_evaluation.py`` (cn_clip 1.6.0, lines 235-247),
picks templates from ``template_dict``: per-dataset sets for five ELEVATER datasets (resisc45 gets
the *eurosat* set) and the 183 ``openai_templates`` for every other dataset, ImageNet included.
Its class names are the dataset folder's ``label_cn.txt``; its preprocessing is ``image_transform``
(squash resize, no crop); weights run in fp32 (``convert_models_to_fp32``, no autocast); it scores
every image of the test split.

Pure code: settings in, a verdict out. A result is ``cnclip`` when every setting equals the
script's, ``custom`` otherwise; the settings that differ are named.
"""

from __future__ import annotations

from dataclasses import dataclass

CNCLIP = "cnclip"
CUSTOM = "custom"

# Our catalog names -> the template set CN-CLIP's script applies (its keys are ELEVATER's names:
# fgvc-aircraft-2013b-variants102, food-101, oxford-flower-102, eurosat_clip, resisc45_clip, country211).
_PER_DATASET_TEMPLATES = {
    "fgvc-aircraft": "cnclip-aircraft",
    "food-101": "cnclip-food",
    "oxford-flower-102": "cnclip-flower",
    "eurosat": "cnclip-eurosat",
    "resisc45": "cnclip-eurosat",  # sic: the script maps resisc45_clip to eurosat_templates
    "country211": "cnclip-country211",
}
GENERAL_TEMPLATES = "cnclip183"  # the script's "openai" entry: every dataset not in its dict

# Class-name sources that are CN-CLIP's own lists: ImageNet's label_cn (our variant "cnclip"), and a
# folder's own Chinese names (a conversion of CN-CLIP's ELEVATER release carries its label_cn.txt).
_CNCLIP_CLASSNAME_SOURCES = ("imagenet1k:cnclip", "folder-zh")


def cnclip_templates(dataset: str) -> str:
    """The template set CN-CLIP's script uses for a catalog dataset (or any other folder)."""
    return _PER_DATASET_TEMPLATES.get(dataset, GENERAL_TEMPLATES)


@dataclass(frozen=True)
class RunSettings:
    """The settings of one result that CN-CLIP's protocol fixes."""

    dataset: str
    templates: str | None  # the template set the method was handed (name or file), None if unused
    classnames_kind: str  # "imagenet1k:cnclip", "folder-zh", "elevater:catalog", a file, ...
    precision: str
    decode: str
    limit: int | None
    split: str


def protocol_of(settings: RunSettings) -> dict:
    """``{"name": "cnclip" | "custom", "differs": [...]}``, naming each setting that differs."""
    expected = {
        "templates": cnclip_templates(settings.dataset),
        "classnames": "CN-CLIP's label_cn",
        "precision": "fp32",
        "decode": "pil",
        "limit": None,
        "split": "test",
    }
    actual = {
        "templates": settings.templates if settings.templates is not None else expected["templates"],
        "classnames": expected["classnames"]
        if settings.classnames_kind in _CNCLIP_CLASSNAME_SOURCES
        else settings.classnames_kind,
        "precision": settings.precision,
        "decode": settings.decode,
        "limit": settings.limit,
        "split": settings.split,
    }
    differs = [f"{k}={actual[k]} (CN-CLIP: {expected[k]})" for k in expected if actual[k] != expected[k]]
    return {"name": CUSTOM if differs else CNCLIP, "differs": differs}
