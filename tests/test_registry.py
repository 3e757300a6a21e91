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


def test_aliases_resolve_and_cannot_take_another_entrys_name():
    registry: Registry = Registry("thing")
    registry.add("imagenet1k", "json:dumps", aliases=("imagenet", "in1k"))
    assert registry.get("imagenet") is registry.get("imagenet1k")
    assert "in1k" in registry and registry.names() == ["imagenet1k"]
    assert registry.canonical("in1k") == "imagenet1k"
    with pytest.raises(ValueError, match="'imagenet' is already registered for 'imagenet1k'"):
        registry.add("other", "json:loads", aliases=("imagenet",))
    with pytest.raises(ValueError, match="already registered for 'imagenet1k'"):
        registry.add("in1k", "json:loads")


def fake_entry_points(monkeypatch, group: str, name: str, value: str) -> None:
    from importlib.metadata import EntryPoint, EntryPoints

    import cnclip_eval.registry as registry_module

    points = EntryPoints([EntryPoint(name, value, group)])
    monkeypatch.setattr(registry_module, "_installed_entry_points", lambda: points)


def test_a_plugin_colliding_with_a_built_in_name_is_an_error(monkeypatch):
    from cnclip_eval.errors import UserError

    fake_entry_points(monkeypatch, "cnclip_eval.things", "baseline", "evil.module:Method")
    registry: Registry = Registry("thing")
    registry.add("baseline", "json:dumps")
    with pytest.raises(UserError, match=r"evil.module:Method .*collides with a built-in thing 'baseline'"):
        registry.get("baseline")  # not silently the built-in either


def test_a_plugin_with_a_new_name_is_listed_and_loaded(monkeypatch):
    fake_entry_points(monkeypatch, "cnclip_eval.things", "extra", "json:loads")
    registry: Registry = Registry("thing")
    registry.add("baseline", "json:dumps")
    import json

    assert registry.names() == ["baseline", "extra"]
    assert registry.get("extra") is json.loads


def run_python(code: str) -> str:
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.parametrize("what", ["models", "methods", "datasets", "templates", "metrics", "formats"])
def test_ls_does_not_import_torch(what):
    code = (
        "import sys, io, contextlib\n"
        "from cnclip_eval.cli import main\n"
        f"with contextlib.redirect_stdout(io.StringIO()): assert main(['ls', '{what}']) == 0\n"
        "print(sorted(m for m in ('torch', 'transformers', 'open_clip', 'cn_clip') if m in sys.modules))"
    )
    assert run_python(code) == "[]"


def test_templates_resolve_without_the_catalog():
    """Registration runs one way: the demo templates need no import of the dataset catalog."""
    code = (
        "import sys\n"
        "from cnclip_eval.templates import resolve_templates\n"
        "print(len(resolve_templates('demo-zh')), 'cnclip_eval.data.catalog' in sys.modules)"
    )
    assert run_python(code) == "8 False"


def test_catalog_modules_do_not_import_the_catalog():
    code = (
        "import sys\n"
        "import cnclip_eval.data.elevater, cnclip_eval.demo.dataset\n"
        "print('cnclip_eval.data.catalog' in sys.modules)"
    )
    assert run_python(code) == "False"
