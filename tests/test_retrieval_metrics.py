"""Retrieval recalls equal CN-CLIP's own evaluation (its make_topk_predictions(_tr) scripts and
evaluation(_tr).compute_score, run here on the same features) and CLIP_benchmark's recall_at_k where
its one-image-per-text rule applies."""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from cnclip_eval.tasks.retrieval_metrics import first_positive_ranks, retrieval_metrics


def features(n: int, dim: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def several_per_query(num_texts: int, num_images: int, seed: int) -> list[list[int]]:
    """Each text matches 1-3 images; every image is matched by at least one text."""
    rng = np.random.default_rng(seed)
    pairs = [
        sorted(set(rng.choice(num_images, size=rng.integers(1, 4), replace=False).tolist()))
        for _ in range(num_texts)
    ]
    for image in range(num_images):  # no image without a caption
        pairs[image % num_texts] = sorted({*pairs[image % num_texts], image})
    return pairs


def run_script(module: str, argv: list[str], monkeypatch) -> None:
    """One of cn_clip's evaluation programs, run as ``python -m`` runs it, in this process on the CPU
    (its ``.cuda()`` calls are made no-ops: there is no GPU here; the numbers do not depend on it)."""
    with monkeypatch.context() as patch:
        patch.setattr(torch.Tensor, "cuda", lambda self, *args, **kwargs: self)
        patch.setattr(sys, "argv", [module, *argv])
        runpy.run_module(module, run_name="__main__")


def cnclip_scores(tmp: Path, images, texts, pairs, monkeypatch) -> dict:
    """CN-CLIP's three programs and two scorers, on files in its formats."""
    from cn_clip.eval import evaluation, evaluation_tr

    image_ids, text_ids = [1000 + i for i in range(len(images))], [7 + t for t in range(len(texts))]
    write = lambda name, rows: (tmp / name).write_text("".join(json.dumps(r) + "\n" for r in rows))  # noqa: E731
    write("imgs.img_feat.jsonl", [{"image_id": i, "feature": f.tolist()} for i, f in zip(image_ids, images)])
    write("texts.txt_feat.jsonl", [{"text_id": t, "feature": f.tolist()} for t, f in zip(text_ids, texts)])
    write(
        "texts.jsonl",
        [
            {"text_id": t, "text": "x", "image_ids": [image_ids[i] for i in p]}
            for t, p in zip(text_ids, pairs)
        ],
    )
    common = ["--image-feats", str(tmp / "imgs.img_feat.jsonl"), "--text-feats", str(tmp / "texts.txt_feat.jsonl"),
              "--top-k", "10", "--eval-batch-size", "32768"]  # fmt: skip
    for module, out in (("make_topk_predictions", "ir.jsonl"), ("make_topk_predictions_tr", "tr.jsonl")):
        run_script(f"cn_clip.eval.{module}", [*common, "--output", str(tmp / out)], monkeypatch)
    run_script(
        "cn_clip.eval.transform_ir_annotation_to_tr", ["--input", str(tmp / "texts.jsonl")], monkeypatch
    )
    mean_ir, *t2i = evaluation.compute_score(str(tmp / "texts.jsonl"), str(tmp / "ir.jsonl"))
    mean_tr, *i2t = evaluation_tr.compute_score(str(tmp / "texts.tr.jsonl"), str(tmp / "tr.jsonl"))
    return {"t2i": t2i, "i2t": i2t, "mean": (mean_ir + mean_tr) / 2}


def test_recalls_equal_cnclips_evaluation_with_several_positives_each_way(tmp_path, monkeypatch):
    images, texts = features(40, 16, 1), features(90, 16, 2)
    pairs = several_per_query(90, 40, 3)
    ours, _ = retrieval_metrics(images, texts, pairs)
    theirs = cnclip_scores(tmp_path, images, texts, pairs, monkeypatch)
    assert [100 * ours[f"t2i_r{k}"] for k in (1, 5, 10)] == pytest.approx(theirs["t2i"], abs=1e-9)
    assert [100 * ours[f"i2t_r{k}"] for k in (1, 5, 10)] == pytest.approx(theirs["i2t"], abs=1e-9)
    assert 100 * ours["mean_recall"] == pytest.approx(theirs["mean"], abs=1e-9)


def test_recalls_equal_clip_benchmark_with_one_image_per_text():
    from clip_benchmark.metrics.zeroshot_retrieval import recall_at_k

    images, texts = features(30, 12, 4), features(150, 12, 5)
    pairs = [[t // 5] for t in range(150)]  # five captions per image, as Flickr30K
    ours, _ = retrieval_metrics(images, texts, pairs)
    scores = torch.from_numpy(texts @ images.T)
    positive = torch.zeros_like(scores, dtype=torch.bool)
    positive[torch.arange(150), [p[0] for p in pairs]] = True
    for k in (1, 5, 10):
        assert ours[f"t2i_r{k}"] == pytest.approx(
            (recall_at_k(scores, positive, k) > 0).float().mean().item()
        )
        assert ours[f"i2t_r{k}"] == pytest.approx(
            (recall_at_k(scores.T, positive.T, k) > 0).float().mean().item()
        )


def test_muge_reports_text_to_image_only():
    images, texts = features(20, 8, 6), features(25, 8, 7)
    metrics, ranks = retrieval_metrics(images, texts, several_per_query(25, 20, 8), directions=("t2i",))
    assert set(metrics) == {"t2i_r1", "t2i_r5", "t2i_r10", "mean_recall"} and set(ranks) == {"t2i"}
    assert metrics["mean_recall"] == pytest.approx(
        np.mean([metrics["t2i_r1"], metrics["t2i_r5"], metrics["t2i_r10"]])
    )


def test_ties_keep_file_order_and_any_positive_counts():
    queries = np.array([[1.0, 0.0]], dtype=np.float32)
    candidates = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 0.0], [0.6, 0.8]], dtype=np.float32)
    assert first_positive_ranks(queries, candidates, [[2]]).tolist() == [1]  # tied with 1, which comes first
    assert first_positive_ranks(queries, candidates, [[3, 2]]).tolist() == [1]  # the best positive counts
    assert first_positive_ranks(queries, candidates, [[0]]).tolist() == [3]
