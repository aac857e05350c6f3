from __future__ import annotations

import subprocess
import sys


def test_ex_color_never_imports_vq_or_pyplot():
    code = (
        "import sys, ex_color, ex_color.experiment, ex_color.handlers;"
        "bad = [m for m in sys.modules if m == 'vq' or m.startswith(('vq.', 'matplotlib.pyplot'))];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
