"""CN-CLIP's own zero-shot protocol: which settings make it up, and whether a run followed it.

CN-CLIP's reference script, ``cn_clip/eval/zeroshot_evaluation.py`` (cn_clip 1.6.0, lines 235-247),
picks templates from ``template_dict``: per-dataset sets for five ELEVATER datasets (resisc45 gets
the *eurosat* set) and the 183 ``openai_templates`` for every other dataset, ImageNet included.
Its class names are the dataset folder's ``label_cn.txt``; its preprocessing is ``image_transform``
(squash resize, no crop); weights run in fp32 (``convert_models_to_fp32``, no autocast); it scores
every image of the test split.

Retrieval has its own settings (:func:`retrieval_protocol_of`, below).

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
    # what the classifier learned from: CN-CLIP's protocol is zero-shot (a few-shot method's train
    # images make its number another protocol's, whatever the other settings)
    trained_on: str = "nothing (zero-shot)"


def protocol_of(settings: RunSettings) -> dict:
    """``{"name": "cnclip" | "custom", "differs": [...]}``, naming each setting that differs."""
    expected = {
        "templates": cnclip_templates(settings.dataset),
        "classnames": "CN-CLIP's label_cn",
        "precision": "fp32",
        "decode": "pil",
        "limit": None,
        "split": "test",
        "trained_on": "nothing (zero-shot)",
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
        "trained_on": settings.trained_on,
    }
    return _verdict(expected, actual)


# --- retrieval -------------------------------------------------------------------------------------
# CN-CLIP's zero-shot retrieval (README "Zero-shot retrieval" commands; cn_clip 1.6.0 scripts):
# ``cn_clip/eval/extract_features.py`` encodes every caption of ``{split}_texts.jsonl`` with
# ``tokenize(_preprocess_text(text), context_length=52)`` (its default, the README's command passes 52;
# ``eval/data.py`` lower-cases and turns the curly quotes “ ” into ", which its vocabulary lacks) and
# every image of the split with a squash ``Resize((r, r), BICUBIC)`` at the vision config's
# ``image_resolution`` (224; 336 for ViT-L-14-336), mean/std normalized; the weights are converted to
# fp32 (``--precision amp``, its default, converts them and runs no autocast); features are L2-normalized.
# ``make_topk_predictions(_tr).py`` ranks by inner product (ties in file order) and
# ``evaluation(_tr).py`` counts a query as a hit at k when any of its positives is in the top k.
# Results.md reports MUGE on its valid split, text -> image only; Flickr30K-CN and COCO-CN on test,
# both directions.

CNCLIP_CONTEXT_LENGTH = 52


def cnclip_caption(text: str) -> str:
    """A caption as CN-CLIP's evaluation reads it (``cn_clip/eval/data.py: _preprocess_text``)."""
    return text.lower().replace("“", '"').replace("”", '"')


@dataclass(frozen=True)
class RetrievalSettings:
    """The settings of one retrieval result that CN-CLIP's protocol fixes. Captions always go through
    :func:`cnclip_caption` and images through the family's own transform (decoded with PIL), so
    neither can depart."""

    dataset: str
    split: str
    directions: tuple[str, ...]
    context_length: int  # the most tokens the text tower takes, special tokens included
    precision: str


def retrieval_protocol_of(settings: RetrievalSettings) -> dict:
    """``{"name": "cnclip" | "custom", "differs": [...]}`` for a retrieval result. A catalog dataset's
    split and directions are those CN-CLIP's table reports (``RETRIEVAL_SPECS``); a folder's are its own."""
    from cnclip_eval.data.retrieval_dataset import RETRIEVAL_SPECS

    spec = RETRIEVAL_SPECS.get(settings.dataset)
    split, directions = (spec.split, spec.directions) if spec else (settings.split, settings.directions)
    expected = {
        "split": split,
        "directions": "+".join(directions),
        "context_length": CNCLIP_CONTEXT_LENGTH,
        "precision": "fp32",
    }
    actual = {
        "split": settings.split,
        "directions": "+".join(settings.directions),
        "context_length": settings.context_length,
        "precision": settings.precision,
    }
    return _verdict(expected, actual)


def _verdict(expected: dict, actual: dict) -> dict:
    differs = [f"{k}={actual[k]} (CN-CLIP: {expected[k]})" for k in expected if actual[k] != expected[k]]
    return {"name": CUSTOM if differs else CNCLIP, "differs": differs}
