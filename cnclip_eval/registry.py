"""One generic registry for models, methods, datasets, template sets and commands.

Entries are registered three ways:

* a decorator, ``@METHODS.register("baseline", summary="...")``;
* a lazy ``"module:attr"`` string, so heavy modules cost nothing until a name is used (``ls``
  lists names and summaries without importing a single provider);
* package entry points (group ``cnclip_eval.<registry name>s``), so third parties can add entries.
  A plugin may not take a built-in name or alias: that is an error naming the plugin, not a silent
  shadow in either direction.

An entry may have aliases (``imagenet`` for ``imagenet1k``); ``get`` and ``in`` accept them,
``names`` lists only canonical names. An unknown name raises
:class:`~cnclip_eval.errors.UnknownNameError`, which lists the valid names and the closest match.

Registration runs one way: a registry's module (or the module that owns its built-in entries)
adds them; entry modules never import the registry's owner back to register themselves.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Generic, TypeVar

from cnclip_eval.errors import UnknownNameError, UserError

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    name: str
    summary: str
    target: T | str  # the object, or "module:attr" until first use
    aliases: tuple[str, ...] = ()
    plugin: bool = False


class Registry(Generic[T]):
    """A named collection of entries of one kind (``kind`` appears in error messages)."""

    def __init__(self, kind: str, group: str | None = None) -> None:
        self.kind = kind
        # the entry-point group third parties register under
        self.group = group or f"cnclip_eval.{kind.replace(' ', '_')}s"
        self._entries: dict[str, Entry[T]] = {}
        self._aliases: dict[str, str] = {}  # alias -> canonical name
        self._loaded: dict[str, T] = {}
        self._entry_points_loaded = False

    def register(self, name: str, summary: str = "", aliases: tuple[str, ...] = ()) -> Callable[[T], T]:
        """Decorator form: ``@REGISTRY.register("name", summary="...")``."""

        def decorate(obj: T) -> T:
            self.add(name, obj, summary, aliases)
            return obj

        return decorate

    def add(self, name: str, target: T | str, summary: str = "", aliases: tuple[str, ...] = ()) -> None:
        """Add an object or a lazy ``"module:attr"`` reference under ``name`` (and ``aliases``)."""
        existing = self._entries.get(name)
        if existing is not None and existing.target != target:
            raise ValueError(f"{self.kind} {name!r} is already registered ({existing.target!r})")
        for word in (name, *aliases):
            owner = self._aliases.get(word) or (word if word != name and word in self._entries else None)
            if owner is not None and owner != name:
                raise ValueError(f"{self.kind} {word!r} is already registered for {owner!r}")
        self._entries[name] = Entry(name, summary, target, tuple(aliases))
        for alias in aliases:
            self._aliases[alias] = name

    def canonical(self, name: str) -> str:
        """The registered name that ``name`` (a name or an alias) stands for; unknown names raise."""
        self._load_entry_points()
        name = self._aliases.get(name, name)
        if name not in self._entries:
            raise UnknownNameError(self.kind, name, self.names())
        return name

    def get(self, name: str) -> T:
        """The object registered under ``name`` or an alias; imports a lazy entry on first use."""
        if name in self._loaded:
            return self._loaded[name]
        entry = self._entries[self.canonical(name)]
        obj = _resolve(entry.target) if isinstance(entry.target, str) else entry.target
        self._loaded[name] = obj
        return obj

    def entry(self, name: str) -> Entry[T]:
        """The entry (summary, aliases) of ``name`` without importing its target."""
        return self._entries[self.canonical(name)]

    def __contains__(self, name: str) -> bool:
        self._load_entry_points()
        return name in self._entries or name in self._aliases

    def names(self) -> list[str]:
        self._load_entry_points()
        return sorted(self._entries)

    def aliases(self) -> dict[str, str]:
        """alias -> canonical name."""
        self._load_entry_points()
        return dict(self._aliases)

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
        group = self.group
        for ep in _installed_entry_points().select(group=group):
            if ep.name in self._entries or ep.name in self._aliases:
                taken = self._entries.get(self._aliases.get(ep.name, ep.name))
                if taken is not None and taken.plugin and taken.target == ep.value:
                    continue  # one distribution seen twice on the path
                what = "a plugin's" if taken is not None and taken.plugin else "a built-in"
                raise UserError(
                    f"plugin entry point {ep.name} = {ep.value} (group {group}) collides with {what} "
                    f"{self.kind} {ep.name!r}; rename the plugin's entry point or uninstall it"
                )
            self._entries[ep.name] = Entry(ep.name, f"(plugin {ep.value})", ep.value, plugin=True)


@cache
def _installed_entry_points():
    """Every installed distribution's entry points, read once per process for all registries."""
    from importlib.metadata import entry_points

    return entry_points()


def _resolve(reference: str):
    module_name, _, attr = reference.partition(":")
    obj = importlib.import_module(module_name)
    for part in attr.split(".") if attr else []:
        obj = getattr(obj, part)
    return obj
