"""Every public class and function says what its arguments are: each name in a package's
``__all__`` (and each public method of a public class) that takes arguments has an ``Args:``
section naming every one of them (``Attributes:`` for a dataclass's fields). The API reference
(mkdocstrings, ``docs/api/``) is built from these sections."""

from __future__ import annotations

import dataclasses
import enum
import importlib
import inspect
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

# the packages whose __all__ is the public API, and the modules users import directly
PUBLIC = [
    "ex_color",
    "mini.adapters",
    "mini.explore",
    "mini.loggers",
    "mini.render",
    "mini.search",
    "mini.temporal",
    "mini.training",
    "mini.training.script",
    "vq",
    "mini.explore.script",
]
# methods whose arguments a protocol defines once for every class that has them
PROTOCOL_METHODS = {
    "load_state_dict": "torch's protocol: the state that state_dict() returned",
    "attach": "a handler's hook, attach(trainer): docs/events.md",
}
SECTION = re.compile(r"^(Args|Arguments|Attributes|Parameters):\n((?:[ \t]+.*\n?|\n)*)", re.M)
ENTRY = re.compile(r"\**(\w+)(?: \(.*?\))?:")


def documented(doc: str | None) -> set[str]:
    """The names listed in a docstring's ``Args:``/``Attributes:`` sections (the lines
    indented like the section's first; deeper lines continue an entry)."""
    names: set[str] = set()
    for _, body in SECTION.findall(doc or ""):
        lines = [line for line in body.splitlines() if line.strip()]
        indent = len(lines[0]) - len(lines[0].lstrip()) if lines else 0
        for line in lines:
            entry = ENTRY.match(line[indent:]) if not line[indent].isspace() else None
            if entry:
                names.add(entry.group(1))
    return names


def parameters(fn: Callable[..., Any]) -> list[str]:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return []
    return [p for p in sig.parameters if p not in ("self", "cls")]


def public_callables() -> Iterator[tuple[str, Callable[..., Any], str]]:
    """(qualified name, callable, its docstring) for each public function, class constructor
    and public method of a public class."""
    seen: set[int] = set()
    for package in PUBLIC:
        module = importlib.import_module(package)
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            where = f"{package}.{name}"
            if inspect.isclass(obj):
                if issubclass(obj, enum.Enum | BaseException) or getattr(obj, "_is_protocol", 0):
                    continue
                init_doc = obj.__init__.__doc__ if "__init__" in vars(obj) else None
                yield where, obj, f"{inspect.getdoc(obj)}\n{inspect.cleandoc(init_doc or '')}"
                for attr, value in vars(obj).items():
                    fn = value.__func__ if isinstance(value, staticmethod | classmethod) else value
                    if attr.startswith("_") or not inspect.isfunction(fn):
                        continue
                    if attr not in PROTOCOL_METHODS:
                        yield f"{where}.{attr}", fn, inspect.getdoc(fn) or ""
            elif inspect.isfunction(obj):
                yield where, obj, inspect.getdoc(obj) or ""


CALLABLES = sorted(
    ((where, fn, doc) for where, fn, doc in public_callables() if parameters(fn)),
    key=lambda c: c[0],
)


@pytest.mark.parametrize(("where", "fn", "doc"), CALLABLES, ids=[c[0] for c in CALLABLES])
def test_every_argument_is_documented(where: str, fn: Callable[..., Any], doc: str) -> None:
    missing = [p for p in parameters(fn) if p not in documented(doc)]
    kind = "Attributes:" if dataclasses.is_dataclass(fn) else "Args:"
    assert not missing, f"{where}: add {missing} to its {kind} section"


def test_the_check_sees_a_missing_argument() -> None:
    def scale(x: float, factor: float) -> float:
        """Scale.

        Args:
            x: the value.
        """
        return x * factor

    assert documented(scale.__doc__ and inspect.getdoc(scale)) == {"x"}
    assert [p for p in parameters(scale) if p not in documented(inspect.getdoc(scale))] == [
        "factor"
    ]
