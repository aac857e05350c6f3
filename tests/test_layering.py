"""The package map in docs/architecture.md, enforced: which package may import which, no import
cycles, and the lean imports users rely on."""

from __future__ import annotations

import ast
import subprocess
import sys
from itertools import pairwise
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("mini", "ex_color", "vq")

# package prefix -> prefixes of ours it must never import (at module level or inside functions)
FORBIDDEN = {
    "mini.temporal": ("mini.training", "mini.render", "mini.adapters", "mini.loggers",
                      "mini.explore", "mini.search", "ex_color", "vq", "examples", "torch"),
    "mini.render": ("mini.training", "mini.adapters", "mini.explore", "ex_color", "vq",
                    "examples", "torch"),
    "mini.training": ("mini.adapters", "mini.explore", "mini.search", "ex_color", "vq",
                      "examples"),
    # a script's plumbing (flags, exit codes, run folders, outputs): the trainer and the
    # dopesheet only, so any script can use it; its --explore half lives in mini.explore.script
    "mini.training.script": ("mini.adapters", "mini.explore", "mini.search", "mini.loggers",
                             "mini.render", "ex_color", "vq", "examples"),
    "mini.adapters": ("mini.explore", "mini.search", "ex_color", "vq", "examples"),
    "mini.loggers": ("mini.explore", "mini.search", "ex_color", "vq", "examples"),
    "mini.explore": ("mini.search", "ex_color", "vq", "examples"),
    "mini.search": ("mini.explore", "ex_color", "vq", "examples"),
    "ex_color": ("vq", "examples"),
    # the quantizer library at the top of vq: no trainer glue, plots or tokenizer, no pandas
    # (VQAutoencoder reads the trainer's Result type and k-means seeding loads scikit-learn only
    # when they run: the lean-import test below checks what an import loads)
    "vq": ("vq.train", "vq.viz", "vq.tokenizer", "pandas", "mini.explore", "ex_color", "examples"),
    "vq.train": ("vq.viz", "vq.tokenizer", "mini.explore", "ex_color", "examples"),
    "vq.viz": ("vq.tokenizer", "ex_color", "examples"),
    "vq.tokenizer": ("ex_color", "examples"),
}  # fmt: skip


def _modules() -> dict[str, Path]:
    found = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _imports(name: str, path: Path, *, top_level_only: bool) -> set[str]:
    """Modules imported by ``name`` at run time (not under ``if TYPE_CHECKING``); with
    ``top_level_only``, only those executed on import (not inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if top_level_only and isinstance(
                child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
            ):
                continue
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue  # type hints only: never imported at run time
            if isinstance(child, ast.Import):
                found.update(a.name for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")
                    base = base[: len(base) - child.level + 1]
                    mod = ".".join(base + ([child.module] if child.module else []))
                else:
                    mod = child.module or ""
                found.add(mod)
                found.update(f"{mod}.{a.name}" for a in child.names)
            visit(child)

    visit(tree)
    return found


MODULES = _modules()


def _owner(name: str) -> str | None:
    return max((p for p in FORBIDDEN if name == p or name.startswith(p + ".")), key=len,
               default=None)  # fmt: skip


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_follow_the_layering(name: str) -> None:
    owner = _owner(name)
    if owner is None:
        return
    bad = sorted(
        imp
        for imp in _imports(name, MODULES[name], top_level_only=False)
        if any(imp == f or imp.startswith(f + ".") for f in FORBIDDEN[owner])
    )
    assert not bad, f"{name} ({owner}) imports {bad}: see docs/architecture.md"


def test_no_import_cycles() -> None:
    """No two of our modules need each other, at import time or inside functions (a package
    importing its own submodules is the usual ``__init__`` pattern and not counted)."""
    graph = {
        name: {
            m
            for m in _imports(name, path, top_level_only=False)
            if m in MODULES and m != name and not m.startswith(name + ".")
        }
        for name, path in MODULES.items()
    }
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def walk(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                walk(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            walk(node)
    # a module importing its own package's __init__ (re-exported names) back is not a cycle
    real = [
        c
        for c in cycles
        if not any(b.startswith(a + ".") or a.startswith(b + ".") for a, b in pairwise(c))
    ]
    assert not real, "import cycles: " + "; ".join(" -> ".join(c) for c in real)


LEAN = {
    "from mini.temporal import Timeline": ("torch", "pandas", "matplotlib"),
    "from vq import VectorQuantizer": ("mini.training", "rich", "pandas", "sklearn", "scipy"),
    "from vq import VQAutoencoder": ("mini.training", "rich", "pandas", "sklearn"),
    "import mini.adapters": ("mini.training.trainer", "lightning", "ignite"),
}


@pytest.mark.parametrize("statement", sorted(LEAN))
def test_lean_imports(statement: str) -> None:
    forbidden = LEAN[statement]
    code = (
        f"import sys\n{statement}\n"
        f"print(sorted({{m.split('.')[0] if m.split('.')[0] != 'mini' else m for m in sys.modules}}"
        f" & set({list(forbidden)!r})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "[]", f"`{statement}` loads {out}"
