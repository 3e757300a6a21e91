"""Our logits equal CN-CLIP's own pipeline and CLIP_benchmark's on the same model and images."""

from __future__ import annotations

import io
import tarfile

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cnclip_eval.config import MethodSpec
from cnclip_eval.data.resolve import DatasetRequest, resolve_dataset
from cnclip_eval.engine import LOGIT_SCALE, prepare_methods
from cnclip_eval.features import ClassifierCache
from cnclip_eval.image_features import compute_features, feature_cache_for
from cnclip_eval.tasks.classification import build_classifier
from cnclip_eval.text import TextEncoder


@pytest.fixture(scope="module")
def ours(tiny_model, shard_dir, tmp_path_factory):
    """(logits (N, C), labels, keys) from the harness's own path."""
    cache_root = tmp_path_factory.mktemp("cache")
    dataset = resolve_dataset(DatasetRequest(str(shard_dir)))
    cache = feature_cache_for(tiny_model, dataset, cache_root, "fp32", None)
    images = compute_features(
        tiny_model, dataset, cache, batch_size=8, num_workers=2, precision="fp32", limit=None, progress=False
    )
    [(spec, method, options)] = prepare_methods((MethodSpec("baseline"),))
    encoder = TextEncoder(tiny_model, "cpu", batch_size=7)
    weights, _, _ = build_classifier(
        tiny_model, dataset, spec, method, options, encoder, ClassifierCache(cache_root), "fp32"
    )
    logits = LOGIT_SCALE * images.features @ weights.T
    return logits, images.labels, images.keys, dataset


def reference_cn_clip(model, shard_dir, dataset):
    """A plain reference from cn_clip's own image_transform, tokenize, encode_image, encode_text."""
    from cn_clip.clip import image_transform, tokenize
    from PIL import Image

    transform = image_transform(model.image_size)
    images, labels = [], []
    for shard in sorted((shard_dir / "test").glob("*.tar"), key=lambda p: int(p.stem)):
        with tarfile.open(shard) as archive:
            members = sorted(archive.getmembers(), key=lambda m: m.name)
            for member in members:
                key, ext = member.name.split(".", 1)
                if ext in ("webp", "jpg"):
                    image = Image.open(io.BytesIO(archive.extractfile(member).read())).convert("RGB")
                    images.append(transform(image))
                    labels.append(int(archive.extractfile(f"{key}.cls").read()))
    module = model.module
    with torch.no_grad():
        image_features = F.normalize(module.encode_image(torch.stack(images)), dim=-1)
        class_vectors = []
        for name in dataset.classnames:
            tokens = tokenize([t.format(c=name) for t in dataset.templates])
            embedding = F.normalize(module.encode_text(tokens), dim=-1).mean(dim=0)
            class_vectors.append(embedding / embedding.norm())
        classifier = torch.stack(class_vectors)  # (C, D)
    return 100.0 * image_features @ classifier.T, np.array(labels)


def test_matches_cn_clip_reference(ours, tiny_model, shard_dir):
    logits, labels, _, dataset = ours
    reference, reference_labels = reference_cn_clip(tiny_model, shard_dir, dataset)
    np.testing.assert_array_equal(labels, reference_labels)
    assert torch.max(torch.abs(logits - reference)).item() <= 1e-4
    assert torch.equal(logits.argmax(1), reference.argmax(1))


def test_matches_clip_benchmark(ours, tiny_model, shard_dir):
    from clip_benchmark.datasets.builder import build_wds_dataset
    from clip_benchmark.metrics.zeroshot_classification import run_classification, zero_shot_classifier
    from cn_clip.clip import tokenize

    logits, labels, _, dataset = ours
    wds_dataset = build_wds_dataset(
        "tiny", tiny_model.image_transform(), split="test", data_dir=str(shard_dir)
    )
    loader = torch.utils.data.DataLoader(wds_dataset.batched(8), batch_size=None, num_workers=0)
    classifier = zero_shot_classifier(
        tiny_model.module, tokenize, wds_dataset.classes, wds_dataset.templates, "cpu", amp=False
    )  # (D, C)
    theirs, target = run_classification(tiny_model.module, classifier, loader, "cpu", amp=False)
    np.testing.assert_array_equal(labels, target.numpy())
    assert torch.max(torch.abs(logits - theirs)).item() <= 1e-4
    assert torch.equal(logits.argmax(1), theirs.argmax(1))
