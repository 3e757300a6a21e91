from __future__ import annotations

import pytest

from cnclip_eval.errors import UnknownNameError
from cnclip_eval.registry import Registry


def test_lazy_entries_import_on_first_use():
    registry: Registry = Registry("thing")
    registry.add("dumps", "json:dumps", "a lazy entry")
    import json

    assert registry.get("dumps") is json.dumps


def test_unknown_name_lists_valid_names_and_close_match():
    registry: Registry = Registry("thing")
    registry.add("baseline", object())
    registry.add("bilingual", object())
    with pytest.raises(UnknownNameError) as info:
        registry.get("baselne")
    assert "Did you mean: baseline" in str(info.value)
    assert "Available: baseline, bilingual" in str(info.value)


def test_name_collisions_are_refused():
    registry: Registry = Registry("thing")
    registry.add("a", "json:dumps")
    registry.add("a", "json:dumps")  # the same entry again is fine
    with pytest.raises(ValueError, match="already registered"):
        registry.add("a", "json:loads")
