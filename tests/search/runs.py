"""Run functions for the search tests (module level, so worker processes can import them)."""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

from mini.temporal import Dopesheet, Timeline

SPACE = """STEP,PHASE,lr:log,w
0,Warm,?1e-4..1e-2,0
?+100..+500,,,?{0.1 0.5 1}
1000,Main,?1e-5..1e-3 linear,1
"""


def space(tmp_path: Path) -> Path:
    path = tmp_path / "space.csv"
    path.write_text(SPACE)
    return path


def score(ds: Dopesheet) -> dict[str, float]:
    """A deterministic function of the whole schedule: best near lr 1e-3 and w 0.5."""
    tl = Timeline(ds)
    v = tl[len(tl) // 2].props
    q = -abs(math.log10(v["lr"]) + 3) - (v["w"] - 0.5) ** 2 - ds.rows[1].step / 1e4
    return {"q": q, "lr_mid": v["lr"], "w_mid": v["w"]}


def quality(ds, reporter):  # type: ignore[no-untyped-def]
    return score(ds)


def crashing(ds, reporter):  # type: ignore[no-untyped-def]
    """Crashes on half the set values, returns NaN on another."""
    w = ds.keyframes("w")[1][1]
    if w == 1.0:
        raise RuntimeError("diverged")
    if w == 0.1:
        return {"q": math.nan}
    return score(ds)


def reporting(ds, reporter):  # type: ignore[no-untyped-def]
    """Reports a value that stays at the final score for 10 steps (pruning reads it)."""
    q = score(ds)["q"]
    for step in range(10):
        reporter.report(step, {"q": q})
    return {"q": q}


def two_goals(ds, reporter):  # type: ignore[no-untyped-def]
    """Two conflicting objectives: ``a`` wants a high start lr, ``b`` a low one."""
    lr = ds.keyframes("lr")[0][1]
    a = math.log10(lr)
    return {"a": a, "b": -a - 0.5 * (ds.keyframes("w")[1][1] - 0.5) ** 2}


def stalling(ds, reporter):  # type: ignore[no-untyped-def]
    """Marks each trial it starts in $STALL_DIR; the third trial hangs (to be killed)."""
    folder = Path(os.environ["STALL_DIR"])
    n = len(list(folder.glob("started-*")))
    (folder / f"started-{n}").write_text(repr(reporter.values))
    if n == 2:
        time.sleep(120)
    return score(ds)


def interrupting(ds, reporter):  # type: ignore[no-untyped-def]
    """Ctrl-C during the third trial it runs."""
    interrupting.calls = getattr(interrupting, "calls", 0) + 1  # type: ignore[attr-defined]
    if interrupting.calls == 3:  # type: ignore[attr-defined]
        raise KeyboardInterrupt
    return score(ds)


PBT_SPACE = """STEP,PHASE,x,rate,w
0,Train,?-2..2,?{0.1 0.3 0.5},0
+0.5,,,,1
39,,,,
"""


def pbt_space(tmp_path: Path) -> Path:
    path = tmp_path / "pbt-space.csv"
    path.write_text(PBT_SPACE)
    return path


@dataclass
class Following:
    """A run PBT can resume: its state ``w`` follows ``x`` at ``rate`` per step (quality
    ``-(w - 1)²``), and carries the props of every step run so far, which it writes to
    ``<folder>/trial-N.json`` when it ends (a cloned state carries its donor's steps)."""

    folder: str

    def __call__(self, ds, reporter):  # type: ignore[no-untyped-def]
        tl = Timeline(ds)
        state = reporter.state or {"w": 0.0, "ran": []}
        w, ran = state["w"], list(state["ran"])
        assert len(ran) == reporter.start_step  # it continues exactly where the state stopped
        for step in range(reporter.start_step, len(tl)):
            props = tl[step].props
            ran.append([step, props])
            w += props["rate"] * (props["x"] - w)
            if step % 5 == 4:
                reporter.report(step, {"q": -((w - 1) ** 2)}, state={"w": w, "ran": ran})
        path = Path(self.folder) / f"trial-{reporter.number}.json"
        path.write_text(json.dumps(ran))
        return {"q": -((w - 1) ** 2)}
