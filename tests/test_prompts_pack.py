"""Prompt packs: schema, round trip, validation against class lists, lookup, CuPL import, check."""

from __future__ import annotations

import json
import logging

import pytest

from cnclip_eval.data.catalog import CLASSNAMES_DIR, read_classname_file
from cnclip_eval.errors import UserError
from cnclip_eval.prompts import pack as pack_module
from cnclip_eval.prompts.pack import (
    GeneratorInfo,
    PackClass,
    content_hash,
    find_pack,
    load_pack,
    make_pack,
    save_pack,
    validate_against,
)

NAMES = ["丁鲷", "金鱼", "大白鲨"]


def tiny_pack(names=NAMES, descriptions=None, dataset="fish"):
    descriptions = descriptions or [[f"{n}的样子", f"一张{n}的照片"] for n in names]
    generator = GeneratorInfo(
        kind="llm",
        endpoint="openai-compatible",
        date="2025-01-01T00:00:00+00:00",
        tool="cnclip-eval test",
        llm_model="fake-qwen",
        base_url_host="127.0.0.1:8000",
        temperature=0.99,
        n=2,
        max_chars=40,
        queries=("{c}长什么样？",),
    )
    classes = [PackClass(i, n, tuple(d)) for i, (n, d) in enumerate(zip(names, descriptions))]
    return make_pack(dataset, "zh", generator, classes)


def write_json(path, data):
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def test_round_trip_keeps_content_and_hash(tmp_path):
    pack = tiny_pack()
    path = save_pack(pack, tmp_path / "fish.zh.json")
    assert [p.name for p in tmp_path.iterdir()] == ["fish.zh.json"]  # no temporary file left
    loaded = load_pack(path)
    assert loaded == pack
    assert loaded.descriptions_per_class() == [["丁鲷的样子", "一张丁鲷的照片"], ["金鱼的样子", "一张金鱼的照片"],
                                               ["大白鲨的样子", "一张大白鲨的照片"]]  # fmt: skip
    data = json.loads(path.read_text(encoding="utf-8"))
    assert set(data["classes"]) == {"0", "1", "2"} and data["schema_version"] == 1
    assert data["content_sha256"] == content_hash(pack.classes) and len(data["content_sha256"]) == 64
    assert "丁鲷" in path.read_text(encoding="utf-8")  # readable UTF-8, not \\u escapes


def test_hash_depends_on_content_not_header():
    pack = tiny_pack()
    assert tiny_pack(dataset="other").content_sha256 == pack.content_sha256
    changed = tiny_pack(descriptions=[["x"], ["y"], ["z"]])
    assert changed.content_sha256 != pack.content_sha256


def test_hand_edit_is_detected_and_rehash_records_it(tmp_path, run_cli):
    path = save_pack(tiny_pack(), tmp_path / "p.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    data["classes"]["1"]["descriptions"].append("金鱼在鱼缸里游")
    write_json(path, data)
    with pytest.raises(UserError, match=r"p\.json.*--rehash"):
        load_pack(path)
    code, out, err = run_cli("prompts", "check", "--rehash", "--no-tokens", path)
    assert code == 0, out + err
    assert "金鱼在鱼缸里游" in load_pack(path).classes[1].descriptions


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.update(schema_version=7), "schema_version 7"),
        (lambda d: d.update(language="fr"), "language"),
        (lambda d: d.pop("generator"), "missing field 'generator'"),
        (lambda d: d["generator"].update(base_url_host="user:pw@host/v1"), "bare host"),
        (
            lambda d: d["classes"].update({"goldfish": d["classes"].pop("1")}),
            "'goldfish' is not a class index",
        ),
        (lambda d: d["classes"]["2"].update(descriptions=["ok", 3]), r"class 2 \(大白鲨\): description #1"),
        (lambda d: d["classes"]["0"].pop("name"), "class 0: missing field 'name'"),
    ],
)
def test_schema_errors_name_the_file_and_field(tmp_path, edit, message):
    data = pack_module.pack_to_json(tiny_pack())
    edit(data)
    path = write_json(tmp_path / "bad.json", data)
    with pytest.raises(UserError, match=message) as error:
        load_pack(path)
    assert "bad.json" in str(error.value)


def test_not_json(tmp_path):
    (tmp_path / "x.json").write_text("{nope", encoding="utf-8")
    with pytest.raises(UserError, match="x.json: not a JSON prompt pack"):
        load_pack(tmp_path / "x.json")


def test_validate_names_missing_extra_and_empty_classes():
    pack = tiny_pack()
    validate_against(pack, NAMES)
    with pytest.raises(UserError, match=r"3 classes, the dataset has 4.*missing classes 3 \(虎鲨\)"):
        validate_against(pack, [*NAMES, "虎鲨"])
    with pytest.raises(UserError, match=r"extra classes beyond the dataset's 2 \(大白鲨\)"):
        validate_against(pack, NAMES[:2])
    holes = make_pack("fish", "zh", pack.generator, [pack.classes[0], pack.classes[2]])
    with pytest.raises(UserError, match=r"missing classes 1 \(金鱼\)"):
        validate_against(holes, NAMES)
    empty = tiny_pack(descriptions=[["a"], [], [" "]])
    with pytest.raises(UserError, match=r"without descriptions 1 \(金鱼\), 2 \(大白鲨\)"):
        validate_against(empty, NAMES)


def test_name_mismatch_errors_or_warns(caplog):
    pack = tiny_pack()
    other = ["丁桂鱼", "金鱼", "大白鲨"]
    with pytest.raises(UserError, match="index 0 '丁鲷' vs '丁桂鱼'"):
        validate_against(pack, other)
    with caplog.at_level(logging.WARNING):
        assert validate_against(pack, other, names="warn") == [0]
    assert "丁桂鱼" in caplog.text
    assert validate_against(pack, other, names="ignore") == [0]


def test_find_pack_by_path_and_by_name(tmp_path, monkeypatch):
    explicit = save_pack(tiny_pack(), tmp_path / "mine.json")
    assert find_pack("fish", "zh", explicit) == explicit
    with pytest.raises(UserError, match="nope.json: no such file"):
        find_pack("fish", "zh", tmp_path / "nope.json")
    shipped = tmp_path / "packs"
    monkeypatch.setattr(pack_module, "PACKS_DIR", shipped)
    save_pack(tiny_pack(), shipped / "fish.zh.json")
    assert find_pack("fish", "zh") == shipped / "fish.zh.json"
    assert find_pack("/data/wds/fish", "zh") == shipped / "fish.zh.json"  # a folder: by its name
    with pytest.raises(UserError) as error:
        find_pack("imagenet1k", "en")
    message = str(error.value)
    assert str(shipped / "imagenet1k.en.json") in message and "fish.zh.json" in message
    assert "import-cupl" in message and "prompts generate" in message


@pytest.fixture(scope="module")
def cupl_pack():
    from cnclip_eval.prompts.cupl import import_cupl

    return import_cupl()


def test_cupl_import_covers_imagenet_by_index(cupl_pack, caplog):
    pack = cupl_pack
    assert pack.language == "en" and pack.dataset == "imagenet1k"
    assert [c.index for c in pack.classes] == list(range(1000))
    validate_against(pack, read_classname_file(CLASSNAMES_DIR / "imagenet1k.en.txt", 1000))
    # duplicated names: both indices get CuPL's one list, and the header says so
    assert pack.classes[657].descriptions == pack.classes[744].descriptions
    assert pack.classes[836].descriptions == pack.classes[837].descriptions
    assert any("'missile': 657, 744" in note and "'sunglasses': 836, 837" in note for note in pack.notes)
    assert pack.generator.kind == "import" and len(pack.generator.source["sha256"]) == 64
    assert all(len(c.descriptions) > 100 for c in pack.classes)


def test_cupl_import_cli_warns_about_duplicates(run_cli, tmp_path, caplog):
    code, out, err = run_cli("prompts", "import-cupl", "--out", tmp_path / "imagenet1k.en.json")
    assert code == 0, err
    assert "1000 classes" in out and "'missile': 657, 744" in out
    assert "657, 744" in caplog.text  # the logged warning
    assert len(load_pack(tmp_path / "imagenet1k.en.json").classes) == 1000


def test_check_reports_offending_classes(run_cli, tmp_path):
    long = "这是一段非常长的描述，" * 8  # > 50 word pieces: cut at 52 tokens
    pack = tiny_pack(descriptions=[["丁鲷的样子", "丁鲷的样子 "], ["金鱼的样子"], ["大白鲨", long]])
    path = save_pack(pack, tmp_path / "p.json")
    code, out, _ = run_cli("prompts", "check", path)
    assert code == 1
    assert "duplicate descriptions in 1 classes" in out and "0 (丁鲷)" in out
    assert "1 descriptions in 1 classes exceed 50 tokens" in out and "2 (大白鲨): 1" in out
    assert run_cli("prompts", "check", "--allow-truncated", path)[0] == 1  # duplicates remain
    good = save_pack(tiny_pack(), tmp_path / "good.json")
    code, out, _ = run_cli("prompts", "check", good)
    assert code == 0 and "ok" in out


def test_check_against_a_class_list(run_cli, tmp_path):
    path = save_pack(tiny_pack(), tmp_path / "p.json")
    names = tmp_path / "names.txt"
    names.write_text("丁鲷\n金鱼\n大白鲨\n虎鲨\n", encoding="utf-8")
    code, out, _ = run_cli("prompts", "check", "--no-tokens", "--classnames", names, path)
    assert code == 1 and "missing classes 3 (虎鲨)" in out
    code, out, _ = run_cli("prompts", "check", "--no-tokens", tmp_path / "missing.json", path)
    assert code == 1 and "missing.json: FAILED" in out and "1 of 2 packs ok" in out
