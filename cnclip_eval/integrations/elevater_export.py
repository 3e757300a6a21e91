"""``cnclip-eval export --format elevater``: prediction files for ELEVATER's evaluation server (EvalAI).

The format, as ELEVATER's toolkit (``Computer-Vision-in-the-Wild/Elevater_Toolkit_IC``) writes and
combines it:

* ``vision_benchmark/commands/zeroshot.py: main`` (``--save-predictions``) writes one JSON object per
  dataset, ``<dataset_name>.json``: ``model_name``, ``dataset_name`` (ELEVATER's name: ``eurosat_clip``,
  ``fgvc-aircraft-2013b-variants102`` ...), ``num_trainable_params`` (0 for zero-shot), ``num_params``,
  ``num_visual_params``, ``num_backbone_params``, ``n_shot`` (0), ``rnd_seeds`` (``[0]``) and
  ``predictions``: ``[probabilities]``, shape (1, N test images, C classes), each row the softmax of
  ``100 * image_features @ text_features`` (``evaluation/clip_zeroshot_evaluator.py``), in the test
  split's order (:mod:`.elevater_index`); every float rounded to 6 decimals (its ``json_prec_dump``).
  ``commands/linear_probe.py`` writes the same keys for a few-shot run as ``seed<seed>_<dataset>.json``,
  with ``n_shot`` the shots per class and ``rnd_seeds`` ``[seed]``. ``submission_file_readme.md``
  documents the fields; CN-CLIP's ``cn_clip/eval/zeroshot_evaluation.py`` writes the same file (its
  ``num_params`` and ``num_backbone_params``: every parameter; ``num_visual_params``: ``model.visual``).
* ``vision_benchmark/commands/prepare_submit.py: main`` combines a folder of such files into
  ``all_predictions.zip`` holding ``all_predictions.json`` = ``{"data": [one object per dataset]}``;
  files of one dataset (few-shot seeds) are merged: ``rnd_seeds`` and ``predictions`` concatenated,
  ``num_trainable_params`` averaged, every other field equal. That zip is what the server takes.

Here the probabilities are the harness's own: the method's classifier applied to the dataset's
cached image features by the classification task (``model.logit_scale`` = 100 for CN-CLIP, as above),
the same logits its result's top-k predictions come from, softmaxed per sample. Each method goes to its
own folder (``<out>/<method>/``), since a submission is one configuration over all datasets; the
folder's ``all_predictions.zip`` is rebuilt after every export, so exporting the 20 datasets one by one
leaves a zip of all of them.
"""

from __future__ import annotations

import json
import logging
import zipfile
from pathlib import Path

import numpy as np
import torch

from cnclip_eval.data.resolve import ResolvedDataset
from cnclip_eval.errors import UserError
from cnclip_eval.fileio import atomic_write

log = logging.getLogger(__name__)

SUBMISSION_ZIP = "all_predictions.zip"
SUBMISSION_MEMBER = "all_predictions.json"
PRECISION = 6  # decimals: ELEVATER's json_prec_dump
MERGED_KEYS = ("rnd_seeds", "predictions")  # prepare_submit.py's KNOWN_MERGE_KEYS
AVERAGED_KEYS = ("num_trainable_params",)  # its KNOWN_AVERAGE_KEYS

# ELEVATER's dataset names and test-split sizes (vision_benchmark/resources/datasets/vision_datasets.json,
# "name" and test "num_images"); catalog names map to them through cnclip_eval.data.elevater.
ELEVATER_TEST_IMAGES = {
    "caltech-101": 6084,
    "cifar-10": 10000,
    "cifar-100": 10000,
    "country211": 21100,
    "dtd": 1880,
    "eurosat_clip": 5000,
    "fer-2013": 3589,
    "fgvc-aircraft-2013b-variants102": 3333,
    "food-101": 25250,
    "gtsrb": 12630,
    "hateful-memes": 500,
    "imagenet-1k": 50000,
    "kitti-distance": 711,
    "mnist": 10000,
    "oxford-flower-102": 6149,
    "oxford-iiit-pets": 3669,
    "patch-camelyon": 32768,
    "rendered-sst2": 1821,
    "resisc45_clip": 25200,
    "stanford-cars": 8041,
    "voc-2007-classification": 4952,
}


# --- pure core -------------------------------------------------------------------------------------


def probabilities(logits: np.ndarray) -> np.ndarray:
    """(N, C) logits -> (N, C) float64 softmax rows (the max subtracted, so no overflow)."""
    return torch.softmax(torch.from_numpy(np.asarray(logits, dtype=np.float64)), dim=-1).numpy()


def rounded(probs: np.ndarray) -> list[list[float]]:
    """Rows of Python floats rounded as ``json_prec_dump`` rounds them (Python's ``round``)."""
    return [[round(p, PRECISION) for p in row] for row in probs.tolist()]


def prediction_record(
    *,
    model_name: str,
    dataset_name: str,
    params: tuple[int, int | None],  # (all parameters, image-encoder parameters)
    n_shot: int,
    seeds: list[int],
    trainable: int | None,
    probs: np.ndarray,  # (N, C)
) -> dict:
    """One dataset's prediction object, keys in ELEVATER's order."""
    total, visual = params
    return {
        "model_name": model_name,
        "dataset_name": dataset_name,
        "num_trainable_params": trainable,
        "num_params": total,
        "num_visual_params": visual,
        "num_backbone_params": total,
        "n_shot": n_shot,
        "rnd_seeds": list(seeds),
        "predictions": [rounded(probs)],  # (1, N, C)
    }


def file_name(dataset_name: str, n_shot: int, seed: int) -> str:
    """zeroshot.py's ``<dataset>.json``; linear_probe.py's ``seed<seed>_<dataset>.json`` for few-shot."""
    return f"seed{seed}_{dataset_name}.json" if n_shot else f"{dataset_name}.json"


def shot_fields(details: dict, run_name: str) -> tuple[int, list[int], int | None]:
    """(n_shot, rnd_seeds, num_trainable_params) from the method's provenance: a few-shot method
    records ``shots`` and ``seed`` (and ``trainable_params`` when it knows them); others are zero-shot."""
    shots = details.get("shots")
    if not shots:
        return 0, [0], 0
    log.warning(
        "%s: its %s shots per class are this harness's own draw (seed %s), not ELEVATER's few-shot sampling: "
        "say so beside any submitted number",
        run_name, shots, details.get("seed"),
    )  # fmt: skip
    trainable = details.get("trainable_params")
    if trainable is None:
        log.warning(
            "%s: num_trainable_params unknown (the method does not record it); written as null", run_name
        )
    return int(shots), [int(details.get("seed", 0))], trainable


def combine(records: list[tuple[str, dict]]) -> list[dict]:
    """prepare_submit.py's merge: one object per dataset_name, in first-seen order."""
    groups: dict[str, list[tuple[str, dict]]] = {}
    for source, record in records:
        groups.setdefault(record["dataset_name"], []).append((source, record))
    combined = []
    for group in groups.values():
        first_source, first = group[0]
        merged = dict(first)
        for source, record in group[1:]:
            for key, value in record.items():
                if key in MERGED_KEYS:
                    merged[key] = [*merged.get(key, []), *value]
                elif key not in AVERAGED_KEYS and value != first.get(key):
                    raise UserError(
                        f"{source}: {key} is {value!r}, {first_source} has {first.get(key)!r} for the same "
                        f"dataset {first['dataset_name']}; ELEVATER merges such files only when they agree"
                    )
        for key in AVERAGED_KEYS:
            values = [record.get(key) for _, record in group]
            merged[key] = None if None in values else float(np.mean(values)) if len(values) > 1 else values[0]
        combined.append(merged)
    return combined


# --- I/O -------------------------------------------------------------------------------------------


def read_prediction_file(path: Path) -> dict:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UserError(f"{path}: not a readable JSON file ({error}); remove it from the folder") from None
    if not isinstance(record, dict) or not {"dataset_name", "predictions"} <= set(record):
        raise UserError(f"{path}: not an ELEVATER prediction file (no dataset_name / predictions); remove it")
    return record


def write_submission(folder: Path) -> Path:
    """``all_predictions.zip`` from every prediction file in ``folder`` (prepare_submit.py's output).

    Streamed dataset by dataset (prepare_submit holds every dataset's probabilities in memory at
    once: ~14M floats for the 20 datasets, 64M with ImageNet): a dataset with one file is copied into
    the zip as written; the files of a few-shot dataset (one per seed) are merged as prepare_submit
    merges them. Files that could not be merged are refused before the zip is touched."""
    files = sorted(p for p in Path(folder).glob("*.json") if p.is_file())
    headers = []  # each file's fields but its predictions, one file in memory at a time
    for path in files:
        record = read_prediction_file(path)
        del record["predictions"]
        headers.append((str(path), record))
    combine(headers)  # refuses files of one dataset that disagree
    groups: dict[str, list[Path]] = {}
    for path, (_, header) in zip(files, headers):
        groups.setdefault(header["dataset_name"], []).append(path)

    def write(f) -> None:
        with (
            zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as archive,
            archive.open(SUBMISSION_MEMBER, "w") as member,
        ):
            member.write(b'{"data": [')
            for i, paths in enumerate(groups.values()):
                if len(paths) == 1:
                    text = paths[0].read_text(encoding="utf-8").strip()
                else:
                    [merged] = combine([(str(p), read_prediction_file(p)) for p in paths])
                    text = json.dumps(merged)
                member.write(((", " if i else "") + text).encode("utf-8"))
            member.write(b"]}")

    return atomic_write(Path(folder) / SUBMISSION_ZIP, write)


def elevater_name(dataset: ResolvedDataset) -> str:
    """ELEVATER's name of a catalog dataset (its class-name files are named by it); else our name."""
    from cnclip_eval.data import elevater

    if dataset.spec is not None:
        names = {
            name: key for name, key, *_ in elevater.ELEVATER_DATASETS
        }  # (catalog name, ELEVATER key, ...)
        names["imagenet1k"] = "imagenet-1k"
        return names.get(dataset.spec.name, dataset.name)
    return dataset.name


def parameter_counts(module: torch.nn.Module) -> tuple[int, int | None]:
    """(all parameters, image-encoder parameters): cn_clip / open_clip ``visual``, transformers'
    ``vision_model`` + ``visual_projection``; None for a module of another shape (ELEVATER writes None
    for counts it does not have)."""
    total = sum(p.numel() for p in module.parameters())
    parts = (
        [getattr(module, n, None) for n in ("visual",)]
        if hasattr(module, "visual")
        else [getattr(module, n, None) for n in ("vision_model", "visual_projection")]
    )
    parts = [p for p in parts if isinstance(p, torch.nn.Module)]
    return total, (sum(p.numel() for part in parts for p in part.parameters()) if parts else None)


def check_size(dataset_name: str, n: int, source: str) -> None:
    expected = ELEVATER_TEST_IMAGES.get(dataset_name)
    if expected is not None and n != expected:
        raise UserError(
            f"{source}: {n} test samples, ELEVATER's {dataset_name} test split has {expected}; the server "
            "refuses other sizes: convert CN-CLIP's ELEVATER folder (cnclip-eval convert) and pass it as --data-root"
        )
