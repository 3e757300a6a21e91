"""Remote shards through the libraries: hf:// via huggingface_hub's HfFileSystem (token kept on the
hub, revision pinned and recorded), http(s) via requests with bounded reconnects from the byte reached.

Servers run on 127.0.0.1 only, stop with the test, and answer a bounded number of requests."""

from __future__ import annotations

import email.utils
import http.server
import json
import re
import threading
from pathlib import Path

import numpy as np
import pytest

from cnclip_eval.results import load_result

from conftest import assert_clean_error

SHA = "0123456789abcdef0123456789abcdef01234567"
TOKEN = "hf_test_token_never_leaves_the_hub"


class Server:
    """A ThreadingHTTPServer on 127.0.0.1 whose GETs and HEADs go to ``answer(handler)``; it records
    each GET's path, Authorization and Range headers."""

    def __init__(self, answer) -> None:
        seen = self.seen = []

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802 (http.server's name)
                if self.command == "GET":  # HEADs ask for a file's version only
                    seen.append((self.path, self.headers.get("Authorization"), self.headers.get("Range")))
                answer(self)

            do_HEAD = do_GET  # noqa: N815

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def send(handler, status: int, body: bytes = b"", headers: dict | None = None) -> None:
    handler.send_response(status)
    for name, value in {"Content-Length": str(len(body)), **(headers or {})}.items():
        handler.send_header(name, value)
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(body)


def serve_file(handler, root: Path, relpath: str, drop_at: dict | None = None) -> None:
    """The file, honouring ``Range: bytes=N-``; ``drop_at[relpath] = n`` cuts the body after n bytes once."""
    path = root / relpath
    if not path.is_file():
        return send(handler, 404, b"not found")
    data = path.read_bytes()
    start = int(re.match(r"bytes=(\d+)-", handler.headers.get("Range", "bytes=0-")).group(1))
    status = 206 if start else 200
    body = data[start:]
    modified = email.utils.formatdate(path.stat().st_mtime, usegmt=True)  # as a static file server says
    headers = {"Content-Length": str(len(body)), "Accept-Ranges": "bytes", "Last-Modified": modified}
    if start:
        headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
    cut = None if handler.command == "HEAD" else (drop_at if drop_at is not None else {}).pop(relpath, None)
    handler.send_response(status)
    for name, value in headers.items():
        handler.send_header(name, value)
    handler.end_headers()
    if handler.command == "HEAD":
        return None
    if cut is None:
        handler.wfile.write(body)
        return None
    handler.wfile.write(body[:cut])  # then the connection drops mid-body
    handler.wfile.flush()
    handler.close_connection = True
    handler.connection.shutdown(2)
    return None


@pytest.fixture()
def cdn(shard_dir):
    """The host large files are redirected to (as the hub's CDN): serves the shard folder."""
    server = Server(lambda h: serve_file(h, shard_dir, h.path.split("?")[0].removeprefix("/files/")))
    yield server
    server.close()


@pytest.fixture()
def hub(cdn, shard_dir, monkeypatch):
    """A hub: revision info for the repo, and every file redirected to the CDN host."""
    repo = "owner/wds_tiny"

    def answer(handler):
        path = handler.path.split("?")[0]
        info = re.fullmatch(rf"/api/datasets/{repo}/revision/([^/]+)", path)
        if info:
            if info.group(1) not in ("main", "v1", SHA):
                return send(
                    handler, 404, b'{"error": "Revision Not Found"}', {"X-Error-Code": "RevisionNotFound"}
                )
            body = json.dumps({"id": repo, "sha": SHA, "siblings": []}).encode()
            return send(handler, 200, body, {"Content-Type": "application/json"})
        resolve = re.fullmatch(rf"/datasets/{repo}/resolve/{SHA}/(.+)", path)
        if resolve and (shard_dir / resolve.group(1)).is_file():
            return send(handler, 302, b"", {"Location": f"{cdn.url}/files/{resolve.group(1)}"})
        if resolve:  # as the hub answers for a file the repo does not have
            return send(handler, 404, b"Entry not found", {"X-Error-Code": "EntryNotFound"})
        return send(handler, 404, b"not found")

    server = Server(answer)
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    yield server, repo
    server.close()


def test_hf_shards_keep_the_token_on_the_hub_and_record_the_commit(run_cli, shard_dir, hub, cdn, tmp_path):
    server, repo = hub
    code, _, err = run_cli("--dataset", f"hf://{repo}", "--model", "tiny", "--output-dir", tmp_path / "hf")
    assert code == 0, err
    assert any(auth == f"Bearer {TOKEN}" for _, auth, _ in server.seen)  # the hub gets the token ...
    assert cdn.seen and all(auth is None for _, auth, _ in cdn.seen)  # ... the redirect target never does
    remote = load_result(next((tmp_path / "hf").glob("*.json")))
    assert remote.provenance["dataset"]["source"] == f"hf://{repo}@{SHA}"
    code, _, err = run_cli("--dataset", shard_dir, "--model", "tiny", "--output-dir", tmp_path / "local")
    local = load_result(next((tmp_path / "local").glob("*.json")))
    assert remote.metrics == local.metrics and remote.n_samples == local.n_samples


def test_hf_revision_can_be_pinned_and_an_unknown_one_is_one_line(run_cli, hub, tmp_path):
    server, repo = hub
    code, _, err = run_cli("--dataset", f"hf://{repo}@v1", "--model", "tiny", "--output-dir", tmp_path / "o")
    assert code == 0, err
    assert any(path.endswith("/revision/v1") for path, _, _ in server.seen)
    code, _, err = run_cli(
        "--dataset", f"hf://{repo}@nope", "--model", "tiny", "--output-dir", tmp_path / "o2"
    )
    assert_clean_error(code, err, f"hf://{repo}@nope", "--data-root")


@pytest.fixture()
def flaky(shard_dir):
    """A plain server that drops the connection once in the middle of every shard."""
    shards = sorted(p.relative_to(shard_dir).as_posix() for p in (shard_dir / "test").glob("*.tar"))
    drop_at = {relpath: (shard_dir / relpath).stat().st_size // 2 for relpath in shards}
    server = Server(lambda h: serve_file(h, shard_dir, h.path.lstrip("/"), drop_at))
    yield server, drop_at
    server.close()


def test_a_connection_dropped_mid_shard_gives_the_same_features(run_cli, shard_dir, flaky, tmp_path):
    from cnclip_eval.data.resolve import DatasetRequest, resolve_dataset
    from cnclip_eval.image_features import compute_features, feature_cache_for
    from cnclip_eval.models import ModelRequest, load_model

    server, drop_at = flaky
    model = load_model(ModelRequest("tiny"))
    features = {}
    for name, where in (("unbroken", str(shard_dir)), ("dropped", server.url + "/")):
        dataset = resolve_dataset(DatasetRequest(where))
        cache = feature_cache_for(model, dataset, tmp_path / name, "fp32", None)
        features[name] = compute_features(
            model, dataset, cache, batch_size=4, num_workers=0, precision="fp32", limit=None, progress=False
        )
    assert not drop_at  # every shard was cut once
    resumed = [(path, byte_range) for path, _, byte_range in server.seen if byte_range]
    assert len(resumed) == len(list((shard_dir / "test").glob("*.tar")))  # one reconnect per shard, ...
    assert all(byte_range != "bytes=0-" for _, byte_range in resumed)  # ... from the byte reached
    a, b = features["unbroken"], features["dropped"]
    assert list(a.keys) == list(b.keys)  # each sample exactly once, in order
    np.testing.assert_array_equal(a.features.numpy(), b.features.numpy())


def test_reconnects_are_bounded(run_cli, shard_dir, tmp_path, monkeypatch):
    """A server that always drops mid-body: a few reconnects, then one line naming the shard's URL."""
    monkeypatch.setattr("cnclip_eval.data.sources.HTTP_RETRIES", 2)

    class Always(dict):
        def pop(self, key, default=None):
            return 100 if key.endswith(".tar") else default

    server = Server(lambda h: serve_file(h, shard_dir, h.path.lstrip("/"), Always()))
    try:
        code, _, err = run_cli("--dataset", server.url + "/", "--model", "tiny", "--num-workers", "0",
                               "--output-dir", tmp_path / "o")  # fmt: skip
    finally:
        server.close()
    assert_clean_error(code, err, "/test/0.tar", "dropped 3 times")
    assert sum(path.endswith("0.tar") for path, _, _ in server.seen) == 3


def test_a_shard_rewritten_on_an_http_server_is_encoded_again(run_cli, tmp_path):
    """The server's Last-Modified / Content-Length / ETag key the feature cache, as size and mtime do
    for a local folder: a rebuilt shard behind the same URL is never served old features."""
    import os

    from conftest import make_dataset

    root = make_dataset(tmp_path / "wds", n=12, num_shards=2, seed=1)
    server = Server(lambda h: serve_file(h, root, h.path.lstrip("/")))
    try:
        argv = ["--dataset", server.url + "/", "--model", "tiny", "--num-workers", "0"]
        code, _, err = run_cli(*argv, "--output-dir", tmp_path / "a")
        assert code == 0, err
        first = load_result(next((tmp_path / "a").glob("*.json")))
        make_dataset(root, n=12, num_shards=2, seed=2)  # other images behind the same URLs
        for shard in (root / "test").glob("*.tar"):
            os.utime(shard, (1_900_000_000, 1_900_000_000))  # a later Last-Modified, whatever the clock
        code, _, err = run_cli(*argv, "--output-dir", tmp_path / "b")
        assert code == 0, err
        second = load_result(next((tmp_path / "b").glob("*.json")))
    finally:
        server.close()
    assert (
        second.provenance["image_features"]["shards_computed"] == 2
    )  # encoded again, not read from the cache
    assert first.provenance["image_features"]["cache_key"] != second.provenance["image_features"]["cache_key"]
