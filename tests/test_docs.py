"""The runnable examples in the docstrings of every public module run and give what they show."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import photomatch

MODULES = sorted(
    m.name for m in pkgutil.iter_modules(photomatch.__path__, "photomatch.")
    if not m.name.rsplit(".", 1)[1].startswith("_") or m.name.endswith("__init__")
) + ["photomatch"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    if name == "photomatch.__main__":
        pytest.skip("running it would start the command line")
    if name == "photomatch.ray":
        pytest.importorskip("ray.data", reason="photomatch.ray needs Ray: pip install 'photomatch[ray]'")
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"


def test_every_public_function_has_an_example():
    missing = []
    for name in photomatch.__all__:
        obj = getattr(photomatch, name)
        if callable(obj) and not isinstance(obj, type) and ">>>" not in (obj.__doc__ or ""):
            missing.append(name)
    assert missing == []
