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


@pytest.mark.slow
def test_retrieval_under_two_ranks_equals_one_process(tmp_path, run_cli, monkeypatch):
    """The image chunks are dealt across ranks and gathered on rank 0: the same recalls and query ranks."""
    from test_cnclip_retrieval_data import jpeg, write_split
    from test_retrieval_task import NAMES

    images = {str(1000 + i): jpeg(i) for i in range(9)}
    texts = [
        {"text_id": t, "text": f"{NAMES[t % 4]}，第{t}张", "image_ids": [1000 + t % 9]} for t in range(12)
    ]
    folder = write_split(tmp_path / "flickr-tiny", images, texts, split="test")
    env = {k: v for k, v in os.environ.items() if k not in {"RANK", "WORLD_SIZE", "LOCAL_RANK"}}
    env["PYTHONPATH"] = os.pathsep.join([os.getcwd(), env.get("PYTHONPATH", "")])
    monkeypatch.setattr("cnclip_eval.tasks.retrieval.CHUNK", 4)
    code, _, err = run_cli("--dataset", folder, "--model", "tiny", "--output-dir", tmp_path / "single",
                           "--cache-dir", tmp_path / "c1")  # fmt: skip
    assert code == 0, err
    # torchrun runs a module or a script: a script sets the chunk size (three chunks over two ranks)
    script = tmp_path / "run.py"
    script.write_text(
        "import runpy, sys\nimport cnclip_eval.tasks.retrieval as r\nr.CHUNK = 4\n"
        "sys.argv = ['cnclip-eval'] + sys.argv[1:]\nrunpy.run_module('cnclip_eval', run_name='__main__')\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(script),
         "--dataset", str(folder), "--model", "tiny", "--device", "cpu", "--output-dir", str(tmp_path / "multi"),
         "--cache-dir", str(tmp_path / "c2")],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    [single] = (tmp_path / "single").glob("*.json")
    multi = tmp_path / "multi" / single.name
    a, b = load_result(single), load_result(multi)
    assert a.metrics == b.metrics
    assert b.provenance["image_features"]["chunks_computed"] == 3
    pa, pb = load_predictions(single), load_predictions(multi)
    np.testing.assert_array_equal(pa.keys, pb.keys)
    np.testing.assert_array_equal(pa.ranks, pb.ranks)
