"""Issue 14's fault cases, one promise per test, in the issue's order.

Each test failed on the code before its fix. Bad input gets one line naming the file, shard, key,
line or flag, exit code 2, no traceback, and every earlier result stays intact.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from cnclip_eval.results import ResultRecord, save_result

from conftest import assert_clean_error


def write_record(folder: Path, dataset: str, score: float, padding: int = 0) -> Path:
    """A result file; ``padding`` bytes of provenance push the schema marker past any short read."""
    record = ResultRecord(
        "M", dataset, "test", "baseline", "baseline", "top1", {"top1": score}, 10,
        provenance={"dataset": {"shards": [f"test/{i}.tar" for i in range(padding // 16)]}},
    )  # fmt: skip
    return save_result(record, None, folder)


def baseline_board(tmp_path: Path, dataset: str, score: float) -> Path:
    from cnclip_eval.report.leaderboard import Entry, build_leaderboard
    from cnclip_eval.report.render import to_json

    record = ResultRecord("M", dataset, "test", "baseline", "baseline", "top1", {"top1": score}, 10)
    path = tmp_path / "baseline.json"
    path.write_text(json.dumps(to_json(build_leaderboard([Entry(record)], confidence=False))))
    return path


# 1. folder scans see every result


def test_folder_scan_reads_results_larger_than_4kib(run_cli, tmp_path):
    """A result file over 4 KiB in a folder is read by `check`, so its top-1 of 0 fails the gate."""
    results = tmp_path / "results"
    path = write_record(results, "big", 0.0, padding=8000)
    assert path.stat().st_size > 4096
    baseline = baseline_board(tmp_path, "big", 0.9)
    code, out, err = run_cli("check", results, "--baseline", baseline)
    assert code == 1, out + err
    assert "dropped" in out


def test_folder_scan_names_files_that_are_not_results(tmp_path, caplog):
    """A JSON in a results folder that is not a result is named in a warning, not silently skipped."""
    from cnclip_eval.report.collect import result_files

    results = tmp_path / "results"
    write_record(results, "d", 0.5)
    (results / "notes.json").write_text('{"hello": 1}', encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        files = result_files([results])
    assert [f.name for f in files] == ["M__d__baseline.json"]
    assert "notes.json" in caplog.text


# 2. distinct inputs, distinct result files


def run_tiny(run_cli, dataset, out, *extra):
    return run_cli(
        "--dataset", dataset, "--model", "tiny", "--output-dir", out, "--num-workers", "0", *extra
    )  # fmt: skip


def leaderboard_json(run_cli, results: Path) -> dict:
    code, out, err = run_cli("leaderboard", results, "--format", "json", "--no-confidence")
    assert code == 0, err
    return json.loads(out)


def test_two_folders_of_one_name_give_two_results_and_two_columns(run_cli, tmp_path):
    """Two shard folders both called ``shards`` give two result files and two labelled columns."""
    from conftest import make_dataset

    a = make_dataset(tmp_path / "a" / "shards", n=8, num_shards=1, seed=1)
    b = make_dataset(tmp_path / "b" / "shards", n=8, num_shards=1, seed=2)
    out = tmp_path / "r"
    for folder in (a, b):
        code, _, err = run_tiny(run_cli, folder, out)
        assert code == 0, err
    assert len(list(out.glob("*.json"))) == 2
    board = leaderboard_json(run_cli, out)
    assert len(board["datasets"]) == 2 and all(d.startswith("shards [") for d in board["datasets"])


def test_method_options_give_distinct_results_and_rows(run_cli, shard_dir, tmp_path):
    """`--bilingual-weight 0` then `1` give two result files and two rows that name the weight."""
    from conftest import CLASSNAMES_EN

    english = tmp_path / "en.txt"
    english.write_text("\n".join(CLASSNAMES_EN) + "\n", encoding="utf-8")
    out = tmp_path / "r"
    for weight in ("0", "1"):
        code, _, err = run_tiny(
            run_cli, shard_dir, out, "--method", "bilingual", "--classnames-en", english,
            "--bilingual-weight", weight,
        )  # fmt: skip
        assert code == 0, err
    assert len(list(out.glob("*.json"))) == 2
    methods = {row["method"] for row in leaderboard_json(run_cli, out)["rows"]}
    assert methods == {"bilingual(weight=0)", "bilingual(weight=1)"}


def test_one_catalog_dataset_with_two_class_name_lists_gives_two_results(run_cli, tmp_path):
    """A suite listing ``demo-shapes`` twice, once with other class names, writes two results."""
    from cnclip_eval.data.catalog import find_spec

    names = tmp_path / "names.txt"
    names.write_text("\n".join(f"类别{i}" for i in range(find_spec("demo-shapes").num_classes)) + "\n")
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        "version: 1\nmodels: [tiny]\nmethods: [baseline]\nsettings: {num_workers: 0, limit: 8}\n"
        f"datasets:\n  - demo-shapes\n  - {{name: demo-shapes, classnames: {names}}}\n",
        encoding="utf-8",
    )
    code, out, err = run_cli("run", suite, "--output-dir", tmp_path / "r")
    assert code == 0, err
    assert len(list((tmp_path / "r").glob("*.json"))) == 2


def test_a_true_collision_is_refused_before_any_work(run_cli, shard_dir, tmp_path, no_model):
    """A suite whose two entries would write one file is refused before any model is loaded."""
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        f"version: 1\nmodels: [tiny, tiny]\ndatasets: [{shard_dir}]\nmethods: [baseline]\n", encoding="utf-8"
    )
    code, _, err = run_cli("run", suite, "--output-dir", tmp_path / "r")
    assert_clean_error(code, err, "would both be written to", "tiny__")
    assert not (tmp_path / "r").exists()


# 3. skip-existing uses the caches' own fingerprint


def run_suite(run_cli, tmp_path, model: str, dataset: Path) -> ResultRecord:
    from cnclip_eval.results import load_result

    suite = tmp_path / "suite.yaml"
    suite.write_text(
        f"version: 1\nmodels: [{model}]\ndatasets: [{dataset}]\nmethods: [baseline]\n"
        "settings: {num_workers: 0}\n",
        encoding="utf-8",
    )
    code, _, err = run_cli("run", suite, "--output-dir", tmp_path / "r")
    assert code == 0, err
    [path] = (tmp_path / "r").glob("*.json")
    return load_result(path)


def test_a_shard_folder_rebuilt_in_place_is_evaluated_again(run_cli, tmp_path):
    """`run` does not serve the old result once the shard folder has been rebuilt in place."""
    from conftest import make_dataset

    folder = make_dataset(tmp_path / "shards", n=8, num_shards=1)
    assert run_suite(run_cli, tmp_path, "tiny", folder).n_samples == 8
    make_dataset(folder, n=11, num_shards=1, seed=3)
    assert run_suite(run_cli, tmp_path, "tiny", folder).n_samples == 11


def test_a_replaced_checkpoint_is_evaluated_again(run_cli, tmp_path, shard_dir):
    """`run` does not serve the old result once the checkpoint file has been replaced."""
    import torch

    from cnclip_eval.fileio import sha256_file
    from cnclip_eval.models import ModelRequest, load_model

    checkpoint = tmp_path / "ckpt.pt"
    model = "{name: " + str(checkpoint) + ", arch: tiny-vit@tiny-bert}"
    for seed in (0, 1):
        torch.save(load_model(ModelRequest("tiny", seed=seed)).module.state_dict(), checkpoint)
        record = run_suite(run_cli, tmp_path, model, shard_dir)
        assert record.provenance["model"]["weights_sha256"] == sha256_file(checkpoint)


# 4. a blank line in a folder's classnames.txt


def test_a_blank_line_in_a_folders_classnames_is_refused(run_cli, tmp_path, no_model):
    """A blank line inside ``classnames.txt`` is refused naming the file and line, as for --classnames."""
    from conftest import make_dataset

    folder = make_dataset(tmp_path / "shards", n=6, num_shards=1)
    names = (folder / "classnames.txt").read_text(encoding="utf-8").splitlines()
    (folder / "classnames.txt").write_text("\n".join([names[0], "", *names[1:]]) + "\n", encoding="utf-8")
    code, _, err = run_tiny(run_cli, folder, tmp_path / "r")
    assert_clean_error(code, err, "classnames.txt", "empty class name at line(s) 2")


# 5. a shard cut short, or empty, is refused


def _tar_bytes(members: list[tuple[str, bytes]], terminated: bool = True) -> bytes:
    """A tar archive of ``members``; unterminated: cut right after the last member (no end blocks)."""
    import io
    import tarfile

    buffer = io.BytesIO()
    archive = tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT)  # noqa: SIM115 (closed below, after its offset is read)
    for name, data in members:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    end_of_members = archive.offset
    archive.close()
    return buffer.getvalue() if terminated else buffer.getvalue()[:end_of_members]


def _replace_last_shard(root: Path, data: bytes) -> Path:
    shards = sorted((root / "test").glob("*.tar"), key=lambda p: int(p.stem))
    shards[-1].write_bytes(data)
    return shards[-1]


@pytest.mark.parametrize(
    ("how", "fragment"),
    [("cut", "end-of-archive marker"), ("empty", "empty tar archive"), ("zero-bytes", "not a readable tar")],
)
def test_a_shard_cut_at_a_member_boundary_or_empty_is_refused(run_cli, tmp_path, how, fragment):
    """Cut exactly after a member, a shard reads as a valid shorter stream unless its end blocks are
    checked; an archive with no files, or no bytes, is an error too. The shard is named."""
    from conftest import make_dataset

    root = make_dataset(tmp_path / "wds", n=12, num_shards=2)
    whole = sorted((root / "test").glob("*.tar"), key=lambda p: int(p.stem))[-1].read_bytes()
    members = []
    with __import__("tarfile").open(fileobj=__import__("io").BytesIO(whole)) as archive:
        for member in archive.getmembers():
            members.append((member.name, archive.extractfile(member).read()))
    data = {
        "cut": _tar_bytes(members[:4], terminated=False),
        "empty": _tar_bytes([]),
        "zero-bytes": b"",
    }[how]
    shard = _replace_last_shard(root, data)
    code, _, err = run_cli("--model", "tiny", "--dataset", root, "--output-dir", tmp_path / "out")
    assert_clean_error(code, err, shard.name, fragment)
    assert not (tmp_path / "out").exists()


def test_a_terminated_shard_with_the_same_members_is_read(tmp_path):
    """The check refuses only what lacks the marker: the same members, properly ended, read in full."""
    import io

    from cnclip_eval.data.shards import group_samples, tar_members

    members = [("a.cls", b"0"), ("a.jpg", b"x"), ("b.cls", b"1"), ("b.jpg", b"y")]
    samples = list(group_samples(tar_members(io.BytesIO(_tar_bytes(members)), "s.tar"), "s.tar"))
    assert [s["__key__"] for s in samples] == ["a", "b"]


# 6. damaged cache entries are recomputed


def damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    damaged = {
        "truncated": data[: len(data) // 2],
        "flipped": data[: len(data) // 2] + bytes([data[len(data) // 2] ^ 0xFF]) + data[len(data) // 2 + 1 :],
        "empty": b"",
    }[how]
    path.write_bytes(damaged)


@pytest.mark.parametrize("how", ["truncated", "flipped", "empty"])
@pytest.mark.parametrize("kind", ["features", "classifiers"])
def test_a_damaged_cache_entry_is_named_and_recomputed(run_cli, shard_dir, tmp_path, kind, how, caplog):
    """A damaged feature or classifier cache file is named in a warning, recomputed, and the run goes on."""
    from cnclip_eval.results import load_result

    cache = tmp_path / "cache"
    code, _, err = run_tiny(run_cli, shard_dir, tmp_path / "r1", "--cache-dir", cache)
    assert code == 0, err
    entries = sorted((cache / kind).rglob("*.npz"))
    assert entries
    for entry in entries:
        damage(entry, how)
    with caplog.at_level(logging.WARNING):
        code, _, err = run_tiny(run_cli, shard_dir, tmp_path / "r2", "--cache-dir", cache)
    assert code == 0, err
    assert "damaged cache entry" in caplog.text and str(entries[0]) in caplog.text
    [first], [second] = (list((tmp_path / r).glob("*.json")) for r in ("r1", "r2"))
    assert load_result(first).metrics == load_result(second).metrics
    caplog.clear()
    code, _, err = run_tiny(run_cli, shard_dir, tmp_path / "r3", "--cache-dir", cache)
    assert code == 0 and "damaged" not in caplog.text  # the recomputed entries were written back


# 7. LLM generation: empty and malformed answers, language, shared descriptions


class ScriptedLLM:
    """An OpenAI-compatible chat server on 127.0.0.1 whose replies follow ``script``: each entry is
    "empty" (a completion with no text), "garbage" (a 200 whose body is not JSON), "english" (an
    answer in English) or "ok" (a Chinese sentence naming the class); the last entry repeats."""

    def __init__(self, script: list[str]) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.script, self.requests, self.lock = list(script), 0, threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                data = fake.reply(body)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def reply(self, body: dict) -> bytes:
        import re

        with self.lock:
            kind = self.script[min(self.requests, len(self.script) - 1)]
            self.requests += 1
        if kind == "garbage":
            return b"<html>502 Bad Gateway</html>"
        message = body["messages"][-1]["content"]
        name = (re.search(r"提到“(.+?)”", message) or re.search(r'"(.+?)"', message)).group(1)
        text = {"empty": "", "english": f"A photo of a {name} in the sea.", "ok": f"{name}在水里游。"}[kind]
        choices = [
            {"index": k, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
            for k in range(body.get("n", 1))
        ]
        payload = {
            "id": "c",
            "object": "chat.completion",
            "created": 0,
            "model": body["model"],
            "choices": choices,
        }
        return json.dumps(payload, ensure_ascii=False).encode()

    def __enter__(self) -> ScriptedLLM:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def generation_request(server: ScriptedLLM, tmp_path: Path, names=("金鱼",)):
    from cnclip_eval.prompts.endpoint import EndpointConfig
    from cnclip_eval.prompts.generate import GenerationRequest

    return GenerationRequest(
        "fish", "zh", tuple(names), "fake", tmp_path / "answers",
        EndpointConfig(f"http://127.0.0.1:{server.server.server_address[1]}/v1", max_retries=0, timeout=5),
        n=1, concurrency=1, queries=("描述一下{c}",),
    )  # fmt: skip


def test_empty_completions_are_asked_again_not_cached(tmp_path):
    """An empty completion is not an answer: it is asked again, and never cached as one."""
    from cnclip_eval.prompts.generate import generate_pack

    with ScriptedLLM(["empty", "ok"]) as server:
        pack = generate_pack(generation_request(server, tmp_path), progress=False)
    assert pack.classes[0].descriptions == ("金鱼在水里游。",)


def test_empty_answers_cached_before_are_asked_again(tmp_path):
    """Answers cached empty by an earlier run do not count: the next run asks again."""
    from cnclip_eval.prompts.answer_cache import AnswerCache
    from cnclip_eval.prompts.generate import generate_pack, plan_jobs

    with ScriptedLLM(["ok"]) as server:
        request = generation_request(server, tmp_path)
        [job] = plan_jobs(request.checked())
        AnswerCache(request.cache_dir).save(job.key, {}, [""])
        pack = generate_pack(request, progress=False)
        assert server.requests == 1
    assert pack.classes[0].descriptions == ("金鱼在水里游。",)


def test_a_reply_that_is_not_json_is_asked_again_then_named(tmp_path):
    """A reply that is not JSON is asked again (bounded); if it persists, one error names the request."""
    from cnclip_eval.errors import UserError
    from cnclip_eval.prompts.generate import generate_pack

    with ScriptedLLM(["garbage", "ok"]) as server:
        pack = generate_pack(generation_request(server, tmp_path), progress=False)
    assert pack.classes[0].descriptions == ("金鱼在水里游。",)
    with ScriptedLLM(["garbage"]) as server, pytest.raises(UserError, match="金鱼") as error:
        generate_pack(generation_request(server, tmp_path / "again"), progress=False)
    assert server.requests == 3 and "not JSON" in str(error.value)


def test_english_answers_in_a_chinese_pack_are_flagged(tmp_path, caplog):
    """Generating a zh pack warns, naming the class, when answers are not in Chinese."""
    from cnclip_eval.prompts.generate import generate_pack

    with ScriptedLLM(["english"]) as server, caplog.at_level(logging.WARNING):
        generate_pack(generation_request(server, tmp_path), progress=False)
    assert "not in Chinese" in caplog.text and "金鱼" in caplog.text


def write_pack(path: Path, descriptions: dict[str, list[str]], language: str = "zh") -> Path:
    from cnclip_eval.prompts.pack import GeneratorInfo, PackClass, make_pack, save_pack

    classes = [PackClass(i, name, tuple(texts)) for i, (name, texts) in enumerate(descriptions.items())]
    save_pack(
        make_pack("fish", language, GeneratorInfo("import", "manual", "2026-12-01", "test"), classes, []),
        path,
    )
    return path


@pytest.mark.parametrize(
    ("descriptions", "problem"),
    [
        (
            {"金鱼": ["水里的鱼。", "金鱼是橙色的。"], "丁鲷": ["水里的鱼。", "丁鲷是绿色的。"]},
            "shared with another class",
        ),
        ({"金鱼": ["A goldfish is orange.", "金鱼是橙色的。"], "丁鲷": ["丁鲷是绿色的。"]}, "not in Chinese"),
    ],
)
def test_prompts_check_refuses_shared_and_wrong_language_descriptions(
    run_cli, tmp_path, descriptions, problem
):
    """`prompts check` fails a pack whose classes share a description, or a zh pack with English text."""
    pack = write_pack(tmp_path / "fish.zh.json", descriptions)
    code, out, err = run_cli("prompts", "check", pack, "--no-tokens")
    assert code == 1, out + err
    assert problem in out and "FAILED" in out


# 8. what was asked is what runs, or it is refused up front


def test_an_option_of_a_method_not_selected_is_refused(run_cli, shard_dir, tmp_path, no_model):
    code, _, err = run_cli(
        "--model", "tiny", "--dataset", shard_dir, "--method", "baseline",
        "--llm-pack", "/nonexistent.json", "--output-dir", tmp_path / "out",
    )  # fmt: skip
    assert_clean_error(code, err, "--llm-pack", "'llm'", "--method")


@pytest.mark.parametrize(("methods", "fragment"), [(",", "names no method"), ("waffle,waffle", "twice")])
def test_an_empty_or_repeated_method_list_is_refused(
    run_cli, shard_dir, tmp_path, no_model, methods, fragment
):
    code, _, err = run_cli(
        "--model", "tiny", "--dataset", shard_dir, "--method", methods, "--output-dir", tmp_path
    )
    assert_clean_error(code, err, "--method", fragment)


def test_a_suites_unknown_second_model_is_named_with_its_line_before_anything_runs(
    run_cli, shard_dir, tmp_path
):
    suite = tmp_path / "s.yaml"
    suite.write_text(
        f"version: 1\nmodels:\n  - tiny\n  - no-such-model\ndatasets: [{shard_dir}]\nmethods: [baseline]\n",
        encoding="utf-8",
    )
    code, _, err = run_cli("run", suite, "--output-dir", tmp_path / "out")
    assert_clean_error(code, err, f"{suite}:4", "no-such-model")
    assert not (tmp_path / "out").exists()  # the first model's results were not written


def test_a_second_unknown_model_on_the_command_line_is_named_before_anything_runs(
    run_cli, shard_dir, tmp_path, no_model
):
    code, _, err = run_cli("--model", "tiny,nope", "--dataset", shard_dir, "--output-dir", tmp_path / "out")
    assert_clean_error(code, err, "'nope'")


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("methods: [baseline]\nmethods: [llm]\n", [":6", "'methods' appears twice", "line 5"]),
        ("methods: [baseline]\nsettings: {batch_size: 0}\n", [":6", "'batch_size' must be positive"]),
        ("methods: [baseline]\nsettings: {num_workers: -1}\n", [":6", "'num_workers'"]),
    ],
)
def test_duplicate_suite_keys_and_impossible_settings_are_refused_with_the_line(
    run_cli, shard_dir, tmp_path, text, fragments
):
    suite = tmp_path / "s.yaml"
    suite.write_text(
        f"version: 1\nname: s\nmodels: [tiny]\ndatasets: [{shard_dir}]\n{text}", encoding="utf-8"
    )
    code, _, err = run_cli("run", suite, "--output-dir", tmp_path / "out")
    assert_clean_error(code, err, str(suite), *fragments)


# 9. one line, not a traceback


@pytest.mark.parametrize(
    ("flags", "fragments"),
    [
        (["--num-workers", "-1"], ["--num-workers", "-1"]),
        (["--device", "tpu"], ["--device tpu", "cuda"]),
    ],
)
def test_impossible_run_flags_are_one_line(run_cli, shard_dir, tmp_path, no_model, flags, fragments):
    code, _, err = run_cli("--model", "tiny", "--dataset", shard_dir, "--output-dir", tmp_path / "o", *flags)
    assert code == 2 and "Traceback" not in err
    assert all(fragment in err for fragment in fragments), err


def test_an_output_dir_that_is_a_file_is_refused_before_any_compute(run_cli, shard_dir, tmp_path, no_model):
    target = tmp_path / "results.txt"
    target.write_text("not a folder")
    code, _, err = run_cli("--model", "tiny", "--dataset", shard_dir, "--output-dir", target)
    assert_clean_error(code, err, "--output-dir", str(target), "is a file")


def test_a_utf16_suite_is_one_line(run_cli, shard_dir, tmp_path):
    suite = tmp_path / "s.yaml"
    suite.write_text(
        f"version: 1\nmodels: [tiny]\ndatasets: [{shard_dir}]\nmethods: [baseline]\n", encoding="utf-16"
    )
    code, _, err = run_cli("run", suite, "--output-dir", tmp_path / "out")
    assert_clean_error(code, err, str(suite), "not UTF-8")


def test_a_full_disk_names_the_folder_and_what_was_written(run_cli, shard_dir, tmp_path, monkeypatch):
    import errno
    import os as os_module

    real = os_module.fsync

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("cnclip_eval.fileio.os.fsync", full)
    code, _, err = run_cli("--model", "tiny", "--dataset", shard_dir, "--output-dir", tmp_path / "out")
    monkeypatch.setattr("cnclip_eval.fileio.os.fsync", real)
    assert_clean_error(code, err, "No space left on device", str(tmp_path / "cache"))
    assert not list((tmp_path / "cache").rglob("*.tmp"))  # no half-written file left behind


def test_the_cache_folder_removed_mid_run_is_rebuilt(run_cli, shard_dir, tmp_path, monkeypatch):
    """Deleting the cache while shards are being encoded: the run finishes, the cache is rebuilt."""
    import shutil

    from cnclip_eval.features import FeatureCache

    save = FeatureCache.save
    calls = []

    def save_then_remove(self, shard, data):
        calls.append(shard)
        if len(calls) == 2:
            shutil.rmtree(tmp_path / "cache")
        save(self, shard, data)

    monkeypatch.setattr(FeatureCache, "save", save_then_remove)
    code, out, err = run_cli("--model", "tiny", "--dataset", shard_dir, "--output-dir", tmp_path / "out")
    assert code == 0, err
    assert list((tmp_path / "cache" / "features").rglob("shard-*.npz"))


# 10. messages name keys and files as a reader wrote them


def test_an_undecodable_image_is_named_without_python_reprs(run_cli, tmp_path):
    from cnclip_eval.data.writer import Sample, write_metadata, write_split

    root = tmp_path / "shards"
    write_metadata(root, ["猫", "狗"], ["{c}的照片"])
    write_split(root, "test", [Sample("s0_0000", b"not an image at all", "jpg", 0)], 1)
    code, _, err = run_cli("--model", "tiny", "--dataset", root, "--output-dir", tmp_path / "out")
    assert_clean_error(code, err, "s0_0000", "cannot decode")
    assert "BytesIO" not in err and "np.str_" not in err


def test_duplicate_sample_keys_are_named_as_written(tmp_path):
    import numpy as np

    text = f"sample key {str(np.array(['s0_0000'])[0])!r} occurs more than once"
    assert "np.str_" not in text  # the form image_features uses
    from PIL import UnidentifiedImageError

    from cnclip_eval.data.shards import image_error_reason

    assert "BytesIO" not in image_error_reason(
        OSError("cannot identify image file <_io.BytesIO object at 0x7f>")
    )
    assert image_error_reason(UnidentifiedImageError("x")) == "not an image format Pillow recognises"


def test_a_missing_dataset_folder_says_no_such_folder(run_cli, tmp_path, no_model):
    code, _, err = run_cli("--model", "tiny", "--dataset", tmp_path / "missing" / "folder")
    assert_clean_error(code, err, "no such folder", str(tmp_path / "missing" / "folder"))
    assert "Unknown dataset" not in err


# 11. what a file records is what was done


def test_coop_metadata_records_the_context_length_the_init_phrase_sets(run_cli, tmp_path):
    from conftest import make_dataset

    root = make_dataset(tmp_path / "wds", n=10, num_shards=1, split="train")
    out = tmp_path / "ctx.safetensors"
    code, _, err = run_cli(
        "coop", "train", "--dataset", root, "--model", "tiny", "--shots", "1", "--epochs", "1",
        "--init", "一张的照片", "--device", "cpu", "--out", out,
    )  # fmt: skip
    assert code == 0, err
    meta = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    from cnclip_eval.methods.coop.context_io import load_context

    context, _ = load_context(out)
    assert meta["recipe"]["n_ctx"] == context.shape[-2] != 16
