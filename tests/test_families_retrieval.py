"""Every model family on retrieval: `--dataset demo-shapes-retrieval` end to end on a tiny model of each
family (tests/test_families.py's TINY_MODEL_NAMES) gives the recalls of that family's own pipeline
(its processor or transform and tokenizer, get_image_features / get_text_features or encode_image /
encode_text) scored by CN-CLIP's own programs (make_topk_predictions(_tr) + evaluation(_tr)); an
English-only model is refused for the Chinese captions in one line."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from test_families import TINY_MODEL_NAMES
from test_retrieval_metrics import cnclip_scores

from cnclip_eval.demo.retrieval import RETRIEVAL_DIR
from cnclip_eval.models import ModelRequest, load_model
from cnclip_eval.models.base import reads_chinese
from cnclip_eval.results import load_result

from conftest import assert_clean_error


def read_split(folder: Path, split: str = "test", preprocess: bool = True):
    """The images (PIL, RGB), the captions as CN-CLIP's evaluation reads them (``preprocess``) and each
    caption's image indices, parsed from the files here rather than by the code under test."""
    from cn_clip.eval.data import _preprocess_text
    from PIL import Image

    lines = (folder / f"{split}_imgs.tsv").read_text(encoding="utf-8").splitlines()
    ids = [line.split("\t")[0] for line in lines]
    images = [
        Image.open(io.BytesIO(base64.urlsafe_b64decode(line.split("\t")[1]))).convert("RGB") for line in lines
    ]
    records = [
        json.loads(line)
        for line in (folder / f"{split}_texts.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    captions = [_preprocess_text(r["text"]) if preprocess else r["text"] for r in records]
    pairs = [[ids.index(str(i)) for i in r["image_ids"]] for r in records]
    return images, captions, pairs


def cn_clip_features(name: str, images, captions):
    """cn_clip's own: image_transform at the model's resolution, tokenize (52 tokens), the module's
    encode_image / encode_text (the weights are the tiny model's)."""
    from cn_clip.clip import tokenize
    from cn_clip.clip.utils import image_transform

    model = load_model(ModelRequest(name))
    transform = image_transform(model.image_size)
    with torch.no_grad():
        pixels = torch.stack([transform(image) for image in images])
        return model.module.encode_image(pixels), model.module.encode_text(
            tokenize(captions, context_length=52)
        )


def transformers_features(folder: str, images, captions):
    """transformers' own: AutoProcessor, get_image_features, get_text_features."""
    from transformers import AutoModel, AutoProcessor

    model, processor = AutoModel.from_pretrained(folder).eval(), AutoProcessor.from_pretrained(folder)
    with torch.no_grad():
        pixels = processor(images=images, return_tensors="pt")["pixel_values"]
        inputs = processor(text=captions, padding=True, return_tensors="pt")
        return (
            model.get_image_features(pixel_values=pixels).pooler_output,
            model.get_text_features(**inputs).pooler_output,
        )


def open_clip_features(arch: str, images, captions):
    """open_clip's own: create_model_and_transforms (the loader's seed), get_tokenizer, encode_*."""
    import open_clip

    torch.manual_seed(0)
    model, _, preprocess = open_clip.create_model_and_transforms(arch, pretrained_text=False)
    model.eval()
    with torch.no_grad():
        pixels = torch.stack([preprocess(image) for image in images])
        return model.encode_image(pixels), model.encode_text(open_clip.get_tokenizer(arch)(captions))


# the --model name's family prefix -> its own pipeline (name without the prefix, images, captions)
REFERENCES = {"": cn_clip_features, "transformers": transformers_features, "open_clip": open_clip_features}


def reference_recalls(
    name: str, tmp: Path, monkeypatch, folder: Path = RETRIEVAL_DIR, preprocess: bool = True
) -> dict[str, float]:
    prefix, _, rest = (
        name.rpartition(":") if name.startswith(("transformers:", "open_clip:")) else ("", "", name)
    )
    tmp.mkdir(parents=True, exist_ok=True)
    images, captions, pairs = read_split(folder, preprocess=preprocess)
    image_features, text_features = REFERENCES[prefix](rest, images, captions)
    scores = cnclip_scores(
        tmp,
        F.normalize(image_features.float(), dim=-1).numpy(),
        F.normalize(text_features.float(), dim=-1).numpy(),
        pairs,
        monkeypatch,
    )
    recalls = {f"t2i_r{k}": v for k, v in zip((1, 5, 10), scores["t2i"])}
    recalls.update({f"i2t_r{k}": v for k, v in zip((1, 5, 10), scores["i2t"])})
    return {**recalls, "mean_recall": scores["mean"]}  # in percent, as CN-CLIP prints them


@pytest.fixture(scope="module", params=sorted(TINY_MODEL_NAMES))
def model_name(request, tmp_path_factory) -> str:
    return TINY_MODEL_NAMES[request.param](tmp_path_factory.mktemp(request.param))


def test_every_family_gives_its_own_pipelines_recalls(run_cli, model_name, tmp_path, monkeypatch):
    languages = load_model(ModelRequest(model_name)).languages
    code, _, err = run_cli(
        "--model", model_name, "--dataset", "demo-shapes-retrieval", "--output-dir", tmp_path / "r"
    )
    if not reads_chinese(languages):
        assert_clean_error(code, err, "reads only", "demo-shapes-retrieval", "Chinese")
        return
    assert code == 0, err
    result = load_result(next((tmp_path / "r").glob("*.json")))
    theirs = reference_recalls(model_name, tmp_path / "cnclip", monkeypatch)
    assert set(result.metrics) == set(theirs)
    for metric, value in theirs.items():
        assert 100 * result.metrics[metric] == pytest.approx(value, abs=1e-9), metric
    # CN-CLIP's protocol fixes 52 tokens: a family whose tokenizer takes another number says so
    context = result.provenance["context_length"]
    assert result.protocol == ("cnclip" if context == 52 else "custom")
    assert (context != 52) == any("context_length" in d for d in result.provenance["protocol"]["differs"])


def test_qa_clip_gives_cn_clips_recalls_on_its_weights(run_cli, tiny_model, tmp_path, monkeypatch):
    """QA-CLIP (cn_clip's loader on TencentARC's file, read from the Hugging Face cache layout): the
    tiny model's weights saved as its checkpoint retrieve exactly as cn_clip's own pipeline on them."""
    from cnclip_eval.models import qaclip

    from hf_tiny import hub_offline

    hub_offline(monkeypatch)
    repo = tmp_path / "hub" / "models--TencentARC--QA-CLIP"
    (repo / "snapshots" / ("0" * 40)).mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0" * 40)
    torch.save(
        {"state_dict": tiny_model.module.state_dict()}, repo / "snapshots" / ("0" * 40) / "QA-CLIP-base.pt"
    )
    monkeypatch.setitem(qaclip.CHECKPOINTS, "qa-clip-ViT-B-16", ("QA-CLIP-base.pt", tiny_model.arch))
    code, _, err = run_cli(
        "--model", "qa-clip-ViT-B-16", "--model-cache-dir", tmp_path / "hub",
        "--dataset", "demo-shapes-retrieval", "--output-dir", tmp_path / "r",
    )  # fmt: skip
    assert code == 0, err
    result = load_result(next((tmp_path / "r").glob("*.json")))
    assert result.model == "qa-clip-ViT-B-16" and result.protocol == "cnclip"
    theirs = reference_recalls("tiny", tmp_path / "cnclip", monkeypatch)
    assert {k: 100 * v for k, v in result.metrics.items()} == pytest.approx(theirs, abs=1e-9)
    assert np.isfinite(list(theirs.values())).all()


def test_captions_are_read_as_cn_clips_evaluation_reads_them(run_cli, tmp_path, monkeypatch):
    """Curly quotes (not in cn_clip's vocabulary: [UNK]) become straight ones and capitals lower case,
    as cn_clip/eval/data.py does before tokenizing: the recalls are those of CN-CLIP's pipeline, not
    of the raw captions (which give other recalls on this split)."""
    from test_cnclip_retrieval_data import jpeg, write_split

    words = ["“红色”的圆形", "蓝色的方块“大”", "Green三角形”", "一只“猫”", "“BLUE”天空"]
    images = {str(300 + i): jpeg(10 + i) for i in range(40)}
    texts = [
        {
            "text_id": t,
            "text": f"{words[t % 5]}“{t}”",
            "image_ids": sorted({300 + t % 40, 300 + (7 * t) % 40}),
        }
        for t in range(80)
    ]
    folder = write_split(tmp_path / "quotes", images, texts, split="test")
    code, _, err = run_cli("--model", "tiny", "--dataset", folder, "--output-dir", tmp_path / "r")
    assert code == 0, err
    ours = {k: 100 * v for k, v in load_result(next((tmp_path / "r").glob("*.json"))).metrics.items()}
    theirs = reference_recalls("tiny", tmp_path / "a", monkeypatch, folder)
    raw = reference_recalls("tiny", tmp_path / "b", monkeypatch, folder, preprocess=False)
    assert raw != pytest.approx(theirs, abs=1e-9)  # the split tells the two apart
    assert ours == pytest.approx(theirs, abs=1e-9)
