"""Reading one shard: tar stream -> samples -> decoded (image tensor, label).

Stages, each an iterator over the previous one::

    tar_members            dict(fname="n01440764_0.webp", data=b"...", __url__=shard) in archive order,
                           the end-of-archive marker checked
    -> group_samples       webdataset's group_by_keys: dict(__key__="n01440764_0", webp=b"...", cls=b"0")
    -> decode_sample       (key, image (3, S, S) float32, label int | (C,) int8)
"""

from __future__ import annotations

import io
import re
import tarfile
from collections.abc import Callable, Iterator
from typing import BinaryIO

import numpy as np

from cnclip_eval.errors import DataError

IMAGE_EXTENSIONS = ("webp", "png", "jpg", "jpeg")  # CLIP_benchmark's preference order


class _EndAwareTarInfo(tarfile.TarInfo):
    """Remembers how the archive ended. tarfile, and webdataset's tar iterator on top of it, end a
    stream quietly both at the zero block that marks the end of an archive and at a plain end of
    data where the next header should start, so a shard cut at a member boundary reads as a shorter
    valid shard. This one subclass tells the two apart (no library does)."""

    @classmethod
    def fromtarfile(cls, archive):
        try:
            return super().fromtarfile(archive)
        except tarfile.EOFHeaderError:  # a block of zeros: the end-of-archive marker
            archive.ended_with_marker = True
            raise
        except tarfile.EmptyHeaderError:  # no data where a header should start
            archive.ended_with_marker = False
            raise


def tar_members(stream: BinaryIO, shard_name: str) -> Iterator[dict]:
    """The shard's files as webdataset's tar stage gives them; a shard without files or without its
    end-of-archive marker (cut short, even at a member boundary) is refused naming the shard."""
    files = 0
    try:
        with tarfile.open(fileobj=stream, mode="r|*", tarinfo=_EndAwareTarInfo) as archive:
            archive.ended_with_marker = None
            for member in archive:
                name = member.name
                if not member.isfile() or name.rpartition("/")[2].startswith("__"):
                    continue  # folders, links and webdataset's __meta__ files are not sample files
                data = archive.extractfile(member)
                files += 1
                yield {"fname": name, "data": data.read() if data is not None else b"", "__url__": shard_name}
            ended_with_marker = archive.ended_with_marker
    except (tarfile.TarError, EOFError, OSError) as error:
        raise DataError(f"shard {shard_name}: not a readable tar archive ({error})") from None
    if ended_with_marker is False:
        raise DataError(
            f"shard {shard_name}: ends without the tar end-of-archive marker (cut short after {files} "
            "files?); copy or convert it again"
        )
    if files == 0:
        raise DataError(f"shard {shard_name}: an empty tar archive (no sample files)")


def split_key(name: str) -> tuple[str, str]:
    """webdataset's rule: the key is the path up to the first dot of the file name."""
    directory, _, base = name.rpartition("/")
    stem, _, extension = base.partition(".")
    return (f"{directory}/{stem}" if directory else stem), extension.lower()


def group_samples(members: Iterator[dict], shard_name: str) -> Iterator[dict]:
    """webdataset's ``group_by_keys`` stage; its errors become one line naming shard and sample."""
    from webdataset.tariterators import group_by_keys

    def handler(error: Exception) -> bool:
        # group_by_keys reports a repeated extension as "<file name>: duplicate file name ..."
        name = str(error.args[0]).partition(":")[0] if error.args else ""
        key, extension = split_key(name)
        raise DataError(f"shard {shard_name}, sample {key}: two files with extension .{extension}") from None

    for sample in group_by_keys(members, handler=handler):
        sample["__shard__"] = shard_name
        yield sample


def decode_label(sample: dict, num_classes: int, multilabel: bool):
    where = f"shard {sample['__shard__']}, sample {sample['__key__']}"
    if multilabel:
        if "npy" not in sample:
            raise DataError(f"{where}: no .npy label (the dataset is multi-label)")
        try:
            label = np.load(io.BytesIO(sample["npy"]), allow_pickle=False)
        except ValueError as error:
            raise DataError(f"{where}: unreadable .npy label ({error})") from None
        label = np.asarray(label).reshape(-1)
        if label.shape != (num_classes,):
            raise DataError(
                f"{where}: multi-label vector of length {label.size}, expected {num_classes} classes"
            )
        return label.astype(np.int8)
    if "cls" not in sample:
        raise DataError(
            f"{where}: no .cls label (found {sorted(k for k in sample if not k.startswith('__'))})"
        )
    try:
        label = int(sample["cls"].decode("utf-8").strip())
    except (UnicodeDecodeError, ValueError):
        raise DataError(f"{where}: .cls label {sample['cls'][:20]!r} is not an integer") from None
    if not 0 <= label < num_classes:
        raise DataError(
            f"{where}: label {label} is outside the {num_classes} class names (0..{num_classes - 1})"
        )
    return label


def sample_image(sample: dict) -> tuple[str, bytes, str]:
    """(extension, encoded bytes, "shard X, sample K") of a sample's image."""
    extension = next((e for e in IMAGE_EXTENSIONS if e in sample), None)
    where = f"shard {sample['__shard__']}, sample {sample['__key__']}"
    if extension is None:
        raise DataError(f"{where}: no image (expected one of .{', .'.join(IMAGE_EXTENSIONS)})")
    return extension, sample[extension], where


def image_error_reason(error: Exception) -> str:
    """Why Pillow could not read an image, without the in-memory buffer's repr it puts in its
    messages (``cannot identify image file <_io.BytesIO object at 0x...>``)."""
    from PIL import UnidentifiedImageError

    if isinstance(error, UnidentifiedImageError):
        return "not an image format Pillow recognises"
    return re.sub(r"\s*<_io\.BytesIO object at 0x[0-9a-f]+>", "", str(error)) or type(error).__name__


def decode_rgb(data: bytes, failure: str):
    """Encoded image bytes -> a PIL image in RGB; ``failure`` begins the one-line error (where, what)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            return image.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise DataError(f"{failure} ({image_error_reason(error)})") from None


def decode_image(sample: dict):
    """A PIL image in RGB, as webdataset's "pil" handler gives CLIP_benchmark."""
    extension, data, where = sample_image(sample)
    return decode_rgb(data, f"{where}: cannot decode the .{extension} image")


def encoded_image(sample: dict):
    """The image's encoded bytes as a uint8 tensor, for decoding later on the model's device."""
    import torch

    _, data, _ = sample_image(sample)
    return torch.frombuffer(bytearray(data), dtype=torch.uint8)


def read_shard(
    stream: BinaryIO,
    shard_name: str,
    transform: Callable,
    num_classes: int,
    multilabel: bool,
    decode: Callable[[dict], object] = decode_image,
) -> Iterator[tuple[str, object, object]]:
    """(key, transformed decoded image, label) for each sample of one shard, in archive order."""
    for sample in group_samples(tar_members(stream, shard_name), shard_name):
        label = decode_label(sample, num_classes, multilabel)
        yield sample["__key__"], transform(decode(sample)), label
