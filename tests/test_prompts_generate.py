"""The LLM generator against a real HTTP server on 127.0.0.1, through the real ``openai`` client.

The server answers ``/v1/chat/completions`` in Chinese and, on a fixed schedule, with 429 (and
Retry-After) or 500, so the client's own retries are exercised; it can also fail hard or ignore
``n`` (as Ollama and llama.cpp do). Everything is offline and takes a few seconds.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import zlib
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from cnclip_eval.errors import UserError
from cnclip_eval.prompts.cleanup import clean_answers
from cnclip_eval.prompts.endpoint import EndpointConfig
from cnclip_eval.prompts.generate import GenerationRequest, generate_pack, plan_jobs
from cnclip_eval.prompts.pack import load_pack, validate_against

NAMES = ["丁鲷", "金鱼", "大白鲨", "虎鲨"]
SECRET = "sk-test-Zq9SECRETkey0123456789"
KEY_ENV = "CNCLIP_TEST_LLM_KEY"


class FakeLLM:
    """A tiny OpenAI-compatible chat server; records what it was asked."""

    def __init__(self, honour_n: bool = True, flaky: bool = True) -> None:
        self.honour_n, self.flaky = honour_n, flaky
        self.fail_after: int | None = None  # after this many answered requests, every request is 403
        self.lock = threading.Lock()
        self.requests = 0
        self.statuses: Counter = Counter()
        self.answered: Counter = Counter()  # user message -> answered (200) requests
        self.auth: set[str] = set()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def _decide(self, message: str) -> int:
        with self.lock:
            self.requests += 1
            i = self.requests
            if self.fail_after is not None and sum(self.answered.values()) >= self.fail_after:
                status = 403
            elif self.flaky and i % 7 == 3:
                status = 429
            elif self.flaky and i % 11 == 5:
                status = 500
            else:
                status = 200
                self.answered[message] += 1
            self.statuses[status] += 1
            return status

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep pytest's output clean
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.auth.add(self.headers.get("Authorization", ""))
                message = body["messages"][-1]["content"]
                status = fake._decide(message)
                if status == 200:
                    self._send(200, fake.completion(body, message))
                elif status == 403:
                    # a careless server that echoes the key: it must not reach our error messages
                    echo = self.headers.get("Authorization", "")
                    self._send(403, {"error": {"message": f"key {echo} may not use this model"}})
                else:
                    self._send(
                        status,
                        {"error": {"message": "slow down"}},
                        {"Retry-After": "0", "Retry-After-Ms": "1"},
                    )

            def _send(self, status: int, payload: dict, headers: dict | None = None) -> None:
                data = json.dumps(payload, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

        return Handler

    def completion(self, body: dict, message: str) -> dict:
        name = re.search(r"提到“(.+?)”", message).group(1)
        n = body.get("n", 1) if self.honour_n else 1
        seen = self.answered[message]
        tag = zlib.crc32(message.encode()) % 10_000  # answers differ between queries
        choices = [
            {
                "index": k,
                "message": {
                    "role": "assistant",
                    "content": f"{k + 1}. “{name}的样子{tag}，第{seen}轮第{k}个。”",
                },
                "finish_reason": "stop",
            }
            for k in range(n)
        ]
        return {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 0,
            "model": body["model"],
            "choices": choices,
        }

    def __enter__(self) -> FakeLLM:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def llm():
    with FakeLLM() as server:
        yield server


def make_request(server: FakeLLM, tmp_path, n: int = 3, names=NAMES, **kwargs) -> GenerationRequest:
    return GenerationRequest(
        dataset="fish",
        language="zh",
        classnames=tuple(names),
        llm_model="fake-qwen",
        cache_dir=tmp_path / "answers",
        endpoint=EndpointConfig(server.base_url, KEY_ENV, max_retries=10, timeout=5),
        n=n,
        concurrency=4,
        **kwargs,
    )


def test_generates_a_complete_pack_through_retries(llm, tmp_path, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)  # localhost needs no key
    pack = generate_pack(make_request(llm, tmp_path), progress=False)
    queries = len(plan_jobs(make_request(llm, tmp_path).checked())) // len(NAMES)
    validate_against(pack, NAMES)
    assert [len(c.descriptions) for c in pack.classes] == [3 * queries] * len(NAMES)
    assert llm.statuses[429] > 0 and llm.statuses[500] > 0  # the client retried them
    assert set(llm.answered.values()) == {1}  # every (class, query) answered exactly once
    first = pack.classes[1].descriptions[0]
    assert first.startswith("金鱼的样子") and not first.startswith(("1.", "“"))  # cleaned
    assert pack.generator.base_url_host == llm.base_url.split("/")[2]
    assert pack.generator.n == 3 and pack.generator.llm_model == "fake-qwen"
    assert "{max_chars}" in pack.generator.instruction and pack.generator.system  # reproducible header


def test_interrupted_run_resumes_without_asking_twice(llm, tmp_path, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    done = []

    def stop_after_five(job) -> None:
        done.append(job)
        if len(done) == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        generate_pack(make_request(llm, tmp_path), progress=False, on_job_done=stop_after_five)
    total = len(plan_jobs(make_request(llm, tmp_path).checked()))
    asked_before = sum(llm.answered.values())
    assert 5 <= asked_before < total
    pack = generate_pack(make_request(llm, tmp_path), progress=False)
    assert sum(llm.answered.values()) == total and set(llm.answered.values()) == {1}
    validate_against(pack, NAMES)
    # a third run is all cache: nothing asked, same content
    again = generate_pack(make_request(llm, tmp_path), progress=False)
    assert sum(llm.answered.values()) == total
    assert again.content_sha256 == pack.content_sha256


def test_hard_failure_names_the_request_hides_the_key_and_resumes(llm, tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, SECRET)
    llm.fail_after = 4
    with pytest.raises(UserError) as error:
        generate_pack(make_request(llm, tmp_path), progress=False)
    message = str(error.value)
    assert "query" in message and "class" in message and "resume" in message
    assert SECRET not in message and "***" in message
    assert f"Bearer {SECRET}" in llm.auth  # the key was sent, only to the server
    llm.fail_after = None
    pack = generate_pack(make_request(llm, tmp_path), progress=False)
    assert set(llm.answered.values()) == {1}
    validate_against(pack, NAMES)


def test_server_that_ignores_n_is_asked_again(tmp_path, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    with FakeLLM(honour_n=False, flaky=False) as server:
        pack = generate_pack(make_request(server, tmp_path, n=4, names=NAMES[:2]), progress=False)
    queries = len(pack.generator.queries)
    assert set(server.answered.values()) == {4}  # one answer per request, four requests each
    assert [len(c.descriptions) for c in pack.classes] == [4 * queries] * 2


def test_duplicate_names_are_asked_once_and_share_descriptions(llm, tmp_path, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    pack = generate_pack(make_request(llm, tmp_path, n=1, names=["金鱼", "丁鲷", "金鱼"]), progress=False)
    assert set(llm.answered.values()) == {1}
    assert pack.classes[0].descriptions == pack.classes[2].descriptions
    assert any("0, 2" in note for note in pack.notes)


def test_cli_generate_never_writes_or_logs_the_key(llm, tmp_path, monkeypatch, run_cli, caplog):
    monkeypatch.setenv(KEY_ENV, SECRET)
    (tmp_path / "names.txt").write_text("\n".join(NAMES) + "\n", encoding="utf-8")
    caplog.set_level(logging.DEBUG)
    out = tmp_path / "fish.zh.json"
    code, stdout, stderr = run_cli(
        "prompts", "-v", "generate", "--dataset", "fish", "--classnames", tmp_path / "names.txt",
        "--llm-model", "fake-qwen", "--base-url", llm.base_url, "--api-key-env", KEY_ENV,
        "--n", "2", "--max-retries", "10", "--timeout", "5", "--cache-dir", tmp_path / "answers",
        "--out", out, "--no-progress",
    )  # fmt: skip
    assert code == 0, stderr
    assert f"Bearer {SECRET}" in llm.auth
    pack = load_pack(out)
    assert pack.dataset == "fish" and len(pack.classes) == 4
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(written) > 4
    for path in written:
        assert SECRET not in path.read_text(encoding="utf-8"), path
    assert SECRET not in caplog.text + stdout + stderr
    assert any(r.name.startswith("openai") for r in caplog.records)  # the client's debug log was captured


def test_missing_key_for_a_remote_endpoint_names_the_variable(run_cli, tmp_path, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    (tmp_path / "names.txt").write_text("金鱼\n", encoding="utf-8")
    code, _, err = run_cli(
        "prompts", "generate", "--dataset", "fish", "--classnames", tmp_path / "names.txt",
        "--llm-model", "m", "--base-url", "https://llm.example.invalid/v1", "--api-key-env", KEY_ENV,
        "--cache-dir", tmp_path / "answers", "--out", tmp_path / "p.json", "--no-progress",
    )  # fmt: skip
    assert code == 2 and KEY_ENV in err and "Traceback" not in err
    assert "llm.example.invalid" in err


def test_dataset_outside_the_catalog_needs_classnames(run_cli, tmp_path):
    code, _, err = run_cli("prompts", "generate", "--dataset", "my_pets", "--llm-model", "m")
    assert code == 2 and "--classnames" in err


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (["1. “金鱼是橙色的。”\n2) 金鱼很小"], ["金鱼是橙色的。", "金鱼很小"]),
        (["<think>先想想</think>\n「丁鲷呈橄榄绿色」"], ["丁鲷呈橄榄绿色"]),
        (["1.5 米长的大白鲨", "- A goldfish is orange."], ["1.5 米长的大白鲨", "A goldfish is orange."]),
        (["金鱼很小", "  金鱼很小 ", None, "", "（3）金鱼很小"], ["金鱼很小"]),
    ],
)
def test_cleanup(raw, expected):
    assert clean_answers(raw) == expected
