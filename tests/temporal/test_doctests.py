"""The examples in mini.temporal's docstrings run, and say what they print."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import mini.temporal

MODULES = sorted(
    {"mini.temporal"}
    | {f"mini.temporal.{m.name}" for m in pkgutil.iter_modules(mini.temporal.__path__)}
    - {"mini.temporal.__main__"}
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed"


def test_the_package_docstring_has_examples() -> None:
    assert doctest.testmod(mini.temporal).attempted >= 5
