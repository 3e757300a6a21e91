"""``cnclip-eval export --format clip_benchmark``: the files, their keys, and CLIP_benchmark's numbers."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
import torch
from test_clip_benchmark_plugin import assert_same_metrics, our_metrics, train_checkpoint

from cnclip_eval.errors import UserError
from cnclip_eval.integrations import export

from conftest import CLASSNAMES_EN, CLASSNAMES_ZH, TEMPLATES_ZH


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return train_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny-trained.pt")


@pytest.fixture()
def classnames_en(tmp_path) -> Path:
    path = tmp_path / "classnames.en.txt"
    path.write_text("\n".join(CLASSNAMES_EN) + "\n", encoding="utf-8")
    return path


class LastTemplateOnly:
    """A test method that is not exported as templates: the classifier file must carry it."""

    name = "last-template"
    summary = "only the last template"
    options = ()

    def build(self, ctx):
        from cnclip_eval.methods import Classifier
        from cnclip_eval.text import classifier_from_prompts

        prompts = [[ctx.texts.templates[-1].format(c=name)] for name in ctx.texts.classnames]
        return Classifier(classifier_from_prompts(ctx.encoder, prompts), {})


@pytest.fixture()
def with_test_method(monkeypatch):
    """``last-template`` visible to the engine for this test only (the shared registry is untouched)."""
    from cnclip_eval import engine
    from cnclip_eval.methods import METHODS
    from cnclip_eval.registry import Registry

    methods = Registry("method")
    for entry in METHODS.entries():
        methods.add(entry.name, entry.target, entry.summary)
    methods.add(LastTemplateOnly.name, LastTemplateOnly, LastTemplateOnly.summary)
    monkeypatch.setattr(engine, "METHODS", methods)


def exported_commands(stdout: str) -> list[list[str]]:
    """The ``cnclip-benchmark eval ...`` lines that export printed, as argv lists."""
    return [shlex.split(line) for line in stdout.splitlines() if line.strip().startswith("cnclip-benchmark ")]


def run_exported(argv: list[str]) -> dict:
    """Run a printed command in-process; the metrics CLIP_benchmark wrote to its --output."""
    from cnclip_eval.integrations.clip_benchmark_cli import main

    assert argv[:2] == ["cnclip-benchmark", "eval"]
    assert main([*argv[1:], "--quiet", "--num_workers", "0"]) == 0
    output = Path(argv[argv.index("--output") + 1])
    return json.loads(output.read_text(encoding="utf-8"))["metrics"]


def test_files_keys_and_classifier(run_cli, shard_dir, tmp_path, tiny_model):
    from cnclip_eval.config import MethodSpec
    from cnclip_eval.data.resolve import DatasetRequest, resolve_dataset
    from cnclip_eval.engine import prepare_methods
    from cnclip_eval.features import ClassifierCache
    from cnclip_eval.tasks.classification import build_classifier
    from cnclip_eval.text import TextEncoder

    out = tmp_path / "cb"
    code, stdout, stderr = run_cli(
        "export", "--method", "baseline", "--dataset", shard_dir, "--model", "tiny", "--out", out
    )
    assert code == 0, stderr
    key = f"wds/{shard_dir.name}"  # the first key CLIP_benchmark looks up for --dataset wds/<name>
    classnames = json.loads((out / "classnames.baseline.json").read_text(encoding="utf-8"))
    templates = json.loads((out / "templates.baseline.json").read_text(encoding="utf-8"))
    assert classnames == {key: CLASSNAMES_ZH}
    assert templates == {key: TEMPLATES_ZH}

    [classifier_file] = out.glob("classifier.*.pt")
    saved = torch.load(classifier_file, map_location="cpu", weights_only=True)  # as CLIP_benchmark loads it
    dataset = resolve_dataset(DatasetRequest(str(shard_dir)))
    [(spec, method, options)] = prepare_methods((MethodSpec("baseline"),))
    ours, _, _ = build_classifier(
        tiny_model,
        dataset,
        spec,
        method,
        options,
        TextEncoder(tiny_model),
        ClassifierCache(tmp_path),
        "fp32",
    )
    assert saved.shape == (ours.shape[1], len(CLASSNAMES_ZH))  # (D, C)
    assert torch.equal(saved, ours.T)  # bit-identical
    assert torch.allclose(saved.norm(dim=0), torch.ones(len(CLASSNAMES_ZH)))

    commands = exported_commands(stdout)
    assert len(commands) == 2  # from the prompts, and from the classifier
    assert commands[0][4:8] == ["--model", "tiny", "--pretrained", ""]
    assert commands[1][commands[1].index("--load_clfs") + 1] == str(classifier_file.resolve())


def test_exports_of_several_datasets_share_one_file(run_cli, shard_dir, tmp_path):
    out = tmp_path / "cb"
    for name in ("first", "second"):
        args = ["--method", "baseline", "--dataset", shard_dir, "--model", "tiny", "--out", out]
        code, _, stderr = run_cli("export", *args, "--benchmark-name", name)
        assert code == 0, stderr
    classnames = json.loads((out / "classnames.baseline.json").read_text(encoding="utf-8"))
    assert sorted(classnames) == ["wds/first", "wds/second"]
    assert len(list(out.glob("classifier.*.pt"))) == 2


def test_prompt_and_classifier_commands_give_our_accuracy(run_cli, checkpoint, shard_dir, tmp_path):
    model = ["--model", checkpoint, "--arch", "tiny-vit@tiny-bert"]
    code, stdout, stderr = run_cli(
        "export", "--method", "baseline", "--dataset", shard_dir, *model, "--out", tmp_path / "cb"
    )
    assert code == 0, stderr
    ours = our_metrics(run_cli, tmp_path, "--dataset", shard_dir, *model)
    from_prompts, from_classifier = exported_commands(stdout)
    assert "--load_clfs" not in from_prompts
    assert_same_metrics(run_exported(from_prompts), ours)
    assert_same_metrics(run_exported(from_classifier), ours)


@pytest.mark.parametrize("method", ["last-template", "bilingual"])
def test_classifier_export_gives_our_accuracy(
    method, with_test_method, run_cli, checkpoint, shard_dir, classnames_en, tmp_path
):
    from cnclip_eval import engine

    if method not in engine.METHODS:
        pytest.skip(f"method {method!r} is not registered yet")
    args = ["--dataset", shard_dir, "--model", checkpoint, "--arch", "tiny-vit@tiny-bert"]
    args += ["--method", method, "--classnames-en", classnames_en]
    code, stdout, stderr = run_cli("export", *args, "--out", tmp_path / "cb")
    assert code == 0, stderr
    [from_classifier] = exported_commands(stdout)  # not a plain prompt list: the classifier only
    assert "--load_clfs" in from_classifier
    assert_same_metrics(run_exported(from_classifier), our_metrics(run_cli, tmp_path, *args))


def test_user_errors(run_cli, shard_dir, tmp_path):
    (tmp_path / "classnames.baseline.json").write_text("[1, 2]", encoding="utf-8")
    code, _, stderr = run_cli(
        "export", "--method", "baseline", "--dataset", shard_dir, "--model", "tiny", "--out", tmp_path
    )
    assert code == 2
    assert "not a JSON object keyed by dataset" in stderr
    code, _, stderr = run_cli(
        "export", "--method", "nope", "--dataset", shard_dir, "--model", "tiny", "--out", tmp_path
    )
    assert code == 2
    assert "Unknown method 'nope'" in stderr


# --- pure helpers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "root"),
    [
        (
            "hf://clip-benchmark/wds_imagenet1k",
            "https://huggingface.co/datasets/clip-benchmark/wds_imagenet1k/tree/main",
        ),
        ("hf://org/repo@v2", "https://huggingface.co/datasets/org/repo/tree/v2"),
        ("https://host/shards", "https://host/shards"),
    ],
)
def test_dataset_root_for_clip_benchmark(source, root):
    assert export.clip_benchmark_root(source) == root


def test_local_dataset_root_is_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert export.clip_benchmark_root("shards") == str(tmp_path / "shards")


def test_json_config_paths_in_the_arch_become_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "vision.json").write_text("{}", encoding="utf-8")
    assert (
        export.absolute_arch("configs/vision.json@tiny-bert") == f"{tmp_path}/configs/vision.json@tiny-bert"
    )
    assert export.absolute_arch("tiny-vit@tiny-bert") == "tiny-vit@tiny-bert"


def test_cupl_prompts_keep_classes_with_the_same_name_apart():
    names, prompts = export.cupl_prompts(["crane", "cat", "crane", "crane (2)"], [["a"], ["b"], ["c"], ["d"]])
    assert names == ["crane", "cat", "crane (3)", "crane (2)"]
    assert [prompts[name] for name in names] == [["a"], ["b"], ["c"], ["d"]]


def test_classifier_orientation():
    weights = torch.nn.functional.normalize(torch.randn(5, 8), dim=-1)  # (C, D)
    saved = export.classifier_for_load_clfs(weights)
    assert saved.shape == (8, 5) and saved.is_contiguous()
    features = torch.nn.functional.normalize(torch.randn(3, 8), dim=-1)
    assert torch.equal(saved, weights.T)  # the same numbers; the logits agree up to matmul rounding
    assert torch.allclose(features @ saved, features @ weights.T, atol=1e-6)


def test_merge_json_refuses_other_files(tmp_path):
    path = tmp_path / "x.json"
    path.write_text("not json", encoding="utf-8")
    with pytest.raises(UserError, match="not a JSON file"):
        export.merge_json(path, "wds/a", [])


def test_llm_descriptions_export_as_cupl_dict_gives_our_accuracy(run_cli, checkpoint, shard_dir, tmp_path):
    from test_llm_method import write_pack

    pack = write_pack(tmp_path / "shapes.zh.json", dataset=shard_dir.name)
    args = ["--dataset", shard_dir, "--model", checkpoint, "--arch", "tiny-vit@tiny-bert"]
    args += ["--method", "llm", "--llm-pack", pack]
    code, stdout, stderr = run_cli("export", *args, "--out", tmp_path / "cb")
    assert code == 0, stderr
    [templates_file] = (tmp_path / "cb").glob("templates.llm.json")
    [descriptions] = json.loads(templates_file.read_text(encoding="utf-8")).values()
    assert descriptions[CLASSNAMES_ZH[0]][0] == f"{CLASSNAMES_ZH[0]}的外观特征"  # CuPL's {name: [texts]}
    from_prompts, from_classifier = exported_commands(stdout)
    assert "--load_clfs" not in from_prompts
    ours = our_metrics(run_cli, tmp_path, *args)
    assert_same_metrics(run_exported(from_prompts), ours)
    assert_same_metrics(run_exported(from_classifier), ours)
