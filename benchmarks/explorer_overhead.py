"""What the live explorer and ``--watch`` cost a training run (issue: live explorer).

In one process, alternating rounds of the same run (same model, schedule, seed, steps):

- **headless**: ``trainer.fit()`` on the main thread;
- **explorer**: the same trainer under the explorer's controller (background thread, panels
  captured between steps) with the page open in headless chromium, refreshing;
- **watch**: headless with ``--watch`` (a :class:`DopesheetWatcher` on the schedule file).

Prints steps/s of each (best round), the ratios of the best rounds and the median of each
round's ratio (targets: explorer ≥ 0.95× headless, watch ≥ 0.98×) and how often the open page's panels and step counter changed while training
(target ≥ 2 Hz). Needs chromium (``apt-get install chromium``) and ``dopesheet[explore]``.

Run: ``flock /tmp/bench.lock python -m benchmarks.explorer_overhead [--model vq|color]
[--steps N] [--rounds R]``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from mini.explore import Controller
from mini.explore.app import launch
from mini.temporal import Dopesheet, Timeline
from mini.training import Trainer
from mini.training.watch import DopesheetWatcher

REPO = Path(__file__).resolve().parent.parent
COUNT_CHANGES = """() => {
  window.__mx = {panels: 0, step: 0};
  let panels = null, step = null;
  setInterval(() => {  // count the values the page showed, not DOM mutations
    const p = document.querySelector('.mx-panels'), s = document.querySelector('#mx-step');
    const pv = p && p.dataset.v, sv = s && s.textContent;
    if (pv !== panels) { panels = pv; window.__mx.panels += 1; }
    if (sv !== step) { step = sv; window.__mx.step += 1; }
  }, 100);  // 5x faster than the values change (2 Hz): sees every change, costs the page little
}"""


def vq_setup(steps: int) -> tuple[Callable[[], Trainer], list[Any], Path]:
    from vq.train.experiment import build, make_optimizer
    from vq.viz import explore as vq_explore

    path = REPO / "schedules" / "vq-curriculum.csv"
    ds = Dopesheet.from_csv(path).scaled(steps)

    def make() -> Trainer:
        exp = build(seed=0)
        return exp.trainer(Timeline(ds), make_optimizer(exp.model), progress=False, seed=0)

    probe = build(seed=0)
    return make, vq_explore.panels(probe.model, probe.data.val, probe.data.val_labels), path


def color_setup(steps: int) -> tuple[Callable[[], Trainer], list[Any], Path]:
    from ex_color.experiment import build, make_optimizer
    from ex_color.explore import HueMetricsPanel, LatentPanel

    path = REPO / "schedules" / "color-curriculum.csv"
    ds = Dopesheet.from_csv(path).scaled(steps)
    hue = HueMetricsPanel()

    def make() -> Trainer:
        exp = build(seed=0)
        hue.anchor = exp.anchor
        return exp.trainer(Timeline(ds), make_optimizer(exp.model), progress=False, seed=0)

    return make, [LatentPanel(), hue], path


def headless(make: Callable[[], Trainer], watch: Path | None = None) -> float:
    trainer = make()
    if watch is not None:
        trainer.add(DopesheetWatcher(watch))
    result = trainer.fit()
    return result.steps_run / result.seconds


def explored(make: Callable[[], Trainer], panels: list[Any], browser: Any) -> tuple[float, float, float]:  # fmt: skip
    """Steps/s under the explorer with the page open, and the page's panel and step-counter
    change rates (Hz) while training."""
    controller = Controller(make, panels)
    page_server = launch(controller, title="benchmark")
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(page_server.url)
        page.wait_for_selector("#mx-step", timeout=60_000)
        page.evaluate(COUNT_CHANGES)
        t0 = time.perf_counter()
        controller.start()
        while controller.status in ("ready", "running"):
            time.sleep(0.05)
        seconds = time.perf_counter() - t0
        counts = page.evaluate("() => window.__mx")
        result = controller.result
        assert result is not None and controller.status == "finished", controller.status
    finally:
        page.close()
        controller.close()
        page_server.close()
    return result.steps_run / result.seconds, counts["panels"] / seconds, counts["step"] / seconds


def main(argv: list[str] | None = None) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    from tests.explore.test_browser import find_chromium

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", choices=("vq", "color"), default="vq")
    p.add_argument("--steps", type=int, default=None, help="steps per round (vq 2000, color 8000)")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    steps = args.steps or (2000 if args.model == "vq" else 8000)
    make, panels, schedule = (vq_setup if args.model == "vq" else color_setup)(steps)
    chromium = find_chromium()
    if chromium is None:
        raise SystemExit("no chromium found: apt-get install chromium")
    runs: dict[str, list[float]] = {"headless": [], "explorer": [], "watch": []}
    rates: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        watched = Path(tmp) / schedule.name  # a copy: the watcher looks at it every 0.5 s
        watched.write_bytes(schedule.read_bytes())
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        headless(make)  # warm-up (allocator, lazy imports)
        for r in range(args.rounds):  # alternate, so a busy spell of the machine hits all three
            runs["headless"].append(headless(make))
            sps, panel_hz, step_hz = explored(make, panels, browser)
            runs["explorer"].append(sps)
            rates.append((panel_hz, step_hz))
            runs["watch"].append(headless(make, watch=watched))
            print(
                f"round {r + 1}: headless {runs['headless'][-1]:,.0f}, explorer {sps:,.0f} "
                f"steps/s (panels {panel_hz:.2f} Hz, counter {step_hz:.2f} Hz), "
                f"watch {runs['watch'][-1]:,.0f}"
            )
        browser.close()
    best = {k: max(v) for k, v in runs.items()}
    paired = {
        k: statistics.median(a / b for a, b in zip(runs[k], runs["headless"], strict=True))
        for k in ("explorer", "watch")
    }
    out = {
        **{f"{k}_steps_per_second": v for k, v in best.items()},
        "explorer_ratio": best["explorer"] / best["headless"],
        "watch_ratio": best["watch"] / best["headless"],
        "explorer_ratio_median_of_rounds": paired["explorer"],
        "watch_ratio_median_of_rounds": paired["watch"],
        "panel_refresh_hz": min(r[0] for r in rates),
        "counter_refresh_hz": min(r[1] for r in rates),
    }
    print(
        f"{args.model}, {steps:,} steps, best of {args.rounds}: headless {best['headless']:,.0f} "
        f"steps/s · explorer page open {best['explorer']:,.0f} ({out['explorer_ratio']:.3f}×; "
        f"median of rounds {paired['explorer']:.3f}×; target ≥ 0.95) · --watch "
        f"{best['watch']:,.0f} ({out['watch_ratio']:.3f}×; median {paired['watch']:.3f}×; target "
        f"≥ 0.98) · panels refreshed at ≥ {out['panel_refresh_hz']:.2f} Hz, the step counter at ≥ "
        f"{out['counter_refresh_hz']:.2f} Hz (target ≥ 2)"
    )
    return out


if __name__ == "__main__":
    main()
