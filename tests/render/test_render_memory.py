"""End to end: a full-size colour-run video renders in bounded memory (subprocess, slow)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    from mini.render import LatentAnimation, ScatterLayer, CurvePanel, Curve, frame_steps, probe

    n_steps, n_frames = 20_001, 600
    steps = frame_steps(n_steps, n_frames)
    rng = np.random.default_rng(0)
    colors = rng.random((1000, 3))
    positions = rng.normal(size=(n_frames, 1000, 2)).astype(np.float32)
    x = np.arange(n_steps)
    panels = [
        CurvePanel([Curve(x, np.cos(x / 3000.0 + k), f"p{k}")], title=f"p{k}") for k in range(6)
    ]
    panels.append(
        CurvePanel([Curve(x, np.exp(-x / 4000.0) + 1e-4, "recon"),
                    Curve(x, np.exp(-x / 8000.0) + 1e-4, "reg")], log=True, title="losses")
    )
    def hwm_kb():  # this process's peak RSS (ru_maxrss would include pytest's: it survives exec)
        return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM"))

    before = hwm_kb()
    anim = LatentAnimation(steps, [ScatterLayer(positions, colors=colors)], panels)
    stats = anim.render(sys.argv[1], progress=False)
    peak = hwm_kb()
    print(json.dumps({"frames": probe(sys.argv[1]).frames, "rendered": stats.frames,
                      "before_mb": before / 1024, "peak_mb": peak / 1024}))
    """
)


@pytest.mark.slow
def test_full_size_render_streams_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "latent-evolution.mp4"
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(path)],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["frames"] == result["rendered"] == 600
    # 600 frames of 1280×720 RGBA would be 2.2 GB if held; streaming keeps the render small.
    assert result["peak_mb"] - result["before_mb"] < 150
    assert result["peak_mb"] < 600
