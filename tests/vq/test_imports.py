"""Layering: vq uses mini.* and torch, never ex_color (nor pyplot, which examples own)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
VQ = ROOT / "vq"


def _run(code: str) -> subprocess.CompletedProcess:
    """``python -c code`` in the repository root, importing this checkout's packages."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env
    )


def test_vq_never_imports_ex_color_at_runtime() -> None:
    code = (
        "import sys, vq, vq.train.health, vq.models, vq.train.wiring, vq.train.data;"
        "bad = [m for m in sys.modules if m == 'ex_color' or "
        "m.startswith(('ex_color.', 'matplotlib.pyplot'))];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = _run(code)
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


@pytest.mark.parametrize(
    "names",
    [
        "VectorQuantizer, ResidualVQ, codebook_orthogonality",
        "VQAutoencoder, digits_vqvae, digits_vqvae_2d",
    ],
)
def test_importing_the_quantizer_and_the_autoencoder_stays_light(names: str) -> None:
    """``from vq import VectorQuantizer`` (or ``VQAutoencoder``) costs torch and the quantizer:
    no scikit-learn, pandas, rich or trainer (those load when a name that needs them is first
    used)."""
    code = (
        f"import sys; from vq import {names};"
        "heavy = ('sklearn', 'pandas', 'rich', 'mini.training', 'matplotlib');"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy or "
        "m.startswith('mini.training')))"
    )
    proc = _run(code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_every_exported_name_resolves_lazily() -> None:
    import vq

    for name in vq.__all__:
        assert getattr(vq, name) is not None, name
    assert set(vq.__all__) <= set(dir(vq))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        vq.nope  # noqa: B018
