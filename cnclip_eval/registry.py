"""One generic registry for models, methods, datasets, template sets and commands.

Entries are registered three ways:

* a decorator, ``@METHODS.register("baseline", summary="...")``;
* a lazy ``"module:attr"`` string, so heavy modules cost nothing until a name is used;
* package entry points (group ``cnclip_eval.<registry name>``), so third parties can add entries.

An unknown name raises :class:`~cnclip_eval.errors.UnknownNameError`, which lists the valid names
and the closest match.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from cnclip_eval.errors import UnknownNameError

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    name: str
    summary: str
    target: T | str  # the object, or "module:attr" until first use


class Registry(Generic[T]):
    """A named collection of entries of one kind (``kind`` appears in error messages)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}
        self._loaded: dict[str, T] = {}
        self._entry_points_loaded = False

    def register(self, name: str, summary: str = "") -> Callable[[T], T]:
        """Decorator form: ``@REGISTRY.register("name", summary="...")``."""

        def decorate(obj: T) -> T:
            self.add(name, obj, summary)
            return obj

        return decorate

    def add(self, name: str, target: T | str, summary: str = "") -> None:
        """Add an object or a lazy ``"module:attr"`` reference under ``name``."""
        existing = self._entries.get(name)
        if existing is not None and existing.target != target:
            raise ValueError(f"{self.kind} {name!r} is already registered ({existing.target!r})")
        self._entries[name] = Entry(name, summary, target)

    def get(self, name: str) -> T:
        """The object registered under ``name``; imports a lazy entry on first use."""
        if name in self._loaded:
            return self._loaded[name]
        entry = self._entries.get(name)
        if entry is None:
            self._load_entry_points()
            entry = self._entries.get(name)
        if entry is None:
            raise UnknownNameError(self.kind, name, self.names())
        obj = _resolve(entry.target) if isinstance(entry.target, str) else entry.target
        self._loaded[name] = obj
        return obj

    def __contains__(self, name: str) -> bool:
        self._load_entry_points()
        return name in self._entries

    def names(self) -> list[str]:
        self._load_entry_points()
        return sorted(self._entries)

    def entries(self) -> Iterator[Entry[T]]:
        for name in self.names():
            yield self._entries[name]

    def closest(self, name: str) -> str | None:
        matches = difflib.get_close_matches(name, self.names(), n=1, cutoff=0.5)
        return matches[0] if matches else None

    def _load_entry_points(self) -> None:
        if self._entry_points_loaded:
            return
        self._entry_points_loaded = True
        from importlib.metadata import entry_points

        group = f"cnclip_eval.{self.kind.replace(' ', '_')}s"
        for ep in entry_points(group=group):
            if ep.name not in self._entries:
                self._entries[ep.name] = Entry(ep.name, f"(plugin {ep.value})", ep.value)


def _resolve(reference: str):
    module_name, _, attr = reference.partition(":")
    obj = importlib.import_module(module_name)
    for part in attr.split(".") if attr else []:
        obj = getattr(obj, part)
    return obj
