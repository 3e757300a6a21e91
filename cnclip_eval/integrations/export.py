"""Our methods as CLIP_benchmark input files: class names, templates, and ``--load_clfs`` classifiers.

For each method and dataset, in the output folder:

* ``classnames.<method>.json``: ``{"wds/<name>": [Chinese class names]}`` for
  ``--custom_classname_file`` (CLIP_benchmark's ``wds/`` loader ignores ``--language`` and would
  otherwise read the folder's ``classnames.txt``);
* ``templates.<method>.json``: ``{"wds/<name>": ["{c}的照片", ...]}`` for ``--custom_template_file``.
  For a template method these *are* the method. A CuPL-style ``{"wds/<name>": {class name:
  [descriptions]}}`` is the form for per-class descriptions (:func:`cupl_prompts`). For any other
  method the file holds the dataset's templates only because CLIP_benchmark refuses to run without
  some; ``--load_clfs`` makes it ignore them;
* ``classifier.<model>.<name>.<method>.pt``: the finished classifier for ``--load_clfs``.

Keys. For ``--dataset wds/X`` CLIP_benchmark looks up ``"wds/X"``, then ``"X"`` (and, for templates
only, then ``"imagenet1k"``). We write the full ``"wds/X"`` key: it is found first, and a short
``"imagenet1k"`` key in a template file would become the fallback template list of every other
dataset of a multi-dataset run. The JSON files are merged key by key, so exporting several datasets
into one folder gives one file per method for the whole suite.

Classifier files. CLIP_benchmark ``torch.load``\\s each ``--load_clfs`` file, averages them without
renormalizing and computes ``100 * image_features @ classifier``: it wants a ``(D, C)`` float tensor.
We save the transpose of the ``(C, D)`` classifier that :func:`cnclip_eval.engine.build_classifier`
returns (rows L2-normalized), so the numbers are bit-identical to those ``cnclip-eval`` uses.
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from cnclip_eval.config import MethodSpec
from cnclip_eval.data.resolve import DatasetRequest, ResolvedDataset, resolve_dataset
from cnclip_eval.errors import UserError
from cnclip_eval.fileio import atomic_write, atomic_write_json
from cnclip_eval.methods import DatasetTexts
from cnclip_eval.models import DEFAULT_MODEL, MODELS, LoadedModel, ModelRequest, family_of, load_model

log = logging.getLogger(__name__)

Prompts = list[str] | dict[str, list[str]]  # "{c}" templates, or CuPL's {class name: descriptions}
# (class names, prompts) for CLIP_benchmark's files, from what the method sees and its options
PromptForm = Callable[[DatasetTexts, dict], tuple[list[str], Prompts]]


def template_prompts(texts: DatasetTexts, options: dict) -> tuple[list[str], Prompts]:
    """The template ensemble: CLIP_benchmark fills and averages the same templates as ``baseline``."""
    return list(texts.classnames), list(texts.templates)


def description_prompts(texts: DatasetTexts, options: dict) -> tuple[list[str], Prompts]:
    """The ``llm`` method: each class's prompts (descriptions, with templates filled in for
    ``descriptions+templates``) as CLIP_benchmark's CuPL dict, which it averages the same way."""
    from cnclip_eval.methods.llm import pack_prompts

    prompts, *_ = pack_prompts(texts, options)
    return cupl_prompts(list(texts.classnames), prompts)


# Methods whose classifier CLIP_benchmark rebuilds exactly from prompt files (up to float rounding).
# Every other method is exported as its classifier only.
PROMPT_FORMS: dict[str, PromptForm] = {"baseline": template_prompts, "llm": description_prompts}


@dataclass(frozen=True)
class ExportInputs:
    """What every export format is asked for: the dataset, the methods, the model and where things go."""

    dataset: DatasetRequest
    methods: tuple[MethodSpec, ...]
    out_dir: Path
    model: str = DEFAULT_MODEL
    arch: str | None = None
    seed: int = 0
    device: str = "auto"
    cache_dir: Path | None = None  # feature and classifier caches (shared with cnclip-eval)
    model_cache_dir: Path | None = None
    use_modelscope: bool = False
    text_batch_size: int = 256


@dataclass(frozen=True)
class ExportRequest(ExportInputs):
    benchmark_name: str | None = None  # X of CLIP_benchmark's --dataset wds/X; default: our dataset's name


@dataclass(frozen=True)
class ExportedMethod:
    method: str  # the run name
    dataset_key: str  # "wds/X"
    classnames: Path
    templates: Path
    prompts_are_method: bool  # False: the template file only satisfies CLIP_benchmark's checks
    classifier: Path
    classifier_shape: tuple[int, int]  # (D, C)
    prompt_command: list[str] | None  # runs the method from its prompt files, None if it has none
    classifier_command: list[str]  # runs it from the exported classifier


def export_clip_benchmark(request: ExportRequest) -> list[ExportedMethod]:
    """Write every method's files for one (model, dataset); what was written and how to run it."""
    from cnclip_eval.engine import pick_device, prepare_methods
    from cnclip_eval.features import ClassifierCache, default_cache_dir
    from cnclip_eval.tasks.classification import build_classifier, dataset_texts
    from cnclip_eval.text import TextEncoder

    dataset = resolve_dataset(request.dataset)
    methods = prepare_methods(request.methods)  # unknown methods and options fail before the model loads
    device = pick_device(request.device)
    model = load_model(
        ModelRequest(
            request.model, request.arch, request.model_cache_dir, request.seed, device, request.use_modelscope
        )
    )
    encoder = TextEncoder(model, device, request.text_batch_size)
    cache = ClassifierCache(Path(request.cache_dir or default_cache_dir()))
    name = request.benchmark_name or dataset.name
    base_args = benchmark_base_args(request, dataset, model, name)
    exported = []
    for spec, method, options in methods:
        weights, _, _ = build_classifier(model, dataset, spec, method, options, encoder, cache, "fp32")
        texts = dataset_texts(dataset, spec, model.languages, model.model_id)
        form = PROMPT_FORMS.get(spec.name)
        # without a form, the dataset's templates: unused under --load_clfs, but CLIP_benchmark wants some
        classnames, prompts = form(texts, options) if form else template_prompts(texts, options)
        files = write_method_files(
            request.out_dir, name, spec.run_name, model_slug(request), classnames, prompts, weights
        )
        exported.append(describe_export(spec, name, files, base_args, weights, form is not None))
    return exported


@dataclass(frozen=True)
class MethodFiles:
    classnames: Path
    templates: Path
    classifier: Path


def write_method_files(
    out_dir: Path,
    name: str,
    run_name: str,
    model_name: str,
    classnames: list[str],
    templates: Prompts,
    weights: torch.Tensor,
) -> MethodFiles:
    key = dataset_key(name)
    out_dir = Path(out_dir)
    classnames_path = merge_json(out_dir / f"classnames.{slug(run_name)}.json", key, list(classnames))
    templates_path = merge_json(out_dir / f"templates.{slug(run_name)}.json", key, templates)
    classifier_path = out_dir / f"classifier.{model_name}.{slug(name)}.{slug(run_name)}.pt"
    save_classifier(classifier_path, weights)
    return MethodFiles(classnames_path, templates_path, classifier_path)


def describe_export(
    spec: MethodSpec,
    name: str,
    files: MethodFiles,
    base_args: list[str],
    weights: torch.Tensor,
    prompts_are_method: bool,
) -> ExportedMethod:
    classnames, templates, classifier = (
        p.resolve() for p in (files.classnames, files.templates, files.classifier)
    )
    prompt_args = ["--custom_classname_file", str(classnames), "--custom_template_file", str(templates)]
    stem = classifier.parent / f"{slug(name)}.{slug(spec.run_name)}"
    return ExportedMethod(
        method=spec.run_name,
        dataset_key=dataset_key(name),
        classnames=classnames,
        templates=templates,
        prompts_are_method=prompts_are_method,
        classifier=classifier,
        classifier_shape=(weights.shape[1], weights.shape[0]),
        prompt_command=[*base_args, *prompt_args, "--output", f"{stem}.prompts.json"]
        if prompts_are_method
        else None,
        classifier_command=[
            *base_args,
            *prompt_args,
            "--load_clfs",
            str(classifier),
            "--output",
            f"{stem}.classifier.json",
        ],
    )


def dataset_key(name: str) -> str:
    """The key CLIP_benchmark looks up first for ``--dataset wds/<name>``."""
    return f"wds/{name}"


def slug(text: str) -> str:
    """A file-name-safe form of a model, dataset or method name."""
    return re.sub(r"[^\w.+-]+", "_", text).strip("._") or "_"


def model_slug(request: ExportRequest) -> str:
    """The model's part of a classifier file name: its registered name, or the checkpoint's stem."""
    return slug(request.model if request.model in MODELS else Path(request.model).stem)


def classifier_for_load_clfs(weights: torch.Tensor) -> torch.Tensor:
    """``(C, D)`` rows L2-normalized -> CLIP_benchmark's ``(D, C)``, float32, its own storage."""
    if weights.ndim != 2:
        raise ValueError(f"expected a (C, D) classifier, got shape {tuple(weights.shape)}")
    return weights.detach().float().cpu().T.contiguous()  # (D, C)


def save_classifier(path: Path, weights: torch.Tensor) -> Path:
    """A plain tensor file, loadable by ``torch.load(..., weights_only=True)`` as CLIP_benchmark does."""
    tensor = classifier_for_load_clfs(weights)

    def write(f) -> None:
        buffer = io.BytesIO()
        torch.save(tensor, buffer)
        f.write(buffer.getvalue())

    return atomic_write(path, write)


def merge_json(path: Path, key: str, value) -> Path:
    """Set ``key`` in the JSON object at ``path`` (created if missing), keeping the other keys."""
    content = {}
    if path.is_file():
        try:
            content = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise UserError(
                f"{path}: exists but is not a JSON file ({error}); remove it or pick another --out"
            ) from None
        if not isinstance(content, dict):
            raise UserError(
                f"{path}: exists but is not a JSON object keyed by dataset; remove it or pick another --out"
            )
    content[key] = value
    return atomic_write_json(path, content)


def cupl_prompts(
    classnames: list[str], descriptions: list[list[str]]
) -> tuple[list[str], dict[str, list[str]]]:
    """Class names and ``{class name: descriptions}`` in CLIP_benchmark's CuPL form, index = label.

    CLIP_benchmark finds each class's descriptions by its *name*, so two classes with the same
    name (ImageNet has several) would share one entry. The names only serve as keys here (the
    descriptions are encoded as they are), so repeated names get a suffix: ``name (2)``.
    """
    if len(classnames) != len(descriptions):
        raise ValueError(f"{len(classnames)} class names but {len(descriptions)} description lists")
    keys = unique_names(classnames)
    return keys, {key: list(texts) for key, texts in zip(keys, descriptions)}


def unique_names(names: list[str]) -> list[str]:
    """``names`` in order, a repeated one suffixed `` (n)`` with an n that no other name uses."""
    seen: set[str] = set(names)
    counts: dict[str, int] = {}
    unique = []
    for name in names:
        counts[name] = counts.get(name, 0) + 1
        if counts[name] == 1:
            unique.append(name)
            continue
        number = counts[name]
        while f"{name} ({number})" in seen:
            number += 1
        candidate = f"{name} ({number})"
        seen.add(candidate)
        unique.append(candidate)
    return unique


def benchmark_base_args(
    request: ExportRequest, dataset: ResolvedDataset, model: LoadedModel, name: str
) -> list[str]:
    """``cnclip-benchmark eval`` with the model, dataset and precision of this export."""
    args = ["cnclip-benchmark", "eval", "--model_type", "cn_clip", *model_args(request, model)]
    args += [
        "--dataset",
        f"wds/{name}",
        "--dataset_root",
        clip_benchmark_root(dataset_source(request.dataset, dataset)),
    ]
    if dataset.layout.split != "test":
        args += ["--split", dataset.layout.split]
    return [*args, "--no_amp"]  # fp32, as cnclip-eval's default and the published numbers


def model_args(request: ExportRequest, model: LoadedModel) -> list[str]:
    """``--model``/``--pretrained`` that make the cn_clip loader load the same weights."""
    if model.weights_sha256 is None and request.seed != 0:
        log.warning(
            "random weights from --seed %d: CLIP_benchmark's loader draws them with seed 0, so its image "
            "features will differ (the exported classifier file is still the one cnclip-eval uses)",
            request.seed,
        )
    if request.model not in MODELS and family_of(request.model) is None:  # a checkpoint file
        return ["--model", absolute_arch(model.arch), "--pretrained", str(Path(request.model).resolve())]
    if request.arch is None:
        return ["--model", request.model, "--pretrained", ""]
    if model.weights_sha256 is None:  # a small config with another arch: random weights of that arch
        return ["--model", absolute_arch(request.arch), "--pretrained", "random"]
    log.warning(
        "--arch %s is not passed on: the command loads %s with its own architecture",
        request.arch,
        request.model,
    )
    return ["--model", request.model, "--pretrained", ""]


def absolute_arch(arch: str) -> str:
    """``VISION@TEXT`` with JSON file parts made absolute, so the command runs from any folder."""

    def absolute(part: str) -> str:  # the rule of cnclip_eval.models.arch: a path ends in .json or has a "/"
        is_path = (part.endswith(".json") or "/" in part) and Path(part).is_file()
        return str(Path(part).resolve()) if is_path else part

    return "@".join(absolute(part) for part in arch.split("@"))


def dataset_source(request: DatasetRequest, dataset: ResolvedDataset) -> str:
    if dataset.spec is None:  # a shard folder / URL given as --dataset
        return request.dataset
    return request.data_root or dataset.spec.source or ""


def clip_benchmark_root(source: str) -> str:
    """``--dataset_root`` for a source string: absolute folders, URLs, and Hugging Face tree URLs."""
    if source.startswith("hf://"):
        repo, _, revision = source.removeprefix("hf://").partition("@")
        return f"https://huggingface.co/datasets/{repo}/tree/{revision or 'main'}"
    if source.startswith(("http://", "https://")):
        return source
    return str(Path(source).expanduser().resolve())
