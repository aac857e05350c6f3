"""The categorical tokenizer's explorer in headless chromium: its panels refresh while the
assignment sharpens, and the Harden button hardens it. The run writes
``docs/categorical-explorer.png``.

Skipped only when no chromium is installed (``apt-get install chromium``; ``.ci/run`` does).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import torch

from mini.explore import Controller
from mini.explore.app import launch
from mini.temporal import Dopesheet, Timeline
from mini.training import Trainer
from tests.explore.test_browser import (
    CHROMIUM,
    WAIT_MS,
    save_screenshot,
    wait_for_steps_over,
    wait_until,
)

REPO = Path(__file__).resolve().parents[2]
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="no chromium browser found (apt-get install chromium; .ci/run installs it)",
    ),
]


def categorical_explorer(tmp_path: Path) -> tuple[Controller, list]:
    from vq.tokenizer.explore import panels
    from vq.tokenizer.run import build
    from vq.tokenizer.synthetic import synthetic_table

    torch.set_num_threads(1)
    table = synthetic_table(seed=0)
    ds = Dopesheet.from_csv(REPO / "schedules" / "categorical-vq.csv")
    runs = []

    def make_trainer() -> Trainer:
        run = build(table, "learnable", seed=0)
        runs.append(run)
        return run.trainer(
            Timeline(ds), out_dir=tmp_path / f"run-{len(runs)}", progress=False, seed=0,
            checkpoint_every=0,
        )  # fmt: skip

    probe = build(table, "learnable", seed=0)
    labels = {"harden": "Harden assignment", "refresh": "Refresh dead codes"}
    return Controller(make_trainer, panels(probe), save_dir=tmp_path, action_labels=labels), runs


def test_the_categorical_explorer_in_a_browser(tmp_path):
    from playwright.sync_api import sync_playwright

    controller, runs = categorical_explorer(tmp_path)
    server = launch(controller, title="categorical VQ (learnable, synthetic)")
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(server.url)
            page.wait_for_selector("#mx-step", timeout=WAIT_MS)
            for title in ("feature × category assignment", "codebook utilization per category"):
                page.wait_for_selector(f".mx-card h3:text('{title}')", timeout=WAIT_MS)
            assert "Harden assignment" in page.inner_text("#mx-fire-harden")
            assert "Refresh dead codes" in page.inner_text("#mx-fire-refresh")

            page.click("#mx-start")
            wait_for_steps_over(page, 640)  # Anneal: T ≈ 0.7, the groups forming
            page.click("#mx-pause")
            page.wait_for_selector(".mx-status[data-status=paused]", timeout=WAIT_MS)
            page.wait_for_selector(".mx-sub:has-text('held-out')", timeout=WAIT_MS)
            time.sleep(1.0)  # a last refresh
            save_screenshot(page, "categorical-explorer.png")
            paused = controller.snapshot().step

            # the Harden button: the model uses the argmax from the next step, framed in the map
            model = runs[0].model
            assert not model.assignment.hard
            page.click("#mx-start")
            page.click("#mx-fire-harden")
            wait_until(lambda: model.assignment.hard, "the harden button")
            fired = controller.trainer.fired
            assert [a for _, a in fired] == ["harden"] and fired[0][0] >= paused
            page.wait_for_selector(".mx-sub:has-text('hardened')", timeout=WAIT_MS)
            assert page.locator(".mx-card svg rect[stroke='#f59e0b']").count() == 32
            browser.close()
    finally:
        controller.close(timeout=60)
        server.close()
