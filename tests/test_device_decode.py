"""``--decode torchvision``: decoding and resizing after the loader, on the model's device (CPU here).

The PIL path is CN-CLIP's own and stays the default; this one must agree with it closely enough to
be worth its speed on a GPU. Measured here on the demo model and the shipped demo-shapes images.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import torch
from PIL import Image

from cnclip_eval.data.device_decode import DevicePreprocess
from cnclip_eval.errors import DataError


def encoded(image: Image.Image, fmt: str) -> torch.Tensor:
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return torch.frombuffer(bytearray(buffer.getvalue()), dtype=torch.uint8)


def test_preprocessing_matches_cn_clips_transform_to_one_8_bit_level():
    from cn_clip.clip.utils import image_transform

    rng = np.random.default_rng(0)
    images = [
        Image.fromarray((rng.random((h, w, 3)) * 255).astype("uint8"))
        for h, w in ((50, 70), (90, 40), (32, 32))
    ]
    batch = [encoded(images[0], "JPEG"), encoded(images[1], "PNG"), encoded(images[2], "WEBP")]
    ours = DevicePreprocess(32, torch.device("cpu"))(batch, ["a", "b", "c"], "shard 0")
    reference = torch.stack(
        [image_transform(32)(Image.open(io.BytesIO(b.numpy().tobytes())).convert("RGB")) for b in batch]
    )
    one_level = 1 / 255 / min(0.26130258, 0.26862954, 0.27577711)  # one 8-bit step after normalization
    assert ours.shape == reference.shape == (3, 3, 32, 32)
    assert (ours - reference).abs().max() <= one_level + 1e-6


def test_an_undecodable_image_is_named():
    bad = torch.tensor([0xFF, 0xD8, 0xFF, 0x00, 0x01], dtype=torch.uint8)
    good = encoded(Image.new("RGB", (8, 8), "red"), "JPEG")
    with pytest.raises(DataError, match=r"shard 0.tar, sample s_bad: cannot decode the image") as error:
        DevicePreprocess(16, torch.device("cpu"))([good, bad], ["s_good", "s_bad"], "0.tar")
    assert "/" not in str(error.value).split("(")[-1]  # no C++ source path in the reason


@pytest.mark.parametrize("model", ["demo", "tiny"])  # demo: 64 px in, no resize; tiny: 64 -> 32 px
def test_device_decoding_agrees_with_pil(run_cli, tmp_path, model):
    tops = {}
    for decode in ("pil", "torchvision"):
        out = tmp_path / decode
        code, _, err = run_cli(
            "--model",
            model,
            "--dataset",
            "demo-shapes",
            "--method",
            "baseline",
            "--output-dir",
            out,
            "--decode",
            decode,
            "--num-workers",
            "0",
        )
        assert code == 0, err
        record = json.loads(next(out.glob("*.json")).read_text())
        assert record["provenance"]["image_preprocessing"]["decode"] == decode
        with np.load(out / record["predictions"]) as predictions:
            tops[decode] = predictions["topk"][:, 0]
    agreement = float(np.mean(tops["pil"] == tops["torchvision"]))
    assert agreement >= 0.99, agreement  # measured: see benchmarks/RESULTS.md


def test_unknown_decoder_in_a_suite_is_refused(run_cli, tmp_path):
    suite = tmp_path / "s.yaml"
    suite.write_text(
        "version: 1\nmodels: [demo]\ndatasets: [demo-shapes]\nmethods: [baseline]\nsettings: {decode: nvjpeg}\n"
    )
    code, _, err = run_cli("run", suite, "--output-dir", tmp_path / "r")
    assert code == 2 and "nvjpeg" in err and "torchvision" in err
