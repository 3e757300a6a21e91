"""Retrieval shards from a Hugging Face dataset repo (hf://, through the fake hub of
test_streaming.py): converted MUGE-like shards give the same metrics as the local folder, their
texts.jsonl included, with the revision pinned in the result."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_convert_retrieval import cnclip, evaluate  # noqa: F401 (a fixture)
from test_streaming import SHA, cdn, hub  # noqa: F401 (fixtures)


@pytest.fixture()
def shard_dir(run_cli, cnclip, tmp_path) -> Path:  # noqa: F811 (what the fake hub serves)
    code, _, err = run_cli("convert", cnclip, "--out", tmp_path / "wds")
    assert code == 0, err
    return tmp_path / "wds"


def test_hf_retrieval_shards_equal_the_local_folder(run_cli, shard_dir, hub, tmp_path):  # noqa: F811
    _, repo = hub
    remote = evaluate(run_cli, tmp_path / "hf", "--dataset", "muge", "--data-root", f"hf://{repo}")
    local = evaluate(run_cli, tmp_path / "local", "--dataset", "muge", "--data-root", shard_dir)
    assert remote.metrics == local.metrics and remote.n_samples == local.n_samples == 14
    assert remote.provenance["dataset"]["source"] == f"hf://{repo}@{SHA}"
    assert remote.provenance["dataset"]["texts"] == "valid/texts.jsonl"
    direct = evaluate(run_cli, tmp_path / "direct", "--dataset", f"hf://{repo}")
    assert direct.dataset == repo.rpartition("/")[2] and direct.metrics["t2i_r1"] == local.metrics["t2i_r1"]
