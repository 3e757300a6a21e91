"""torchrun with 2 CPU processes (gloo): each sample once, numbers identical to a single process."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from cnclip_eval.results import load_predictions, load_result

from conftest import make_dataset, result_file


@pytest.mark.slow
def test_two_ranks_equal_one_process(tmp_path, run_cli):
    data = make_dataset(tmp_path / "wds", n=29, num_shards=3)
    single = tmp_path / "single"
    code, _, err = run_cli(
        "--dataset",
        data,
        "--model",
        "tiny",
        "--output-dir",
        single,
        "--num-workers",
        "0",
        "--cache-dir",
        tmp_path / "c1",
    )
    assert code == 0, err
    env = {k: v for k, v in os.environ.items() if k not in {"RANK", "WORLD_SIZE", "LOCAL_RANK"}}
    env["PYTHONPATH"] = os.pathsep.join([os.getcwd(), env.get("PYTHONPATH", "")])
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "cnclip_eval",
        "--dataset",
        str(data),
        "--model",
        "tiny",
        "--device",
        "cpu",
        "--output-dir",
        str(tmp_path / "multi"),
        "--num-workers",
        "1",
        "--cache-dir",
        str(tmp_path / "c2"),
    ]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("| tiny") == 1  # only rank 0 prints the table
    name = result_file(single, "tiny", data.name).name
    a, b = load_result(single / name), load_result(tmp_path / "multi" / name)
    assert a.n_samples == b.n_samples == 29
    assert a.metrics == b.metrics
    assert b.provenance["image_features"]["ranks"] == 2
    pa, pb = load_predictions(single / name), load_predictions(tmp_path / "multi" / name)
    np.testing.assert_array_equal(pa.keys, pb.keys)
    np.testing.assert_array_equal(pa.topk, pb.topk)
