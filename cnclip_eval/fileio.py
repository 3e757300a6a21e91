"""Atomic writes, content hashes and checked JSON reads: every cache and result file goes through here.

A file is written to a temporary sibling and renamed into place, so a reader (or a resumed run)
never sees half a file, whatever kills the writer.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any


def _default_mode() -> int:
    # mkstemp makes 0600 files; results and caches should get the mode any new file gets here
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


FILE_MODE = _default_mode()


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], None]) -> Path:
    """Call ``write(fileobj)`` on a temporary file next to ``path``, then rename it into place.

    A folder that cannot take the file (disk full, read-only, no permission) is a user error naming
    the folder and the file; the folder is made again when it was removed while the run went on."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as error:
        raise _unwritable(path, error) from None
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except OSError as error:
        Path(tmp).unlink(missing_ok=True)
        raise _unwritable(path, error) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _unwritable(path: Path, error: OSError):
    from cnclip_eval.errors import UserError

    return UserError(f"cannot write {path.name} into {path.parent}: {error.strerror or error}")


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    return atomic_write(path, lambda f: f.write(data))


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=False) + "\n")


def sha256_file(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_json(obj: Any) -> str:
    """A stable hash of JSON-able data (keys sorted), used to key caches by their inputs."""
    blob = json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def read_json(path: str | os.PathLike, what: str) -> Any:
    """Parsed JSON; a missing or unparsable file is a user error naming the file and what it should be."""
    from cnclip_eval.errors import UserError

    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: no such {what}") from None
    except IsADirectoryError:
        raise UserError(f"{path}: a folder, expected a {what}") from None
    except OSError as error:
        raise UserError(f"{path}: cannot read the {what} ({error.strerror or error})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UserError(f"{path}: not JSON, expected a {what} ({error})") from None
