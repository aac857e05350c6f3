"""Timeline speed, side by side in one process (issue: temporal core).

1. ``realize`` (vectorised) vs stepping the same timeline one step at a time in Python.
2. ``timeline.step()`` vs one forward+backward+Adam step of a 3→16→4→16→3 MLP on 256 samples.
3. Ours vs a reference implementation of the format that does pandas lookups on every step.

Run: ``python -m benchmarks.temporal_speed`` (prints times and ratios).
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import torch

from mini.temporal import Dopesheet, Timeline, realize

SCHEDULE = Path(__file__).resolve().parent.parent / "schedules" / "color-curriculum.csv"
SIX_PROPS = ["lr", "loss-recon", "reg-separate", "reg-planar", "reg-norm", "reg-anchor"]


def best_of(fn: Callable[[], object], repeat: int) -> float:
    """Best wall time of ``repeat`` calls (seconds): the least disturbed measurement."""
    fn()
    best = math.inf
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


class PandasReference:
    """The straightforward implementation: look the surrounding keys up in a DataFrame on every
    step and interpolate (the baseline the issue quotes at ~87 µs/step)."""

    def __init__(self, ds: Dopesheet):
        df = ds.as_df().set_index("STEP")
        self.specs = ds.specs
        self.keys = {name: df[spec.header].dropna() for name, spec in ds.specs.items()}

    def value(self, name: str, step: int) -> float:
        spec, keys = self.specs[name], self.keys[name]
        k = keys.index.searchsorted(step, side="right")
        if k == 0:
            return float(keys.iloc[0])
        s0, v0 = keys.index[k - 1], keys.iloc[k - 1]
        if k == len(keys):
            return float(v0)
        s1, v1 = keys.index[k], keys.iloc[k]
        tau = (step - s0) / (s1 - s0)
        if spec.interpolator in ("step", "step-end"):
            frac = 0.0
        elif spec.interpolator == "linear":
            frac = tau
        else:
            frac = tau**3 * (10 - 15 * tau + 6 * tau**2)
        if spec.space == "log":
            return math.exp(math.log(v0) + (math.log(v1) - math.log(v0)) * frac)
        return float(v0 + (v1 - v0) * frac)

    def state(self, step: int) -> dict[str, float]:
        return {name: self.value(name, step) for name in self.specs}


def mlp_step_seconds(repeat: int = 2000) -> float:
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(3, 16), torch.nn.GELU(), torch.nn.Linear(16, 4),
        torch.nn.Linear(4, 16), torch.nn.GELU(), torch.nn.Linear(16, 3), torch.nn.Sigmoid(),
    )  # fmt: skip
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    x = torch.rand(256, 3)

    def step() -> None:
        loss = torch.nn.functional.mse_loss(model(x), x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(200):
        step()
    best = math.inf
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(repeat // 5):
            step()
        best = min(best, (time.perf_counter() - t) / (repeat // 5))
    return best


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=100)
    args = parser.parse_args(argv)
    full = Dopesheet.from_csv(SCHEDULE)
    # The 6-property schedule of the issue: the colour curriculum without data-fraction.
    ds = Dopesheet.from_df(
        full.as_df()[["STEP", "PHASE", "ACTION", *SIX_PROPS]], source=str(SCHEDULE)
    )
    n = len(ds)
    print(f"schedule: {SCHEDULE.name} with {len(ds.specs)} properties, {n:,} steps")

    # 1. realize vs stepping
    t_realize = best_of(lambda: realize(ds), args.repeat)

    def stepping() -> pd.DataFrame:
        tl = Timeline(ds)
        rows = [tl.state.props]
        for _ in range(n - 1):
            rows.append(tl.step().props)
        return pd.DataFrame(rows)

    t_stepping = best_of(stepping, max(3, args.repeat // 5))
    assert stepping()[list(ds.specs)].equals(realize(ds)[list(ds.specs)])
    per_step = t_stepping / n
    print(f"realize:               {t_realize * 1e3:8.2f} ms")
    print(f"stepping in Python:    {t_stepping * 1e3:8.2f} ms   ({per_step * 1e6:.2f} µs/step)")
    print(f"  ratio stepping/realize = {t_stepping / t_realize:,.0f}x   (target >= 100x)")

    # 2. step() vs a training step
    tl = Timeline(ds)

    def steps_only() -> None:
        tl.seek(0)
        for _ in range(n - 1):
            tl.step()

    t_step = best_of(steps_only, max(3, args.repeat // 5)) / (n - 1)
    t_train = mlp_step_seconds()
    print(f"timeline.step():       {t_step * 1e6:8.2f} µs")
    print(f"MLP fwd+bwd+Adam step: {t_train * 1e6:8.2f} µs (3→16→4→16→3, batch 256)")
    print(f"  ratio step/train = {t_step / t_train:.3f}   (target <= 0.1)")

    # 3. the pandas reference
    ref = PandasReference(ds)
    probe = range(0, n, max(1, n // 400))
    t = time.perf_counter()
    for i in probe:
        got = ref.state(i)
    t_ref = (time.perf_counter() - t) / len(probe)
    expect = Timeline(ds)
    for i in probe:
        got, want = ref.state(i), expect[i].props
        assert all(math.isclose(got[k], want[k], rel_tol=1e-9, abs_tol=1e-12) for k in want)
    t_ref_realize = t_ref * n
    print(f"pandas reference:      {t_ref * 1e6:8.2f} µs/step, realize ≈ {t_ref_realize:.2f} s")
    print(f"  ours per step: {t_ref / t_step:,.0f}x faster (target >= 17x)")
    print(f"  ours realize:  {t_ref_realize / t_realize:,.0f}x faster (target >= 90x)")
    return {
        "realize_ms": t_realize * 1e3,
        "stepping_ms": t_stepping * 1e3,
        "step_us": t_step * 1e6,
        "train_step_us": t_train * 1e6,
        "reference_step_us": t_ref * 1e6,
    }


if __name__ == "__main__":
    main()
