"""Zero-shot image-text retrieval metrics as CN-CLIP reports them: pure functions over features.

A query is a hit at k when any of its positives is among its k best candidates, so a text with
several matching images (MUGE) and an image with several captions (Flickr30K-CN, COCO-CN) are
counted as CN-CLIP's ``evaluation.py`` / ``evaluation_tr.py`` count them. Candidates with equal
scores keep their file order (Python's stable sort in ``make_topk_predictions.py``).

CN-CLIP's "MR" is the mean of the reported recalls (R@1, R@5, R@10 of each reported direction),
not a median rank.
"""

from __future__ import annotations

import numpy as np

RECALL_AT = (1, 5, 10)
# what `cnclip-eval ls metrics` says of each retrieval metric
DESCRIPTIONS = {
    **{
        f"t2i_r{k}": f"text -> image recall@{k}: share of captions with a matching image in the top {k}"
        for k in RECALL_AT
    },
    **{
        f"i2t_r{k}": f"image -> text recall@{k}: share of images with a matching caption in the top {k}"
        for k in RECALL_AT
    },
    "mean_recall": "CN-CLIP's MR: the MEAN of the reported recalls (R@1/5/10 of each reported direction), "
    "not a median rank; MUGE reports text -> image only",
}
CHUNK = 1024  # queries scored at a time: (CHUNK, candidates) float32 stays small for MUGE's 30k images


def first_positive_ranks(
    queries: np.ndarray, candidates: np.ndarray, positives: list[list[int]]
) -> np.ndarray:
    """(Q,) the 0-based rank of each query's best-ranked positive among all candidates.

    ``queries`` (Q, D) and ``candidates`` (C, D) are L2-normalized features; ``positives[q]`` lists
    candidate indices (at least one per query).
    """
    ranks = np.empty(len(queries), dtype=np.int64)
    for start in range(0, len(queries), CHUNK):
        scores = queries[start : start + CHUNK] @ candidates.T  # (q, C)
        for row, score in enumerate(scores):
            mine = np.asarray(positives[start + row], dtype=np.int64)
            best = mine[np.argmax(score[mine])]  # the lowest index among the best-scored positives
            top = score[best]
            # ahead of it: every strictly better candidate, and equal ones earlier in file order
            ranks[start + row] = int((score > top).sum() + (score[:best] == top).sum())
    return ranks


def recalls(ranks: np.ndarray, prefix: str) -> dict[str, float]:
    return {f"{prefix}_r{k}": float((ranks < k).mean()) for k in RECALL_AT}


def image_positives(text_to_images: list[list[int]], num_images: int) -> list[list[int]]:
    """For image -> text retrieval: each image's matching texts (the inverse of ``text_to_images``)."""
    inverse: list[list[int]] = [[] for _ in range(num_images)]
    for text, images in enumerate(text_to_images):
        for image in images:
            inverse[image].append(text)
    return inverse


def retrieval_metrics(
    image_features: np.ndarray,
    text_features: np.ndarray,
    text_to_images: list[list[int]],
    directions: tuple[str, ...] = ("t2i", "i2t"),
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """Metrics (fractions) and the per-query first-positive ranks of each direction.

    ``directions``: what the dataset reports (MUGE: text -> image only); ``mean_recall`` averages
    exactly those recalls. An image no text matches is not a query for image -> text.
    """
    metrics: dict[str, float] = {}
    ranks: dict[str, np.ndarray] = {}
    if "t2i" in directions:
        ranks["t2i"] = first_positive_ranks(text_features, image_features, text_to_images)
        metrics.update(recalls(ranks["t2i"], "t2i"))
    if "i2t" in directions:
        inverse = image_positives(text_to_images, len(image_features))
        queried = [i for i, texts in enumerate(inverse) if texts]
        ranks["i2t"] = first_positive_ranks(
            image_features[queried], text_features, [inverse[i] for i in queried]
        )
        metrics.update(recalls(ranks["i2t"], "i2t"))
    metrics["mean_recall"] = float(np.mean(list(metrics.values())))
    return metrics, ranks
