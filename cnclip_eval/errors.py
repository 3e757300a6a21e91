"""Errors a user can act on.

Everything raised as :class:`UserError` is a mistake in the input (a name, a path, a file's
content), not a bug: the CLI prints its message on one line and exits non-zero, with no traceback.
Messages name the file, shard, sample key or class and say what was expected.
"""

from __future__ import annotations

import difflib


class UserError(Exception):
    """Bad input from the user; the message must say what was wrong and what was expected."""

    exit_code = 2


class UnknownNameError(UserError, KeyError):
    """A name that no registry knows."""

    def __init__(self, kind: str, name: str, valid: list[str]) -> None:
        self.kind, self.name, self.valid = kind, name, valid
        close = difflib.get_close_matches(name, valid, n=3, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        super().__init__(f"Unknown {kind} {name!r}.{hint} Available: {', '.join(valid) or '(none)'}")

    def __str__(self) -> str:  # KeyError would quote the message
        return self.args[0]


class DataError(UserError):
    """A dataset, shard or sample that does not match the expected layout."""


class DownloadError(UserError):
    """A download that failed (offline, wrong URL); says where it tried and what to do instead."""
