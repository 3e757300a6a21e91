"""A retrieval dataset as a run sees it, read and checked before any model is loaded and scored by
the ``retrieval`` task, from either layout:

* a folder in CN-CLIP's format (``{split}_imgs.tsv`` and ``{split}_texts.jsonl``,
  :mod:`cnclip_eval.data.cnclip_retrieval`);
* CLIP_benchmark's retrieval shards, local, http(s) or hf:// (``dataset_type.txt`` = ``retrieval``,
  :mod:`cnclip_eval.data.retrieval_shards`), including ``cnclip-eval convert``'s output.

Both give the same split data (image ids, captions, text -> image indices) and the same four
methods the task uses (``images_identity``, ``files``, ``image_where``, ``image_bytes``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cnclip_eval.data.cnclip_retrieval import RetrievalSplit, is_cnclip_retrieval_folder, read_retrieval_split
from cnclip_eval.data.retrieval_shards import ShardRetrievalSplit, is_retrieval_shards, read_retrieval_shards
from cnclip_eval.data.sources import LocalSource, Source, open_source
from cnclip_eval.demo.retrieval import RETRIEVAL_DIR as DEMO_RETRIEVAL_DIR
from cnclip_eval.errors import DataError

SPLITS = ("test", "valid")  # the split taken when none is named: CN-CLIP reports MUGE on valid


@dataclass(frozen=True)
class RetrievalSpec:
    """A retrieval dataset CN-CLIP reports, read from its preprocessed release (``--data-root``)."""

    name: str
    split: str  # the split CN-CLIP's table reports
    directions: tuple[str, ...]
    release: str  # what to download and unpack for --data-root
    source: str | None = None  # a folder shipped with the package (the demo); None: --data-root


RETRIEVAL_SPECS = {
    spec.name: spec
    for spec in (
        RetrievalSpec(
            "muge", "valid", ("t2i",), "MUGE.zip (CN-CLIP's preprocessed MUGE; text -> image only)"
        ),
        RetrievalSpec(
            "flickr30k-cn", "test", ("t2i", "i2t"), "Flickr30k-CN.zip (CN-CLIP's preprocessed release)"
        ),
        RetrievalSpec("coco-cn", "test", ("t2i", "i2t"), "COCO-CN (from its authors, in CN-CLIP's format)"),
        RetrievalSpec(
            "demo-shapes-retrieval",
            "test",
            ("t2i", "i2t"),
            "shipped (100 demo-shapes images, 60 Chinese captions)",
            str(DEMO_RETRIEVAL_DIR),
        ),
    )
}


@dataclass(frozen=True)
class RetrievalLayout:
    source: Source
    split: str


@dataclass(frozen=True)
class RetrievalDataset:
    name: str
    layout: RetrievalLayout
    split_data: RetrievalSplit | ShardRetrievalSplit
    directions: tuple[str, ...] = ("t2i", "i2t")  # what is reported (MUGE: t2i only)
    spec: None = None  # no catalog entry
    main_metric: str = "mean_recall"
    task_name: str = "retrieval"

    def provenance(self) -> dict:
        data = self.split_data
        return {
            "name": self.name,
            "source": self.layout.source.describe(),
            "split": self.layout.split,
            **data.files(),
            "num_images": len(data.image_ids),
            "num_texts": len(data.texts),
            "directions": list(self.directions),
            "task": "retrieval",
        }

    # the images, whatever the layout (the retrieval task reads them through these)
    def images_identity(self) -> dict:
        return self.split_data.images_identity()

    def image_where(self, image_id: str) -> str:
        return self.split_data.image_where(image_id)

    def image_bytes(self):
        return self.split_data.image_bytes()


def is_retrieval_folder(path: str, split: str | None) -> bool:
    folder = Path(path)
    return folder.is_dir() and any(
        is_cnclip_retrieval_folder(folder, s) for s in ([split] if split else SPLITS)
    )


def resolve_retrieval_catalog(name: str, data_root: str | None, split: str | None) -> RetrievalDataset:
    """``--dataset muge --data-root DIR``: the folder of CN-CLIP's release (or shards converted from
    it, local, http(s) or hf://), its reported split and directions (MUGE: text -> image only)."""
    spec = RETRIEVAL_SPECS[name]
    data_root = data_root or spec.source
    if not data_root:
        raise DataError(
            f"dataset {name!r} is read from a local copy of {spec.release}: unpack it and pass --data-root DIR"
        )
    remote = data_root.startswith(("hf://", "http://", "https://"))
    if not remote and not Path(data_root).is_dir():
        raise DataError(f"--data-root {data_root}: no such folder")
    split = split or spec.split
    if remote or not is_cnclip_retrieval_folder(Path(data_root), split):
        source = open_source(data_root)
        if is_retrieval_shards(source):
            dataset = resolve_retrieval_shards(source, data_root, split)
            return RetrievalDataset(name, dataset.layout, dataset.split_data, spec.directions)
    dataset = resolve_retrieval_folder(data_root, split)
    return RetrievalDataset(name, dataset.layout, dataset.split_data, spec.directions)


def resolve_retrieval_folder(path: str, split: str | None) -> RetrievalDataset:
    folder = Path(path).resolve()
    chosen = split or next((s for s in SPLITS if is_cnclip_retrieval_folder(folder, s)), None)
    if chosen is None or not is_cnclip_retrieval_folder(folder, chosen):
        raise DataError(f"{folder}: no {chosen or 'test or valid'}_imgs.tsv with {chosen or '…'}_texts.jsonl")
    data = read_retrieval_split(folder, chosen)
    return RetrievalDataset(folder.name, RetrievalLayout(LocalSource(folder), chosen), data)


def resolve_retrieval_shards(source: Source, dataset: str, split: str | None) -> RetrievalDataset:
    """CLIP_benchmark's retrieval shards (``dataset_type.txt`` says ``retrieval``); split: test."""
    chosen = split or "test"
    data = read_retrieval_shards(source, chosen)
    name = dataset.rstrip("/").rpartition("/")[2].partition("@")[0] or dataset
    return RetrievalDataset(name, RetrievalLayout(source, chosen), data)
