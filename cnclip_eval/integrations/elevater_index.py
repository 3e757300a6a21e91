"""ELEVATER's test-sample order, and where each of our shard samples sits in it.

What fixes the order (read in ``Computer-Vision-in-the-Wild/Elevater_Toolkit_IC`` and its data library
``microsoft/vision-datasets``):

* ELEVATER's toolkit reads the test split through ``vision_datasets``
  (``vision_benchmark/evaluation/feature.py: construct_dataloader`` -> ``get_dataloader`` with
  ``shuffle=False``), so the predictions follow the manifest's image order. For an IRIS-format dataset
  (``vision_datasets/common/data_manifest.py: IrisManifestAdaptor.create_dataset_manifest``; in 1.0.x
  ``common/data_manifest/iris_data_manifest_adaptor.py``, the same rule) that is the
  order of the lines of the split's index file (``test.txt``: ``<image path> <label>[,<label>...]``, one
  image a line, blank lines skipped, the path split from the labels at the *last* space, ``x.zip@`` in a
  path naming a member of a zip). For a COCO-format one (kitti-distance, resisc45_clip, hateful-memes,
  imagenet-1k: ``CocoManifestAdaptor.create_dataset_manifest``) it is the ``images`` of the JSON sorted
  by ``id``, paths in ``file_name``, labels ``category_id - min(category ids)``.
* CN-CLIP's ELEVATER folders (``<dataset>/test/<label id>/<image>``, ``zeroshot_dataset.md``) are read
  with ``torchvision.datasets.ImageFolder`` (class folders sorted by name, then files sorted), and its
  ``cn_clip/eval/zeroshot_evaluation.py: run`` reorders the outputs by the dataset's ``index.json``
  where one ships (``outputs[index]``: a JSON list whose i-th entry is the ImageFolder position of
  ELEVATER's i-th test image); the other datasets' folder order is already ELEVATER's (CN-CLIP's
  ``zeroshot_dataset.md``: ``index.json`` exists "due to the specified order of test data").

Our shards (``cnclip-eval convert`` of such a folder, :mod:`cnclip_eval.data.folders`) keep no path, only
a key made from it: ``000/img.12.jpg`` -> ``000_img_12`` (the extension dropped, any character other than
a letter, digit, ``_`` or ``-`` replaced by ``_``). So:

* an IRIS text index or a COCO JSON index gives each line's key by the conversion's own rule
  (:func:`conversion_key`), tried on the path and then on the path without its leading folders (an index
  path may start with ``test/`` or a zip member's folder; the first key present wins), and the label
  written in the index must equal the sample's;
* CN-CLIP's ``index.json`` needs the ImageFolder order. :func:`folder_order` takes it from the file
  names when the folder the shards were converted from is still there, unchanged (the conversion
  manifest's file-list hash agrees: :func:`cnclip_eval.integrations.elevater_run.converted_paths`);
  otherwise it rebuilds it from (label, key), exact unless two file names of one class sort differently
  once the conversion has replaced their characters (``a-b.jpg`` before ``a.jpg``, but key ``a`` before
  ``a-b``); a text index is exact always;
* with no index file, the folder order itself.

Every sample must be listed exactly once: a missing, extra or twice-listed one is refused in one line that
names the index file and the key. Pure: paths and keys in, positions out; only :func:`read_index` reads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from cnclip_eval.errors import UserError


@dataclass(frozen=True)
class IndexEntry:
    where: str  # "line 12" / "image id 7", for messages
    path: str  # the image path as the index writes it (zip prefix removed)
    labels: tuple[int, ...] | None  # the labels the index gives, None if it gives none


@dataclass(frozen=True)
class ElevaterIndex:
    path: Path
    kind: str  # "iris" | "coco" | "cnclip-permutation"
    entries: tuple[IndexEntry, ...] = ()  # iris / coco
    permutation: tuple[int, ...] = ()  # cnclip-permutation: ImageFolder position of each test image


# --- reading ---------------------------------------------------------------------------------------
# By hand rather than with vision-datasets: its manifest readers import the Azure SDKs (azure-identity,
# azure-storage-blob) and want a DatasetInfo, for the few parsing rules quoted in the module docstring.


def read_index(path: Path) -> ElevaterIndex:
    """An ELEVATER text index, a COCO JSON index, or CN-CLIP's ``index.json`` permutation."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(f"--index-file {path}: cannot read it ({error})") from None
    if path.suffix.lower() != ".json":
        return ElevaterIndex(path, "iris", tuple(parse_iris_lines(text, path)))
    try:
        content = json.loads(text)
    except json.JSONDecodeError as error:
        raise UserError(f"--index-file {path}: not JSON ({error})") from None
    if isinstance(content, list):
        if not all(isinstance(i, int) and not isinstance(i, bool) for i in content):
            raise UserError(
                f"--index-file {path}: a JSON list, but not of integer positions (CN-CLIP's form)"
            )
        return ElevaterIndex(path, "cnclip-permutation", permutation=tuple(content))
    if isinstance(content, dict) and isinstance(content.get("images"), list):
        return ElevaterIndex(path, "coco", tuple(parse_coco(content, path)))
    raise UserError(
        f"--index-file {path}: expected CN-CLIP's index.json (a list of positions) or a COCO file "
        "with 'images'"
    )


def parse_iris_lines(text: str, path: Path) -> list[IndexEntry]:
    """vision-datasets' IRIS index: ``<path> <label>[,<label>...]`` a line, split at the last space."""
    entries = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        image, _, labels = line.rpartition(" ") if " " in line else (line, "", "")
        try:
            parsed = tuple(int(x) for x in labels.split(",")) if labels else None
        except ValueError:
            raise UserError(
                f"--index-file {path}: line {number}: {labels!r} is not a label (expected '<image path> <label>')"
            ) from None
        entries.append(IndexEntry(f"line {number}", strip_zip(image), parsed))
    return entries


def parse_coco(content: dict, path: Path) -> list[IndexEntry]:
    """vision-datasets' COCO classification index: images sorted by id, labels from the annotations."""
    try:
        first_category = min((c["id"] for c in content.get("categories", [])), default=0)
        labels: dict = {}
        for annotation in content.get("annotations", []):
            labels.setdefault(annotation["image_id"], []).append(annotation["category_id"] - first_category)
        images = sorted(content["images"], key=lambda image: image["id"])
        return [
            IndexEntry(
                f"image id {image['id']}",
                strip_zip(image["file_name"]),
                tuple(labels[image["id"]]) if image["id"] in labels else None,
            )
            for image in images
        ]
    except (KeyError, TypeError) as error:
        raise UserError(f"--index-file {path}: not a COCO classification file (missing {error})") from None


def strip_zip(image_path: str) -> str:
    """``test.zip@test/1.jpg`` -> ``test/1.jpg`` (vision-datasets' zip member form); ``\\`` -> ``/``."""
    return image_path.replace("\\", "/").rsplit("@", 1)[-1]


# --- keys ------------------------------------------------------------------------------------------


def conversion_key(relpath: str) -> str:
    """The shard key ``cnclip-eval convert`` gives the file at ``relpath`` (inside its split folder).

    Calls the conversion's own rule rather than a copy, so the two cannot drift apart; the suffix it
    adds to a key that collides within a split (``_2``) depends on the archive order and is not
    reproduced here (such a sample is then reported as missing)."""
    from cnclip_eval.data.folders import ImageFile, assign_keys

    [keyed] = assign_keys([ImageFile(Path(relpath), relpath, 0, "jpg", 0)])
    return keyed.key


def key_candidates(image_path: str) -> list[str]:
    """Keys to try for an index path, longest first: the whole path, then without leading folders."""
    parts = PurePosixPath(image_path).parts
    return list(dict.fromkeys(conversion_key("/".join(parts[i:])) for i in range(len(parts))))


# --- order -----------------------------------------------------------------------------------------


def folder_order(keys: np.ndarray, labels: np.ndarray, paths: dict[str, str] | None = None) -> np.ndarray:
    """(N,) positions in ``torchvision.datasets.ImageFolder``'s order of the converted folder.

    ImageFolder walks the class folders sorted by name, each with ``sorted(os.walk(...))`` and its file
    names sorted. With ``paths`` (key -> path inside the split folder, from the conversion's source) that
    order is exact; without, it is rebuilt from (label, key), exact unless file names of one class sort
    differently once their characters are replaced in the key (see the module docstring)."""
    if paths is not None:

        def walk_position(i: int) -> tuple[str, str, str]:
            parts = paths[str(keys[i])].split("/")  # class folder, [sub folders], file name
            return parts[0], "/".join(parts[:-1]), parts[-1]

        return np.asarray(sorted(range(len(keys)), key=walk_position), dtype=np.int64)
    first_label = labels if labels.ndim == 1 else np.argmax(labels, axis=1)  # multi-label: first class
    return np.asarray(
        sorted(range(len(keys)), key=lambda i: (int(first_label[i]), str(keys[i]))), dtype=np.int64
    )


def index_order(
    index: ElevaterIndex, keys: np.ndarray, labels: np.ndarray, paths: dict[str, str] | None = None
) -> np.ndarray:
    """(N,) positions into ``keys`` in the index's order; refuses a missing, extra or repeated sample.
    ``paths``: as for :func:`folder_order`, which CN-CLIP's permutation indexes."""
    if index.kind == "cnclip-permutation":
        return permutation_order(index, keys, labels, paths)
    position = {str(key): i for i, key in enumerate(keys)}
    order: list[int] = []
    listed_at: dict[int, str] = {}
    for entry in index.entries:
        candidates = key_candidates(entry.path)
        found = next((position[k] for k in candidates if k in position), None)
        if found is None:
            raise UserError(
                f"--index-file {index.path}: {entry.where}: no sample with key {candidates[0]!r} "
                f"(from {entry.path!r}) in the shards"
            )
        key = str(keys[found])
        if found in listed_at:
            raise UserError(
                f"--index-file {index.path}: {entry.where}: sample key {key!r} is listed twice "
                f"(also at {listed_at[found]})"
            )
        check_labels(index, entry, key, labels[found])
        listed_at[found] = entry.where
        order.append(found)
    refuse_unlisted(index, keys, set(order))
    return np.asarray(order, dtype=np.int64)


def permutation_order(
    index: ElevaterIndex, keys: np.ndarray, labels: np.ndarray, paths: dict[str, str] | None
) -> np.ndarray:
    """CN-CLIP's ``outputs[index]``: the folder order taken at the listed positions."""
    folder = folder_order(keys, labels, paths)
    n = len(keys)
    seen: set[int] = set()
    for i, value in enumerate(index.permutation):
        if not 0 <= value < n:
            raise UserError(
                f"--index-file {index.path}: entry {i}: position {value} is outside the {n} samples of the shards"
            )
        if value in seen:
            raise UserError(
                f"--index-file {index.path}: entry {i}: sample key {str(keys[folder[value]])!r} "
                f"(folder position {value}) is listed twice"
            )
        seen.add(value)
    refuse_unlisted(index, keys, {int(folder[v]) for v in seen})
    return folder[np.asarray(index.permutation, dtype=np.int64)]


def check_labels(index: ElevaterIndex, entry: IndexEntry, key: str, label: np.ndarray) -> None:
    if entry.labels is None:
        return
    ours = tuple(int(i) for i in np.flatnonzero(label)) if np.ndim(label) else (int(label),)
    if sorted(entry.labels) != sorted(ours):
        raise UserError(
            f"--index-file {index.path}: {entry.where}: sample key {key!r} has label "
            f"{','.join(map(str, ours))} in the shards, {','.join(map(str, entry.labels))} in the index"
        )


def refuse_unlisted(index: ElevaterIndex, keys: np.ndarray, listed: set[int]) -> None:
    if len(listed) == len(keys):
        return
    missing = next(i for i in range(len(keys)) if i not in listed)
    raise UserError(
        f"--index-file {index.path}: sample key {str(keys[missing])!r} of the shards is not listed "
        f"({len(listed)} of {len(keys)} samples listed)"
    )
