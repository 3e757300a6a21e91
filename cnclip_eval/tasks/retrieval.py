"""The retrieval task: captions and images of a split (CN-CLIP's tsv/jsonl files, or retrieval shards in
CLIP_benchmark's layout: :mod:`cnclip_eval.data.retrieval_dataset`) become text and image features,
scored by cosine similarity, with CN-CLIP's recalls (:mod:`.retrieval_metrics`).

The texts are the captions as CN-CLIP's evaluation reads them (lower case, straight quotes:
:func:`cnclip_eval.protocol.cnclip_caption`), so the only method is ``baseline``; the others build
class-name classifiers and are refused up front. Image features are cached in chunks of the images file (a
stopped run resumes from the chunks done); caption features go through the run's text encoder
(batched, length-sorted, cut to each batch's longest caption where the family's mask allows) and are
cached in chunks per text tower. Each query's rank is stored beside the result (:class:`QueryRanks`),
so the leaderboard gives intervals over queries and paired tests between models with no re-run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from cnclip_eval.config import MethodSpec, RunConfig
from cnclip_eval.data.device_decode import preprocessing_id
from cnclip_eval.data.retrieval_dataset import RetrievalDataset
from cnclip_eval.data.shards import decode_rgb
from cnclip_eval.distributed import all_gather
from cnclip_eval.errors import UserError
from cnclip_eval.features import FeatureCache, ShardFeatures
from cnclip_eval.fileio import sha256_json
from cnclip_eval.image_features import autocast
from cnclip_eval.methods.base import Method
from cnclip_eval.models.base import LoadedModel, ModelIdentity, reads_chinese
from cnclip_eval.protocol import RetrievalSettings, cnclip_caption, retrieval_protocol_of
from cnclip_eval.provenance import environment
from cnclip_eval.results import QueryRanks, ResultRecord
from cnclip_eval.tasks.base import MethodRun
from cnclip_eval.tasks.retrieval_metrics import retrieval_metrics

CHUNK = 256  # images per cache entry


@dataclass
class RetrievalFeatures:
    images: torch.Tensor  # (I, D) float32, rows L2-normalized, in the images file's order
    cache_key: str
    chunks_from_cache: int
    chunks_computed: int
    seconds: float


class RetrievalTask:
    name = "retrieval"
    main_metric_summary = "mean_recall: the mean of the reported R@1/5/10 (CN-CLIP's MR)"

    def check_model(self, identity: ModelIdentity, model_name: str, dataset: RetrievalDataset) -> None:
        if not reads_chinese(identity.languages):
            raise UserError(
                f"model {model_name} reads only {', '.join(identity.languages)}; the captions of "
                f"{dataset.name} are Chinese"
            )

    def features_key(self, identity: ModelIdentity, dataset: RetrievalDataset, config: RunConfig) -> dict:
        if config.limit is not None:  # asked before any work; a cut of the images would change every query
            raise UserError(
                f"--limit {config.limit}: {dataset.name} is a retrieval split, scored whole (every caption "
                "against every image); drop --limit for it"
            )
        return {
            "task": "retrieval",
            "weights": identity.weights_id,
            "arch": identity.arch,
            "preprocessing": preprocessing_id(identity.preprocessing, "pil"),
            **dataset.images_identity(),  # source, images, images_version: rewritten images are re-encoded
            "precision": config.precision,
        }

    def method_key(
        self,
        identity: ModelIdentity,
        dataset: RetrievalDataset,
        spec: MethodSpec,
        method: Method,
        options,
        config,
    ) -> dict:
        if spec.name != "baseline" or spec.templates:
            raise UserError(
                f"method {spec.run_name!r} builds class-name classifiers; {dataset.name} is a retrieval "
                "dataset whose texts are its captions: use --method baseline"
            )
        data = dataset.split_data
        return {
            "task": "retrieval",
            "texts_sha256": sha256_json([data.text_ids, data.texts]),
            "pairs_sha256": sha256_json(data.text_to_images),
            "directions": list(dataset.directions),
            "precision": config.precision,
        }

    def encode(self, model: LoadedModel, dataset: RetrievalDataset, config: RunConfig, cache_root, world):
        """Image features in chunks of ``CHUNK`` images: chunk i is encoded (or read from the cache) by
        rank ``i % world size`` under torchrun, and rank 0 gathers them all (it alone scores)."""
        started = time.perf_counter()
        cache = FeatureCache(cache_root, self.features_key(model.identity, dataset, config))
        mine: dict[int, ShardFeatures] = {}
        counts = {"from_cache": 0, "computed": 0}
        pending: list[tuple[str, bytes]] = []
        chunk = 0

        def flush() -> None:
            nonlocal chunk
            if chunk % world.size == world.rank:
                ids = [i for i, _ in pending]
                cached = cache.load(chunk)
                if cached is not None and list(cached.keys) == ids:
                    mine[chunk] = cached
                    counts["from_cache"] += 1
                else:
                    mine[chunk] = self._encode_chunk(model, dataset, pending, config)
                    cache.save(chunk, mine[chunk])
                    counts["computed"] += 1
            pending.clear()
            chunk += 1

        for image_id, data in dataset.image_bytes():
            pending.append((image_id, data))
            if len(pending) == CHUNK:
                flush()
        if pending:
            flush()
        chunks, from_cache, computed = mine, counts["from_cache"], counts["computed"]
        if world.size > 1:
            chunks, from_cache, computed = {}, 0, 0
            for part, counted in all_gather((mine, counts), world):
                chunks.update(part)
                from_cache, computed = from_cache + counted["from_cache"], computed + counted["computed"]
            if world.is_main:
                for index, data in chunks.items():
                    if index not in mine:  # another rank's chunk: kept here too (no shared disk needed)
                        cache.save(index, data)
        features = torch.from_numpy(np.concatenate([chunks[i].features for i in range(chunk)]))
        seconds = time.perf_counter() - started
        return RetrievalFeatures(features, cache.key, from_cache, computed, seconds)

    @staticmethod
    def _encode_chunk(model, dataset, pending: list[tuple[str, bytes]], config: RunConfig) -> ShardFeatures:
        pixels = torch.stack(
            [
                model.transform(decode_rgb(data, f"{dataset.image_where(i)}: cannot decode"))
                for i, data in pending
            ]
        )
        with torch.inference_mode(), autocast(model.device, config.precision):
            features = F.normalize(model.encode_image(pixels.to(model.device)).float(), dim=-1).cpu()
        keys = np.array([i for i, _ in pending])
        return ShardFeatures(features.numpy(), np.zeros(len(keys), np.int64), keys)

    def run(self, run: MethodRun) -> tuple[ResultRecord, QueryRanks]:
        model, dataset, images, config = run.model, run.dataset, run.features, run.config
        data = dataset.split_data
        started = time.perf_counter()
        captions = [cnclip_caption(t) for t in data.texts]
        texts, text_chunks = caption_features(run, data.text_ids, captions)  # (T, D), rows L2-normalized
        text_seconds = time.perf_counter() - started
        truncated = int(sum(model.tokenizer(captions)[1]))  # tokenizing alone: cached chunks count too
        metrics, ranks = retrieval_metrics(
            images.images.numpy(), texts.numpy(), data.text_to_images, dataset.directions
        )
        queried_images = [
            data.image_ids[i] for i in sorted({i for images in data.text_to_images for i in images})
        ]
        per_query = QueryRanks.from_directions({"t2i": data.text_ids, "i2t": queried_images}, ranks)
        protocol = retrieval_protocol_of(
            RetrievalSettings(dataset.name, dataset.layout.split, tuple(dataset.directions),
                              model.tokenizer.context_length, config.precision)
        )  # fmt: skip
        record = ResultRecord(
            model=model.model_id,
            dataset=dataset.name,
            split=dataset.layout.split,
            method=run.spec.name,
            run_name=run.names["run_name"],
            main_metric=dataset.main_metric,
            metrics=metrics,
            n_samples=len(data.texts),
            protocol=protocol["name"],
            provenance={
                "protocol": protocol,
                "model": model.provenance(),
                "dataset": {**dataset.provenance(), "tag": run.names["dataset_tag"]},
                "method": {"name": run.spec.name, "options": {}},
                "precision": config.precision,
                "image_preprocessing": {"id": preprocessing_id(model.preprocessing, "pil")},
                "context_length": model.tokenizer.context_length,
                "texts_truncated": truncated,
                "text_features": text_chunks,
                "image_features": {
                    "cache_key": images.cache_key,
                    "chunks_from_cache": images.chunks_from_cache,
                    "chunks_computed": images.chunks_computed,
                    "seconds": round(images.seconds, 3),
                },
                "text_seconds": round(text_seconds, 3),
                "queries": {direction: int(len(r)) for direction, r in ranks.items()},
                "environment": environment(run.device),
            },
            file_stem=run.names["stem"],
        )  # fmt: skip
        return record, per_query


TEXT_CHUNK = 4096  # captions per cache entry


def caption_features(run: MethodRun, text_ids: list[str], captions: list[str]) -> tuple[torch.Tensor, dict]:
    """(T, D) caption features through the run's text encoder, cached in chunks of ``TEXT_CHUNK`` per
    model and split: a re-run encodes no caption again, and an edited caption re-encodes only its chunk
    (each entry keeps its ids and captions to compare)."""
    model = run.model
    cache = FeatureCache(
        run.cache_root,
        {"task": "retrieval-captions", "weights": model.weights_id, "arch": model.arch,
         "context_length": model.tokenizer.context_length, "precision": run.config.precision,
         "dataset": run.dataset.name, "split": run.dataset.layout.split,
         "source": run.dataset.layout.source.describe()},
    )  # fmt: skip
    chunks, from_cache, computed = [], 0, 0
    for index, start in enumerate(range(0, len(captions), TEXT_CHUNK)):
        # the id and the caption as read: a caption edited under the same id misses
        keys = np.array(
            [
                f"{i}\t{c}"
                for i, c in zip(text_ids[start : start + TEXT_CHUNK], captions[start : start + TEXT_CHUNK])
            ]
        )
        cached = cache.load(index)
        if cached is not None and np.array_equal(cached.keys, keys):
            chunks.append(torch.from_numpy(cached.features))
            from_cache += 1
            continue
        with autocast(model.device, run.config.precision):
            features = run.encoder.encode(captions[start : start + TEXT_CHUNK])
        cache.save(index, ShardFeatures(features.numpy(), np.zeros(len(keys), np.int64), keys))
        chunks.append(features)
        computed += 1
    return torch.cat(chunks), {
        "cache_key": cache.key,
        "chunks_from_cache": from_cache,
        "chunks_computed": computed,
    }


RETRIEVAL = RetrievalTask()
