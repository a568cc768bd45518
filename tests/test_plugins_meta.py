"""Meta-tests (as datasette keeps them): every hook of gamesim/hookspecs.py has a test named
after it somewhere in tests/, and its exact signature appears in docs/plugins.md."""

import glob
import inspect
import os
import re

import pytest

from gamesim import hookspecs

from conftest import REPO

HOOKS = sorted(name for name, fn in vars(hookspecs).items()
               if name.startswith("gamesim_") and inspect.isfunction(fn))


def test_hooks_are_found():
    assert "gamesim_register_targets" in HOOKS and "gamesim_run_end" in HOOKS
    assert len(HOOKS) == 10


def defined_test_names():
    names = set()
    for path in glob.glob(os.path.join(REPO, "tests", "*.py")):
        with open(path) as f:
            names |= set(re.findall(r"^def (test_\w+)", f.read(), re.M))
    return names


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_test_named_after_it(hook):
    assert any(name == f"test_{hook}" or name.startswith(f"test_{hook}_")
               for name in defined_test_names()), f"no test named test_{hook}... in tests/"


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_signature_is_documented(hook):
    with open(os.path.join(REPO, "docs", "plugins.md")) as f:
        doc = f.read()
    signature = f"{hook}{inspect.signature(getattr(hookspecs, hook))}"
    assert f"`{signature}`" in doc, f"docs/plugins.md lacks `{signature}`"


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_docstring(hook):
    assert inspect.getdoc(getattr(hookspecs, hook))
