"""End to end in a real headless browser (Playwright + Debian's chromium): the VQ explorer page.

Skipped only when no chromium is installed (``apt-get install chromium``; ``.ci/run`` does).
The run writes ``docs/vq-explorer.png``.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from mini.explore import Controller
from mini.explore.app import launch
from mini.temporal import Dopesheet, Timeline, realize
from mini.training import Trainer

REPO = Path(__file__).resolve().parents[2]


def save_screenshot(page, name: str) -> None:
    """Refresh ``docs/<name>`` from this run when ``DOPESHEET_SCREENSHOTS=1`` (so a plain test
    run never edits tracked files)."""
    if os.environ.get("DOPESHEET_SCREENSHOTS") == "1":
        from mini.atomic import write_bytes

        write_bytes(REPO / "docs" / name, page.screenshot(full_page=True))
    else:
        page.screenshot(full_page=True)  # still render the whole page: it must not fail


WAIT_MS = 60_000


def find_chromium() -> str | None:
    for candidate in (
        os.environ.get("DOPESHEET_CHROMIUM"),
        "/usr/lib/chromium/chromium",
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
    ):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


CHROMIUM = find_chromium()
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="no chromium browser found (apt-get install chromium; .ci/run installs it)",
    ),
]


class Run:
    """What one run's training loop used: per-step properties, the steps actions ran at."""

    def __init__(self) -> None:
        self.props: dict[int, dict[str, float]] = {}
        self.refreshes: list[int] = []


def vq_explorer(tmp_path: Path, fail_at: int | None = None):
    from vq.train.experiment import build, make_optimizer
    from vq.viz import explore as vq_explore

    torch.set_num_threads(1)
    ds = Dopesheet.from_csv(REPO / "schedules" / "vq-curriculum.csv").scaled(20_000)
    runs: list[Run] = []

    def make_trainer() -> Trainer:
        exp = build(seed=0)
        trainer = exp.trainer(
            Timeline(ds), make_optimizer(exp.model), out_dir=tmp_path / f"run-{len(runs) + 1}",
            progress=False, seed=0, checkpoint_every=500,
        )  # fmt: skip
        run = Run()
        runs.append(run)

        def pre_step(e):
            run.props[e.step] = dict(e.state.props)
            if fail_at is not None and e.step == fail_at:
                raise RuntimeError("the codebook caught fire")

        trainer.on("pre-step", pre_step)
        trainer.on("action:refresh", lambda e: run.refreshes.append(e.step))
        return trainer

    probe = build(seed=0)
    panels = vq_explore.panels(probe.model, probe.data.val, probe.data.val_labels)
    controller = Controller(
        make_trainer, panels, save_dir=tmp_path, action_labels={"refresh": "Refresh dead codes"}
    )
    return controller, runs


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


def step_count(page) -> int:
    return int(page.inner_text("#mx-step").replace(",", ""))


def wait_for_steps_over(page, n: int) -> None:
    page.wait_for_function(
        "n => { const e = document.querySelector('#mx-step');"
        " return e !== null && parseInt(e.textContent.replace(/,/g, '')) > n; }",
        arg=n,
        timeout=WAIT_MS,
    )


def wait_until(cond, what: str, timeout: float = WAIT_MS / 1000, notes=None) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; activity: {notes}")
        time.sleep(0.05)


def first_change(values: list[float], since: int, start: float) -> int:
    return next(i for i in range(since, len(values)) if values[i] != start)


def test_the_vq_explorer_in_a_browser(tmp_path, browser):
    controller, runs = vq_explorer(tmp_path)
    page_server = launch(controller, title="VQ curriculum")
    requests: list[str] = []
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.on("request", lambda r: requests.append(r.url))
        page.goto(page_server.url)
        page.wait_for_selector("#mx-step", timeout=WAIT_MS)
        assert step_count(page) == 0
        assert page.get_attribute(".mx-status", "data-status") == "ready"
        page.locator("#mx-transition input").fill("100")  # smooth moves over 100 steps
        wait_until(lambda: controller.transition == 100, "the transition setting")

        # Start: the step counter rises
        page.click("#mx-start")
        wait_for_steps_over(page, 50)
        a = step_count(page)
        wait_for_steps_over(page, a)
        run = runs[0]

        # a slider: the loop's value changes smoothly from the next step
        before = max(run.props)
        slider = page.locator("#mx-slider-recon input[type=range]")
        slider.fill("0.5")
        slider.dispatch_event("pointerup")
        wait_until(
            lambda: any(run.props[i]["recon"] == 0.5 for i in list(run.props)), "recon at 0.5"
        )
        recon = [run.props[i]["recon"] for i in range(max(run.props) + 1)]
        s = first_change(recon, before, 1.0)
        assert recon[s - 1] == 1.0 and s > before
        moved = np.array(recon[s - 1 : s + 100])
        assert np.all(np.diff(moved) < 0) and moved[-1] == 0.5  # reaches it in 100 steps
        assert np.abs(np.diff(moved)).max() <= 1.875 * 0.5 / 100 + 1e-12  # minimum jerk's peak
        page.wait_for_selector("#mx-read-recon .mx-tag:text('manual')", timeout=WAIT_MS)

        # the follow-schedule toggle brings it back smoothly
        follow = page.locator("#mx-follow-recon input")
        wait_until(lambda: not follow.is_checked(), "the toggle showing manual control")
        follow.check()
        wait_until(lambda: run.props[max(run.props)]["recon"] == 1.0, "recon back on the schedule")
        recon = [run.props[i]["recon"] for i in range(max(run.props) + 1)]
        back = first_change(recon, s + 100, 0.5)
        assert np.all(np.diff(recon[back - 1 : back + 100]) > 0)
        number = page.locator("#mx-slider-recon input[type=number]")
        wait_until(lambda: float(number.input_value()) == 1.0, "the slider following again")
        for other_prop, value in (("vq-blend", 0.0), ("ema-decay", 0.9)):  # the others untouched
            assert float(page.input_value(f"#mx-slider-{other_prop} input[type=number]")) == value

        # fire an action
        page.click("#mx-fire-refresh")
        wait_until(lambda: controller.trainer.fired, "the refresh action")
        fired_at = controller.trainer.fired[0][0]
        wait_until(lambda: run.refreshes, "the refresh handler")
        assert controller.trainer.fired == [(fired_at, "refresh")] and run.refreshes == [fired_at]

        # another property under manual control (the screenshot shows it): lr, a log slider
        lr = page.locator("#mx-slider-lr input[type=range]")
        lr.fill("-2.5")
        lr.dispatch_event("pointerup")
        wait_until(
            lambda: run.props[max(run.props)]["lr"] == 10.0**-2.5, "lr at 10^-2.5",
            notes=controller.notes,
        )  # fmt: skip

        # Pause: the counter stops
        page.click("#mx-pause")
        page.wait_for_selector(".mx-status[data-status=paused]", timeout=WAIT_MS)
        time.sleep(1.0)  # a last refresh
        paused = step_count(page)
        time.sleep(1.5)
        assert step_count(page) == paused == controller.snapshot().step == max(run.props)

        # Save as dopesheet: the CSV realizes to the values the run used
        page.click("#mx-save")
        wait_until(lambda: list(tmp_path.glob("explored-run1-*.csv")), "the saved dopesheet")
        saved = Dopesheet.from_csv(next(tmp_path.glob("explored-run1-*.csv")))
        again = realize(saved, 0, paused)
        for name, spec in saved.specs.items():
            used = [run.props[i][name] for i in range(paused)]
            if spec.space == "log":  # exp(log(x)) is x to an ulp or two
                np.testing.assert_allclose(again[name].to_numpy(), used, rtol=1e-13, err_msg=name)
            else:
                assert np.array_equal(again[name].to_numpy(), used), name
        assert (fired_at, "refresh") in saved.actions
        page.wait_for_selector(".mx-notes li:has-text('reproduces the run')", timeout=WAIT_MS)
        save_screenshot(page, "vq-explorer.png")

        # a second tab sees the same run; closing a tab does not stop training
        page.click("#mx-start")
        other = browser.new_page(viewport={"width": 1200, "height": 900})
        other.on("request", lambda r: requests.append(r.url))
        other.goto(page_server.url)
        wait_for_steps_over(other, paused)
        wait_until(
            lambda: (
                other.inner_text("#mx-read-lr .mx-readout")
                == page.inner_text("#mx-read-lr .mx-readout")
            ),
            "the same values in both tabs",
        )
        assert "manual" in other.inner_text("#mx-read-lr .mx-readout")
        page.close()
        now = step_count(other)
        wait_for_steps_over(other, now)

        # Reset: step 0, a fresh run
        other.click("#mx-reset")
        other.wait_for_selector(".mx-status[data-status=ready]", timeout=WAIT_MS)
        wait_until(lambda: step_count(other) == 0, "step 0 after Reset")
        assert controller.run_number == 2
        # the title is refreshed with the panels, a poll after the status: wait for it too
        wait_until(lambda: "run 2" in other.inner_text(".mx-title"), "the fresh run's title")
        toggle = other.locator("#mx-follow-lr input")
        wait_until(toggle.is_checked, "the toggles following the schedule again")
        wait_until(
            lambda: "schedule" in other.inner_text("#mx-read-lr .mx-readout"),
            "the readouts of the fresh run",
        )
    finally:
        controller.close(timeout=60)
        page_server.close()
    hosts = {r.split("/")[2] for r in requests if not r.startswith(("data:", "blob:"))}
    assert hosts == {page_server.url.split("/")[2]}  # nothing but the local server


def test_a_training_error_shows_in_the_page(tmp_path, browser):
    controller, _ = vq_explorer(tmp_path, fail_at=620)
    page_server = launch(controller, title="VQ curriculum")
    try:
        page = browser.new_page()
        page.goto(page_server.url)
        page.click("#mx-start", timeout=WAIT_MS)
        page.wait_for_selector("#mx-error:has-text('the codebook caught fire')", timeout=WAIT_MS)
        text = page.inner_text("#mx-error")
        assert "step 620" in text and "step-0000500.pt" in text  # the last checkpoint is kept
        assert page.get_attribute(".mx-status", "data-status") == "failed"
        assert (tmp_path / "run-1" / "checkpoints" / "step-0000500.pt").is_file()
    finally:
        controller.close(timeout=60)
        page_server.close()
