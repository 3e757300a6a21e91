"""Prompt template sets: lists of ``{c}`` templates, read from the installed packages, never copied.

* ``zh80``: CLIP_benchmark's Chinese ImageNet templates (``cn_zeroshot_classification_templates.json``)
* ``en80``: CLIP_benchmark's English ImageNet templates (OpenAI's 80)
* ``cnclip183``: CN-CLIP's general templates (``cn_clip.eval.cvinw_zeroshot_templates.openai_templates``)
* ``cnclip-imagenet``: CN-CLIP's 80 ImageNet templates (``imagenet_zeroshot_templates``)
* ``cnclip-<kind>``: CN-CLIP's per-dataset ELEVATER templates (``cars``, ``flower``, ``food``, ...)
* ``single``: ``{c}的照片``
* ``demo-zh``, ``demo-en``: the demo-shapes dataset's templates (``cnclip_eval.demo.captions``)
* or a path to a text file with one ``{c}`` template per line.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from pathlib import Path

from cnclip_eval.errors import UserError
from cnclip_eval.registry import Registry

TemplateSet = Callable[[], list[str]]
TEMPLATE_SETS: Registry[TemplateSet] = Registry("template set")


def _clip_benchmark_templates(language: str) -> list[str]:
    import clip_benchmark.datasets as datasets

    path = Path(datasets.__file__).parent / f"{language}_zeroshot_classification_templates.json"
    return list(json.loads(path.read_text(encoding="utf-8"))["imagenet1k"])


def _from_lambdas(templates: list) -> list[str]:
    # cn_clip writes templates as f-string lambdas; calling one with "{c}" gives back the pattern
    return [t("{c}") for t in templates]


def _cnclip_cvinw(attr: str) -> list[str]:
    from cn_clip.eval import cvinw_zeroshot_templates

    return _from_lambdas(getattr(cvinw_zeroshot_templates, attr))


def _cnclip_imagenet() -> list[str]:
    from cn_clip.eval import imagenet_zeroshot_templates

    return _from_lambdas(imagenet_zeroshot_templates.openai_imagenet_template)


TEMPLATE_SETS.add(
    "zh80", lambda: _clip_benchmark_templates("cn"), "CLIP_benchmark's 80 Chinese ImageNet templates"
)
TEMPLATE_SETS.add(
    "en80", lambda: _clip_benchmark_templates("en"), "CLIP_benchmark's 80 English ImageNet templates"
)
TEMPLATE_SETS.add("cnclip183", lambda: _cnclip_cvinw("openai_templates"), "CN-CLIP's 183 general templates")
TEMPLATE_SETS.add("cnclip-imagenet", _cnclip_imagenet, "CN-CLIP's 80 ImageNet templates")
TEMPLATE_SETS.add("single", lambda: ["{c}的照片"], "one template: {c}的照片")
TEMPLATE_SETS.add(
    "demo-zh",
    "cnclip_eval.demo.captions:templates_zh",
    "8 Chinese templates for demo-shapes (unseen in training)",
)
TEMPLATE_SETS.add(
    "demo-en",
    "cnclip_eval.demo.captions:templates_en",
    "6 English templates for demo-shapes (unseen in training)",
)
for _kind in (
    "aircraft",
    "caltech101",
    "cars",
    "cifar100",
    "country211",
    "dtd",
    "eurosat",
    "fer",
    "flower",
    "food",
    "hatefulmemes",
    "kitti",
    "normal",
    "patch",
    "pet",
):
    TEMPLATE_SETS.add(
        f"cnclip-{_kind}",
        (lambda attr=f"{_kind}_templates": _cnclip_cvinw(attr)),
        f"CN-CLIP's ELEVATER templates {_kind}_templates",
    )


def read_template_file(path: Path) -> list[str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise UserError(f"{path}: template file is not UTF-8 text") from None
    templates = [line.strip() for line in lines if line.strip()]
    if not templates:
        raise UserError(f"{path}: template file holds no templates (expected one '{{c}}' template per line)")
    for number, template in enumerate(templates, 1):
        if "{c}" not in template:
            raise UserError(
                f"{path}: template {number} {template!r} has no '{{c}}' placeholder for the class name"
            )
        try:
            template.format(c="x")
        except (IndexError, KeyError, ValueError):
            raise UserError(f"{path}: template {number} {template!r} has braces other than '{{c}}'") from None
    return templates


@cache
def _named(name: str) -> tuple[str, ...]:
    return tuple(TEMPLATE_SETS.get(name)())


def resolve_templates(name_or_path: str) -> list[str]:
    """A registered set's templates, or those of a file (paths win when both exist)."""
    path = Path(name_or_path)
    if path.is_file():
        return read_template_file(path)
    if name_or_path not in TEMPLATE_SETS and ("/" in name_or_path or path.suffix):
        raise UserError(f"--templates {name_or_path}: no such file, and not a template set name")
    return list(_named(name_or_path))
