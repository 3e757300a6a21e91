"""Model providers: checkpoints in CN-CLIP's format, weights_only loading, arch configs."""

from __future__ import annotations

import pytest
import torch

from cnclip_eval.errors import UserError
from cnclip_eval.models import MODELS, ModelRequest, load_model


def save_checkpoint(model, path, prefix="module."):
    state = {f"{prefix}{k}": v for k, v in model.module.state_dict().items()}
    torch.save({"state_dict": state, "epoch": 3, "name": "tiny"}, path)


def test_checkpoint_round_trip(tiny_model, tmp_path):
    path = tmp_path / "tiny.pt"
    save_checkpoint(tiny_model, path)
    loaded = load_model(ModelRequest(str(path), arch="tiny-vit@tiny-bert", seed=123))
    for (name, a), b in zip(tiny_model.module.state_dict().items(), loaded.module.state_dict().values()):
        assert torch.equal(a, b), name
    assert loaded.weights_sha256 and len(loaded.weights_sha256) == 64
    assert loaded.model_id == "tiny.pt"


def test_checkpoint_needs_arch(tiny_model, tmp_path):
    path = tmp_path / "tiny.pt"
    save_checkpoint(tiny_model, path)
    with pytest.raises(UserError, match="needs --arch"):
        load_model(ModelRequest(str(path)))


def test_checkpoint_of_another_arch_is_refused(tiny_model, tmp_path):
    path = tmp_path / "tiny.pt"
    save_checkpoint(tiny_model, path)
    with pytest.raises(UserError, match="does not fit architecture"):
        load_model(ModelRequest(str(path), arch="tiny-vit@RBT3-chinese"))


class NotATensor:
    pass


def test_pickled_objects_are_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"state_dict": {"x": NotATensor()}}, path)
    with pytest.raises(UserError, match="weights-only"):
        load_model(ModelRequest(str(path), arch="tiny-vit@tiny-bert"))


def test_arch_from_json_paths(tmp_path):
    from cnclip_eval.models.arch import OWN_CONFIGS

    arch = f"{OWN_CONFIGS / 'tiny-vit.json'}@{OWN_CONFIGS / 'tiny-bert.json'}"
    model = load_model(ModelRequest("tiny", arch=arch))
    assert model.image_size == 32


def test_bad_arch_strings():
    with pytest.raises(UserError, match="VISION@TEXT"):
        load_model(ModelRequest("tiny", arch="tiny-vit"))
    with pytest.raises(UserError, match="no such config"):
        load_model(ModelRequest("tiny", arch="tiny-vit@nope"))


def test_seed_makes_random_init_deterministic():
    a = load_model(ModelRequest("tiny", seed=7)).module.state_dict()
    b = load_model(ModelRequest("tiny", seed=7)).module.state_dict()
    c = load_model(ModelRequest("tiny", seed=8)).module.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


@pytest.mark.parametrize("name", MODELS.names())
def test_every_registered_model_has_a_loadable_arch(name, tmp_path, monkeypatch):
    """Every provider's architecture builds (published weights are not downloaded here); a published
    transformers checkpoint or open_clip tag, whose architecture comes with its weights, fails offline
    in one error naming where it tried."""
    from cn_clip.clip.utils import _MODEL_INFO

    from cnclip_eval.errors import DownloadError
    from cnclip_eval.models import card_of
    from cnclip_eval.models.arch import load_arch_config

    from hf_tiny import hub_offline

    if card_of(name).family == "transformers":
        hub_offline(monkeypatch)
        repo = card_of(name).source.removeprefix("Hugging Face ")
        with pytest.raises(DownloadError, match=f"checkpoint {repo} from Hugging Face into {tmp_path}"):
            load_model(ModelRequest(name, cache_dir=tmp_path))
    elif card_of(name).family == "open_clip":
        hub_offline(monkeypatch)
        spec = card_of(name).source.removeprefix("open_clip ")
        with pytest.raises(DownloadError, match=f"open_clip weights {spec} from .* into {tmp_path}"):
            load_model(ModelRequest(name, cache_dir=tmp_path))
    elif name.startswith("qa-clip-"):
        from cnclip_eval.models.qaclip import CHECKPOINTS

        filename, arch = CHECKPOINTS[name]
        assert load_arch_config(arch)["image_resolution"] == 224
        hub_offline(monkeypatch)
        with pytest.raises(
            DownloadError, match=f"{filename} from Hugging Face TencentARC/QA-CLIP into {tmp_path}"
        ):
            load_model(ModelRequest(name, cache_dir=tmp_path))
    elif name in _MODEL_INFO:
        config = load_arch_config(_MODEL_INFO[name]["struct"])
        assert config["image_resolution"] == _MODEL_INFO[name]["input_resolution"]
    else:
        assert load_model(ModelRequest(name)).module is not None


def test_ls_models_lists_every_family_with_language_and_source(run_cli):
    code, out, err = run_cli("ls", "models")
    assert code == 0, err
    rows = {
        line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:5]] for line in out.splitlines()[2:]
    }
    assert rows["ViT-B-16"] == ["cn_clip", "zh", "Hugging Face OFA-Sys (or ModelScope)"]
    assert rows["altclip"] == ["transformers", "zh, en", "Hugging Face BAAI/AltCLIP"]
    assert rows["clip-ViT-B-16"] == ["transformers", "en", "Hugging Face openai/clip-vit-base-patch16"]
    assert rows["transformers:..."][0] == "transformers"
