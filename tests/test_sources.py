"""Shards over HTTP (a server on 127.0.0.1): same numbers as the local folder; clear errors."""

from __future__ import annotations

import functools
import http.server
import threading

import pytest

from cnclip_eval.data.sources import HttpSource, open_source
from cnclip_eval.results import load_result


@pytest.fixture()
def http_root(shard_dir):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(shard_dir))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def test_http_shards_equal_local(run_cli, shard_dir, http_root, tmp_path):
    code, _, err = run_cli("--dataset", shard_dir, "--model", "tiny", "--output-dir", tmp_path / "local")
    assert code == 0, err
    code, _, err = run_cli(
        "--dataset", http_root, "--model", "tiny", "--output-dir", tmp_path / "http", "--num-workers", "2"
    )
    assert code == 0, err
    local = load_result(next((tmp_path / "local").glob(f"tiny__{shard_dir.name}__baseline*.json")))
    remote = next((tmp_path / "http").glob("*.json"))
    remote = load_result(remote)
    assert remote.metrics == local.metrics and remote.n_samples == local.n_samples
    assert remote.provenance["dataset"]["source"] == http_root


def test_http_missing_split_names_the_url(run_cli, http_root):
    code, _, err = run_cli("--dataset", http_root, "--model", "tiny", "--split", "train")
    assert code == 2
    assert f"{http_root}train/nshards.txt" in err.replace("//train", "/train")


def test_source_forms():
    """http(s) URLs are plain HTTP sources; hf:// ones go through huggingface_hub (tests/test_streaming.py)."""
    assert isinstance(open_source("https://example.org/wds"), HttpSource)
    assert HttpSource("https://example.org/wds/").url("test/0.tar") == "https://example.org/wds/test/0.tar"
