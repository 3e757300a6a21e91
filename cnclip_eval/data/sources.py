"""Where shards live: a local folder, an http(s) URL, or a Hugging Face dataset repo.

A source opens files relative to a dataset root as binary streams, read as they arrive (a shard is
never held in memory whole). Nothing goes through a shell. Forms of a source string:

* ``/path/to/wds_cifar10`` or ``./shards``: a local folder;
* ``https://host/path/wds_cifar10``: any static HTTP server;
* ``hf://clip-benchmark/wds_imagenet1k`` (optionally ``@revision``): a Hugging Face dataset repo,
  authenticated with the token huggingface_hub finds (``HF_TOKEN`` or ``huggingface-cli login``).
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from cnclip_eval.errors import DataError, DownloadError

HTTP_TIMEOUT_S = float(os.environ.get("CNCLIP_EVAL_HTTP_TIMEOUT", "60"))


class Source(Protocol):
    def describe(self) -> str: ...

    def url(self, relpath: str) -> str: ...

    def open(self, relpath: str) -> BinaryIO:
        """A binary stream; raises FileNotFoundError when the file does not exist."""
        ...

    def version(self, relpath: str) -> str | None:
        """What changes when the file is rewritten in place (caches key on it), or None if unknown."""
        ...


@dataclass(frozen=True)
class LocalSource:
    root: Path

    def describe(self) -> str:
        return str(self.root)

    def url(self, relpath: str) -> str:
        return str(self.root / relpath)

    def open(self, relpath: str) -> BinaryIO:
        return open(self.root / relpath, "rb")

    def version(self, relpath: str) -> str | None:
        try:
            stat = (self.root / relpath).stat()
        except OSError:
            return None  # reading it will name the problem
        return f"{stat.st_size}:{stat.st_mtime_ns}"


@dataclass(frozen=True)
class HttpSource:
    base_url: str
    headers: tuple[tuple[str, str], ...] = ()

    def describe(self) -> str:
        return self.base_url

    def url(self, relpath: str) -> str:
        return f"{self.base_url.rstrip('/')}/{relpath}"

    def version(self, relpath: str) -> str | None:
        # a HEAD request per shard would cost a round trip each run; remote shards are published,
        # not rewritten (pin a Hugging Face revision in the URL to be sure)
        return None

    def open(self, relpath: str) -> BinaryIO:
        request = urllib.request.Request(self.url(relpath), headers=dict(self.headers))
        try:
            return urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S)  # noqa: S310 (http(s) only)
        except urllib.error.HTTPError as error:
            if error.code == 404:
                raise FileNotFoundError(self.url(relpath)) from None
            raise DownloadError(f"{self.url(relpath)}: HTTP {error.code} {error.reason}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise DownloadError(
                f"{self.url(relpath)}: cannot connect ({reason}). Offline? Download the shards elsewhere "
                "and pass their folder with --data-root"
            ) from None


def huggingface_source(repo: str) -> HttpSource:
    """A dataset repo on the Hugging Face hub, read over HTTP with the user's token (if any)."""
    repo, _, revision = repo.partition("@")
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
    headers: tuple[tuple[str, str], ...] = ()
    try:
        from huggingface_hub import get_token

        token = get_token()
        if token:
            headers = (("Authorization", f"Bearer {token}"),)
    except ImportError:
        pass
    return HttpSource(f"{endpoint}/datasets/{repo}/resolve/{revision or 'main'}", headers)


def open_source(spec: str) -> Source:
    """A source from its string form (see the module docstring)."""
    if spec.startswith("hf://"):
        return huggingface_source(spec.removeprefix("hf://"))
    if spec.startswith(("http://", "https://")):
        return HttpSource(spec)
    path = Path(spec).expanduser()
    if not path.is_dir():
        raise DataError(
            f"{spec}: no such dataset folder (expected a folder with classnames.txt and <split>/nshards.txt)"
        )
    return LocalSource(path.resolve())


def read_text(source: Source, relpath: str) -> str | None:
    """A small text file of the dataset, or None when it does not exist."""
    try:
        with source.open(relpath) as f:
            data = f.read()
    except FileNotFoundError:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise DataError(f"{source.url(relpath)}: not UTF-8 text") from None
