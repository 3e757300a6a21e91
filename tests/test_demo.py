"""The demo model and dataset: the shipped split is what the generator makes, training is
deterministic, evaluation templates are unseen in training, and the model knows its shapes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from cnclip_eval.demo import captions, dataset, shapes, train
from cnclip_eval.demo.model import CHECKPOINT

from conftest import evaluate_demo_shapes


def test_evaluation_templates_are_unseen_in_training():
    assert not set(captions.EVAL_TEMPLATES_ZH) & set(captions.TRAIN_TEMPLATES_ZH)
    assert not set(captions.EVAL_TEMPLATES_EN) & set(captions.TRAIN_TEMPLATES_EN)


def test_shipped_split_is_the_generators_output():
    """The first shard's first 40 images, regenerated: same labels, same pixels up to JPEG codec drift."""
    import io
    import tarfile

    regenerated = shapes.make_samples(dataset.DATA_SEED, "test", 40)
    with tarfile.open(dataset.SHARDS_DIR / "test" / "0.tar") as archive:
        members = {m.name: archive.extractfile(m).read() for m in archive.getmembers()}
    for sample in regenerated:
        assert int(members[f"{sample.key}.cls"]) == sample.label
        shipped = np.asarray(Image.open(io.BytesIO(members[f"{sample.key}.jpg"])), dtype=np.float32)
        fresh = np.asarray(Image.open(io.BytesIO(sample.image)), dtype=np.float32)
        assert np.abs(shipped - fresh).mean() < 1.0, sample.key


def test_training_is_deterministic(tmp_path):
    config = train.TrainConfig(epochs=1, n_train=40, n_test=20, batch_size=20, warmup_steps=1, num_threads=1)
    data = train.prepare_data(config, tmp_path / "data")
    threads = torch.get_num_threads()
    try:  # training fixes the thread count and forbids nondeterministic kernels: undo that for other tests
        states = [
            {k: v.clone() for k, v in train.train(config, data[0]).state_dict().items()} for _ in range(2)
        ]
    finally:
        torch.use_deterministic_algorithms(False)
        torch.set_num_threads(threads)
    assert states[0].keys() == states[1].keys()
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])


def test_demo_model_scores_far_above_chance(run_cli, tmp_path):
    """A real measurement on the shipped data: 20 classes, chance is 5%."""
    assert CHECKPOINT.is_file(), "the demo checkpoint ships with the package"
    record = evaluate_demo_shapes(run_cli, tmp_path / "results")
    assert record["n_samples"] == 600
    assert record["metrics"]["top1"] >= 0.80, record["metrics"]


def test_a_kept_data_dir_from_other_settings_is_refused(tmp_path):
    small = train.TrainConfig(n_train=20, n_test=20)
    train.prepare_data(small, tmp_path / "data")
    with pytest.raises(SystemExit, match="generated with"):
        train.prepare_data(train.TrainConfig(n_train=40, n_test=20), tmp_path / "data")
    assert len(train.prepare_data(small, tmp_path / "data")[0][0]) == 20  # the same settings reuse it
