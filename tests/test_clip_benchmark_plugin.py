"""The ``cn_clip`` model type inside CLIP_benchmark's own CLI gives cnclip-eval's numbers."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from cnclip_eval.errors import UnknownNameError, UserError
from cnclip_eval.integrations import clip_benchmark as plugin
from cnclip_eval.models import ModelRequest

from conftest import CLASSNAMES_ZH, TEMPLATES_ZH, make_images

REPO_ROOT = Path(__file__).resolve().parents[1]


def train_checkpoint(path: Path, steps: int = 10) -> Path:
    """A tiny CN-CLIP nudged towards the shard_dir labels, so that its predictions vary.

    The random tiny model puts every image in one class, which would make "same accuracy" a weak
    check; a few steps on half of the images give ~60% top-1 with every class predicted.
    """
    import torch.nn.functional as F
    from cn_clip.clip import tokenize

    from cnclip_eval.models import load_model

    loaded = load_model(ModelRequest("tiny", seed=0))
    module, transform = loaded.module, loaded.image_transform()
    images = torch.stack([transform(image) for image in make_images(37, seed=0)])  # (37, 3, 32, 32)
    labels = torch.arange(37) % len(CLASSNAMES_ZH)
    tokens = tokenize([TEMPLATES_ZH[0].format(c=name) for name in CLASSNAMES_ZH])
    train = torch.arange(0, 37, 2)
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(0)
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-3)
    for _ in range(steps):  # eval mode: dropout off, deterministic
        image_features = F.normalize(module.encode_image(images[train]), dim=-1)
        text_features = F.normalize(module.encode_text(tokens), dim=-1)
        loss = F.cross_entropy(20 * image_features @ text_features.T, labels[train])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    torch.random.set_rng_state(generator_state)
    torch.save({"state_dict": module.state_dict()}, path)
    return path


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return train_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny-trained.pt")


def run_clip_benchmark(argv: list[str], output: Path) -> dict:
    """CLIP_benchmark's CLI in-process through ``cnclip-benchmark``; the metrics it wrote."""
    from cnclip_eval.integrations.clip_benchmark_cli import main

    code = main([*map(str, argv), "--output", str(output), "--quiet", "--num_workers", "0"])
    assert code == 0
    return json.loads(output.read_text(encoding="utf-8"))["metrics"]


def our_metrics(run_cli, tmp_path: Path, *argv) -> dict:
    """cnclip-eval's metrics for one (model, dataset, method)."""
    out = tmp_path / "ours"
    code, stdout, stderr = run_cli(*argv, "--output-dir", out, "--device", "cpu", "--num-workers", "0")
    assert code == 0, stderr
    [result] = [p for p in out.glob("*.json")]
    return json.loads(result.read_text(encoding="utf-8"))["metrics"]


def assert_same_metrics(theirs: dict, ours: dict) -> None:
    assert theirs["acc1"] == ours["top1"]  # exact: the same predictions
    assert theirs["acc5"] == ours["top5"]
    assert theirs["mean_per_class_recall"] == pytest.approx(ours["mean_per_class_recall"], abs=1e-12)


def pristine_accuracy():
    """CLIP_benchmark's own accuracy(), from a fresh copy of its module (ours may be patched in)."""
    from clip_benchmark.metrics import zeroshot_classification

    spec = importlib.util.spec_from_file_location("pristine_zeroshot", zeroshot_classification.__file__)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.accuracy


# --- registration ----------------------------------------------------------------------------------


def test_register_is_idempotent():
    import clip_benchmark.models as models

    plugin.register()
    plugin.register()
    assert models.TYPE2FUNC[plugin.MODEL_TYPE] is plugin.load_cn_clip
    assert models.MODEL_TYPES.count(plugin.MODEL_TYPE) == 1


def test_load_clip_contract(tiny_model):
    from clip_benchmark.models import load_clip

    plugin.register()
    model, transform, tokenizer = load_clip("cn_clip", "tiny", "", None, "cpu")
    tokens = tokenizer(["红色的圆形的照片", "一张图片"])
    assert tokens.shape == (2, 52)  # cn_clip's context length
    image = transform(make_images(1)[0])
    assert image.shape == (3, tiny_model.image_size, tiny_model.image_size)
    with torch.no_grad():
        assert torch.equal(model.encode_image(image[None]), tiny_model.module.encode_image(image[None]))
        assert torch.equal(model.encode_text(tokens), tiny_model.module.encode_text(tokens))


# --- --model / --pretrained ------------------------------------------------------------------------


@pytest.mark.parametrize("pretrained", ["", None, " ", plugin.CLI_DEFAULT_PRETRAINED])
def test_named_model_without_checkpoint(pretrained):
    assert plugin.model_request("tiny", pretrained, None, "cpu") == ModelRequest("tiny", device="cpu")


def test_checkpoint_takes_the_architecture_of_the_model_name(checkpoint):
    for name, arch in [
        ("tiny-vit@tiny-bert", "tiny-vit@tiny-bert"),
        ("tiny", "tiny-vit@tiny-bert"),
        ("ViT-B-16", "ViT-B-16@RoBERTa-wwm-ext-base-chinese"),  # known without downloading
    ]:
        request = plugin.model_request(name, str(checkpoint), "/tmp/models", "cpu")
        assert (request.name, request.arch, request.cache_dir) == (str(checkpoint), arch, Path("/tmp/models"))


def test_random_weights_need_asking_for():
    with pytest.raises(UserError, match="needs --pretrained"):
        plugin.model_request("tiny-vit@tiny-bert", "", None, "cpu")
    request = plugin.model_request("tiny-vit@tiny-bert", "random", None, "cpu")
    assert (request.name, request.arch) == ("random", "tiny-vit@tiny-bert")


def test_bad_names_are_user_errors(tmp_path, checkpoint):
    with pytest.raises(UserError, match="no such checkpoint file"):
        plugin.model_request("tiny", str(tmp_path / "missing.pt"), None, "cpu")
    with pytest.raises(UserError, match="give the checkpoint as --pretrained"):
        plugin.model_request(str(checkpoint), "", None, "cpu")
    with pytest.raises(UnknownNameError, match="Did you mean: tiny"):
        plugin.model_request("tinyy", str(checkpoint), None, "cpu")


def test_download_errors_name_clip_benchmark_flags(monkeypatch):
    from cnclip_eval.errors import DownloadError

    def offline(request):
        raise DownloadError("could not download ViT-B-16 weights")

    monkeypatch.setattr(plugin, "load_model", offline)
    with pytest.raises(DownloadError, match="--model_cache_dir DIR.*--model ViT-B-16 --pretrained"):
        plugin.load_cn_clip("ViT-B-16", "", None, "cpu")


# --- the numpy 2 crash -----------------------------------------------------------------------------


def test_accuracy_has_the_original_contract():
    rng = np.random.default_rng(0)
    logits = torch.from_numpy(rng.normal(size=(50, 7)).astype(np.float32))
    target = torch.from_numpy(rng.integers(0, 7, size=50))
    ranks = (logits > logits[torch.arange(50), target][:, None]).sum(1)  # classes scored above the truth
    expected = [float((ranks < k).sum()) / 50 for k in (1, 5)]
    assert plugin.accuracy(logits, target, topk=(1, 5)) == expected
    assert all(isinstance(value, float) for value in plugin.accuracy(logits, target, topk=(1, 5)))


def test_installed_accuracy_crashes_under_numpy_2_and_is_replaced():
    from clip_benchmark.metrics import zeroshot_classification

    original = pristine_accuracy()
    broken = plugin.accuracy_is_broken(original)
    if int(np.__version__.split(".")[0]) >= 2 and plugin.installed_version() == "1.6.2":
        assert broken
        with pytest.raises(TypeError, match="0-dimensional"):
            original(torch.zeros(3, 2), torch.zeros(3, dtype=torch.long))
    plugin.register()
    assert (zeroshot_classification.accuracy is plugin.accuracy) == broken
    assert not plugin.accuracy_is_broken(zeroshot_classification.accuracy)


def test_cli_crashes_without_the_fix(monkeypatch, shard_dir, tmp_path):
    """The reproduction: CLIP_benchmark's own CLI dies after encoding every image."""
    from clip_benchmark.metrics import zeroshot_classification

    original = pristine_accuracy()
    if not plugin.accuracy_is_broken(original):
        pytest.skip("the installed CLIP_benchmark/numpy pair does not crash")
    monkeypatch.setattr(plugin, "fix_accuracy", lambda: False)
    monkeypatch.setattr(zeroshot_classification, "accuracy", original)
    with pytest.raises(TypeError, match="0-dimensional"):
        run_clip_benchmark(
            [
                "eval",
                "--model_type",
                "cn_clip",
                "--model",
                "tiny",
                "--pretrained",
                "",
                "--dataset",
                "wds/tiny",
            ]
            + ["--dataset_root", shard_dir, "--no_amp"],
            tmp_path / "out.json",
        )


# --- CLIP_benchmark's CLI end to end ---------------------------------------------------------------


def test_tiny_model_matches_cnclip_eval(shard_dir, tmp_path, run_cli):
    theirs = run_clip_benchmark(
        ["eval", "--model_type", "cn_clip", "--model", "tiny", "--dataset", "wds/tiny"]
        + ["--dataset_root", shard_dir, "--no_amp", "--batch_size", "8"],
        tmp_path / "out.json",
    )  # --pretrained left at CLIP_benchmark's default: the registered model's own weights
    ours = our_metrics(run_cli, tmp_path, "--dataset", shard_dir, "--model", "tiny", "--no-progress")
    assert_same_metrics(theirs, ours)


@pytest.mark.parametrize("model_name", ["tiny-vit@tiny-bert", "tiny"])
def test_checkpoint_matches_cnclip_eval(model_name, checkpoint, shard_dir, tmp_path, run_cli):
    theirs = run_clip_benchmark(
        ["eval", "--model_type", "cn_clip", "--model", model_name, "--pretrained", checkpoint]
        + ["--dataset", "wds/tiny", "--dataset_root", shard_dir, "--no_amp"],
        tmp_path / "out.json",
    )
    ours = our_metrics(
        run_cli, tmp_path, "--dataset", shard_dir, "--model", checkpoint, "--arch", "tiny-vit@tiny-bert"
    )
    assert_same_metrics(theirs, ours)
    assert 0.3 < ours["top1"] < 1.0  # the checkpoint discriminates: the comparison means something


def test_console_command_in_a_subprocess(checkpoint, shard_dir, tmp_path):
    output = tmp_path / "out.json"
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    argv = [
        sys.executable,
        "-m",
        "cnclip_eval.integrations.clip_benchmark_cli",
        "eval",
        "--model_type",
        "cn_clip",
    ]
    argv += ["--model", "tiny-vit@tiny-bert", "--pretrained", str(checkpoint), "--dataset", "wds/tiny"]
    argv += [
        "--dataset_root",
        str(shard_dir),
        "--no_amp",
        "--num_workers",
        "0",
        "--quiet",
        "--output",
        str(output),
    ]
    done = subprocess.run(argv, env=environment, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    metrics = json.loads(output.read_text(encoding="utf-8"))["metrics"]
    assert 0.3 < metrics["acc1"] < 1.0

    missing = (
        argv[: argv.index("--pretrained") + 1]
        + [str(tmp_path / "missing.pt")]
        + argv[argv.index("--pretrained") + 2 :]
    )
    done = subprocess.run(missing, env=environment, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    assert "cnclip-benchmark: error: --pretrained" in done.stderr
    assert "Traceback" not in done.stderr
