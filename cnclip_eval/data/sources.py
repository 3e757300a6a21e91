"""Where shards live: a local folder, an http(s) URL, or a Hugging Face dataset repo.

A source opens files relative to a dataset root as binary streams, read as they arrive (a shard is
never held in memory whole). Nothing goes through a shell. Forms of a source string:

* ``/path/to/wds_cifar10`` or ``./shards``: a local folder;
* ``https://host/path/wds_cifar10``: any static HTTP server;
* ``hf://clip-benchmark/wds_imagenet1k`` (optionally ``@revision``): a Hugging Face dataset repo,
  read through huggingface_hub's file system with the token it finds (``HF_TOKEN`` or
  ``huggingface-cli login``), pinned to the commit the revision names when the run starts.
"""

from __future__ import annotations

import functools
import io
import os
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


HTTP_RETRIES = int(os.environ.get("CNCLIP_EVAL_HTTP_RETRIES", "3"))  # reconnects per file, then give up


@functools.cache
def _dropped_errors() -> tuple[type[BaseException], ...]:
    """The exceptions of a connection lost mid-body (requests is imported on first use)."""
    import requests
    import urllib3

    return (
        requests.exceptions.ChunkedEncodingError,
        requests.exceptions.ConnectionError,
        requests.exceptions.Timeout,
        urllib3.exceptions.ProtocolError,
        urllib3.exceptions.ReadTimeoutError,
    )


def _session():
    """A requests session that retries connecting and 5xx answers (urllib3's Retry, bounded)."""
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    session = requests.Session()
    retry = Retry(total=HTTP_RETRIES, backoff_factor=0.2, status_forcelist=(500, 502, 503, 504))
    session.mount("http://", HTTPAdapter(max_retries=retry))
    session.mount("https://", HTTPAdapter(max_retries=retry))
    return session


class ResumableHttpStream(io.RawIOBase):
    """A remote file read front to back; a connection dropped mid-body is reopened from the byte
    reached (an HTTP Range request; a server that ignores Range is read again up to that byte), at
    most ``HTTP_RETRIES`` times, so no byte, and no sample, is read twice.

    Written here because requests and urllib3 retry only until the response starts, not a body cut
    short; fsspec's HTTP file system needs aiohttp, which the project does not carry.
    """

    def __init__(self, session, url: str) -> None:
        super().__init__()
        self.session, self.url = session, url
        self.position = 0
        self.reconnects = 0
        self._response = None
        self._open()

    def _open(self) -> None:
        import requests

        headers = {"Range": f"bytes={self.position}-"} if self.position else {}
        try:
            response = self.session.get(self.url, headers=headers, stream=True, timeout=HTTP_TIMEOUT_S)
        except requests.RequestException as error:
            raise DownloadError(
                f"{self.url}: cannot connect ({error.__class__.__name__}). Offline? Download the shards "
                "elsewhere and pass their folder with --data-root"
            ) from None
        if response.status_code == 404:
            response.close()
            raise FileNotFoundError(self.url)
        if response.status_code >= 400:
            response.close()
            raise DownloadError(f"{self.url}: HTTP {response.status_code} {response.reason}")
        skip = self.position if self.position and response.status_code != 206 else 0
        self._response = response
        while skip:  # the server sent the whole file again: pass over what was already read
            chunk = response.raw.read(min(skip, 1 << 20))
            if not chunk:
                raise DownloadError(
                    f"{self.url}: shorter on reconnecting than before ({self.position} bytes)"
                )
            skip -= len(chunk)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        while True:
            try:
                data = self._response.raw.read(None if size is None or size < 0 else size)
            except _dropped_errors() as error:
                self._response.close()
                if self.reconnects >= HTTP_RETRIES:
                    raise DownloadError(
                        f"{self.url}: the connection dropped {self.reconnects + 1} times (last at byte "
                        f"{self.position}: {error.__class__.__name__}); try again later or download the "
                        "shards and pass --data-root"
                    ) from None
                self.reconnects += 1
                self._open()
                continue
            self.position += len(data)
            return data

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if self._response is not None:
            self._response.close()
        super().close()


@dataclass(frozen=True)
class HttpSource:
    """Any static HTTP(S) server, through requests (no credentials are sent)."""

    base_url: str

    def describe(self) -> str:
        return self.base_url

    def url(self, relpath: str) -> str:
        return f"{self.base_url.rstrip('/')}/{relpath}"

    def version(self, relpath: str) -> str | None:
        """The server's ETag, Last-Modified and Content-Length (a HEAD request): a shard rewritten on
        the server is a new cache entry. None where the server says none (then only the URL counts)."""
        import requests

        try:
            response = _shared_session().head(self.url(relpath), allow_redirects=True, timeout=HTTP_TIMEOUT_S)
        except requests.RequestException:
            return None  # reading the shard will name the problem
        if response.status_code >= 400:
            return None
        tags = [response.headers.get(name) for name in ("ETag", "Last-Modified", "Content-Length")]
        return ":".join(tag or "" for tag in tags) if any(tags) else None

    def open(self, relpath: str) -> BinaryIO:
        return ResumableHttpStream(_shared_session(), self.url(relpath))


_SESSIONS: dict[int, object] = {}


def _shared_session():
    """One session per process (DataLoader workers each get their own after the fork)."""
    pid = os.getpid()
    if pid not in _SESSIONS:
        _SESSIONS[pid] = _session()
    return _SESSIONS[pid]


@dataclass(frozen=True)
class HuggingFaceSource:
    """A dataset repo on the Hugging Face hub, read through huggingface_hub's ``HfFileSystem``: it
    sends the user's token (``HF_TOKEN`` or ``huggingface-cli login``) to the hub only, not to the
    host a large file is redirected to, honours ``HF_ENDPOINT``, and reconnects a dropped stream from
    the byte reached. ``commit`` is the revision resolved once, so every shard and every result
    refers to one fixed state of the repo."""

    repo: str
    revision: str  # as asked for ("main", a tag, a branch or a commit)
    commit: str  # the commit it resolved to
    endpoint: str

    def describe(self) -> str:
        return f"hf://{self.repo}@{self.commit}"

    def url(self, relpath: str) -> str:
        return f"hf://{self.repo}@{self.commit}/{relpath}"

    def version(self, relpath: str) -> str | None:
        return self.commit

    def open(self, relpath: str) -> BinaryIO:
        from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError

        try:
            f = _hf_file_system(self.endpoint).open(
                f"datasets/{self.repo}@{self.commit}/{relpath}", "rb", block_size=0
            )
            f.read(0)  # connects now, so a missing file is FileNotFoundError here, not mid-read
        except (FileNotFoundError, EntryNotFoundError):
            raise FileNotFoundError(self.url(relpath)) from None
        except HfHubHTTPError as error:
            if getattr(error.response, "status_code", None) == 404:
                raise FileNotFoundError(self.url(relpath)) from None
            raise DownloadError(_hub_failure(self.url(relpath), error)) from None
        except OSError as error:
            raise DownloadError(_hub_failure(self.url(relpath), error)) from None
        return f


@functools.cache
def _hf_file_system(endpoint: str):
    from huggingface_hub import HfFileSystem

    return HfFileSystem(endpoint=endpoint)


def _hub_failure(what: str, error: BaseException) -> str:
    reason = str(error).splitlines()[0] if str(error) else type(error).__name__
    return (
        f"{what}: cannot read from the Hugging Face hub ({reason}). Offline? Download the shards "
        "elsewhere and pass their folder with --data-root"
    )


def huggingface_source(spec: str) -> HuggingFaceSource:
    """``owner/repo[@revision]`` -> a source pinned to the commit the revision names now."""
    from huggingface_hub import HfApi

    repo, _, revision = spec.partition("@")
    revision = revision or "main"
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
    try:
        commit = HfApi(endpoint=endpoint).dataset_info(repo, revision=revision).sha
    except Exception as error:  # offline, unknown repo or revision: hub clients raise many types
        raise DownloadError(_hub_failure(f"hf://{repo}@{revision}", error)) from None
    if not commit:
        raise DownloadError(f"hf://{repo}@{revision}: the hub did not say which commit this revision is")
    return HuggingFaceSource(repo, revision, commit, endpoint)


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
