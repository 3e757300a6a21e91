"""``--decode torchvision``: decoding and resizing after the loader, on the model's device (CPU here).

The PIL path is CN-CLIP's own and stays the default; this one must agree with it closely enough to
be worth its speed on a GPU. Measured here on the demo model and the shipped demo-shapes images.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from cnclip_eval.data.device_decode import DevicePreprocess
from cnclip_eval.errors import DataError

from conftest import evaluate_demo_shapes


def encoded(image: Image.Image, fmt: str) -> torch.Tensor:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **({"lossless": True} if fmt == "WEBP" else {}))
    return torch.frombuffer(bytearray(buffer.getvalue()), dtype=torch.uint8)


def cn_clip_preprocessing(size: int):
    from cnclip_eval.models.cnclip_towers import preprocessing

    return preprocessing(size)


ONE_LEVEL = 1 / 255 / min(0.26130258, 0.26862954, 0.27577711)  # one 8-bit step after normalization


def reference(batch: list[torch.Tensor], size: int) -> torch.Tensor:
    from cn_clip.clip.utils import image_transform

    return torch.stack(
        [image_transform(size)(Image.open(io.BytesIO(b.numpy().tobytes())).convert("RGB")) for b in batch]
    )


def noise(shape) -> Image.Image:
    return Image.fromarray((np.random.default_rng(0).random((*shape, 3)) * 255).astype("uint8"))


def levels_off(ours: torch.Tensor, theirs: torch.Tensor) -> torch.Tensor:
    return (ours - theirs).abs() / ONE_LEVEL


@pytest.mark.parametrize(
    "shape, size",
    [((300, 300), 224), ((28, 28), 224), ((32, 32), 32), ((40, 30), 224), ((30, 40), 224)],
    ids=["shrink-square", "enlarge-mnist", "same", "enlarge-tall", "enlarge-wide"],
)
def test_squares_and_enlargements_match_pil_to_one_8_bit_level(shape, size):
    """Noise, the hardest case for a resampler: every pixel within one 8-bit level of PIL's."""
    batch = [encoded(noise(shape), "PNG"), encoded(noise(shape), "WEBP")]  # lossless: the same pixels
    ours = DevicePreprocess(cn_clip_preprocessing(size), torch.device("cpu"))(batch, ["a", "b"], "shard 0")
    assert ours.shape == (2, 3, size, size)
    assert levels_off(ours, reference(batch, size)).max() <= 1.001


@pytest.mark.parametrize("shape", [(50, 70), (90, 40), (60, 45)])
def test_non_square_shrinks_stay_close_to_pil(shape):
    """Pillow sometimes runs its two passes in the other order: a few pixels differ by a few levels."""
    batch = [encoded(noise(shape), "PNG")]
    off = levels_off(
        DevicePreprocess(cn_clip_preprocessing(32), torch.device("cpu"))(batch, ["a"], "shard 0"),
        reference(batch, 32),
    )
    assert (off > 1.001).float().mean() < 0.01 and off.max() <= 8


def test_jpeg_and_formats_torchvision_cannot_read():
    image = noise((48, 48))
    batch = [encoded(image, "JPEG"), encoded(image, "BMP"), encoded(image.convert("L"), "TIFF")]
    ours = DevicePreprocess(cn_clip_preprocessing(32), torch.device("cpu"))(
        batch, ["jpg", "bmp", "tif"], "shard 0"
    )
    assert levels_off(ours, reference(batch, 32)).max() <= 1.001


def test_an_undecodable_image_is_named():
    bad = torch.tensor([0xFF, 0xD8, 0xFF, 0x00, 0x01], dtype=torch.uint8)
    good = encoded(Image.new("RGB", (8, 8), "red"), "JPEG")
    with pytest.raises(DataError, match=r"shard 0.tar, sample s_bad: cannot decode the JPEG image") as error:
        DevicePreprocess(cn_clip_preprocessing(16), torch.device("cpu"))(
            [good, bad], ["s_good", "s_bad"], "0.tar"
        )
    assert "/" not in str(error.value).split("(")[-1]  # no C++ source path in the reason


@pytest.mark.parametrize("model", ["demo", "tiny"])  # demo: 64 px in, no resize; tiny: 64 -> 32 px
def test_device_decoding_agrees_with_pil(run_cli, tmp_path, model):
    tops = {}
    for decode in ("pil", "torchvision"):
        out = tmp_path / decode
        record = evaluate_demo_shapes(run_cli, out, "--decode", decode, model=model)
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


@pytest.mark.parametrize("shape", [(300, 200), (200, 300), (64, 64), (20, 28)])
def test_shorter_side_and_centre_crop_follow_the_models_preprocessing(shape):
    """A family that resizes the shorter side and crops (AltCLIP, CLIP): torchvision's Resize(S) +
    CenterCrop(S) on PIL, with the model's own mean and std, within a few 8-bit levels."""
    from torchvision import transforms as T

    from cnclip_eval.models.base import Preprocessing

    preprocessing = Preprocessing("test", 32, "shorter-side+center-crop", (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    reference = T.Compose(
        [
            T.Resize(32, T.InterpolationMode.BICUBIC),
            T.CenterCrop(32),
            T.ToTensor(),
            T.Normalize((0.5,) * 3, (0.5,) * 3),
        ]
    )
    batch = [encoded(noise(shape), "PNG")]
    ours = DevicePreprocess(preprocessing, torch.device("cpu"))(batch, ["a"], "shard 0")
    theirs = reference(Image.open(io.BytesIO(batch[0].numpy().tobytes())).convert("RGB"))[None]
    assert ours.shape == theirs.shape == (1, 3, 32, 32)
    off = (ours - theirs).abs() / (1 / 255 / 0.5)  # 8-bit levels
    assert (off > 1.001).float().mean() < 0.02 and off.max() <= 8


def test_a_preprocessing_the_device_path_cannot_copy_is_refused():
    from cnclip_eval.errors import UserError
    from cnclip_eval.models.base import Preprocessing

    with pytest.raises(UserError, match="use --decode pil"):
        DevicePreprocess(Preprocessing("odd", 32, "other"), torch.device("cpu"))
