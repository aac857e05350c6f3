"""Layering: Gradio is imported only by the page itself (mini.explore.app); the trainer knows
nothing of the explorer."""

from __future__ import annotations

import subprocess
import sys


def run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_the_explorer_and_its_panels_import_without_gradio():
    code = (
        "import sys, mini.explore, mini.explore.controller, mini.explore.views, vq.viz.explore, "
        "ex_color.explore;"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('gradio', 'playwright', 'fastapi')];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = run(code)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_training_never_imports_the_explorer():
    proc = run(
        "import sys, mini.training, mini.training.watch;"
        "sys.exit(1 if any(m.startswith('mini.explore') for m in sys.modules) else 0)"
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
