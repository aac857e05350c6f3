"""Layering: vq uses mini.* and torch, never ex_color (nor pyplot, which examples own)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

VQ = Path(__file__).parents[2] / "vq"


def test_vq_never_imports_ex_color_at_runtime() -> None:
    code = (
        "import sys, vq, vq.health, vq.models, vq.wiring, vq.data;"
        "bad = [m for m in sys.modules if m == 'ex_color' or "
        "m.startswith(('ex_color.', 'matplotlib.pyplot'))];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_no_vq_module_mentions_ex_color_in_an_import() -> None:
    for path in VQ.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            assert not any(n.split(".")[0] == "ex_color" for n in names), path
