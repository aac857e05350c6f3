"""``--explore`` from the command line: the URL is printed, the page serves the run, Ctrl-C
stops training cleanly and writes the run's outputs."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.explore.test_browser import CHROMIUM, wait_for_steps_over

REPO = Path(__file__).resolve().parents[2]


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = str(REPO) + os.pathsep + e.get("PYTHONPATH", "")
    return e


def start(*args: str) -> tuple[subprocess.Popen, str, list[str]]:
    """Start an example with ``--explore``; returns the process, the URL it printed and the
    lines it printed until then."""
    proc = subprocess.Popen(
        [sys.executable, "-m", *args, "--explore"], cwd=REPO, env=env(),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    url, lines = None, []
    deadline = time.monotonic() + 120
    while url is None and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        m = re.search(r"(http://127\.0\.0\.1:\d+/)", line)
        url = m.group(1) if m else None
    if url is None:
        proc.kill()
        raise AssertionError("no URL printed:\n" + "".join(lines))
    return proc, url, lines


def ctrl_c(proc: subprocess.Popen, lines: list[str]) -> str:
    """Press Ctrl-C; the run must end cleanly (exit 0, no traceback). Returns all it printed."""
    proc.send_signal(signal.SIGINT)
    rest, _ = proc.communicate(timeout=120)
    log = "".join(lines) + rest
    assert proc.returncode == 0, log
    assert "Traceback" not in log
    return log


def test_a_bad_port_is_a_usage_error_naming_the_flag(tmp_path):
    p = subprocess.run(
        [sys.executable, "-m", "examples.color_curriculum", "--explore", "--port", "70000",
         "--out", str(tmp_path)],
        cwd=REPO, env=env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert p.returncode == 2
    assert "--port" in p.stderr and "1 to 65535" in p.stderr and "Traceback" not in p.stderr


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="no chromium browser found (apt-get install chromium)")
def test_the_colour_explorer_from_the_command_line(tmp_path):
    from playwright.sync_api import sync_playwright

    out = tmp_path / "out"
    proc, url, lines = start("examples.color_curriculum", "--out", str(out))
    try:
        with urllib.request.urlopen(url, timeout=30) as r:  # the page is served
            assert r.status == 200
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page()
            page.goto(url)
            page.wait_for_selector("#mx-step", timeout=60_000)
            assert "Capture anchor" in page.inner_text("#mx-fire-anchor")
            page.click("#mx-start")
            wait_for_steps_over(page, 100)
            page.close()  # closing the page does not stop training
            browser.close()
        time.sleep(1.0)
        ctrl_c(proc, lines)
    finally:
        if proc.poll() is None:
            proc.kill()
    run = out / "run-1"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["explored"] and summary["status"] == "stopped" and summary["steps_trained"] > 100
    assert "recon_mse" in summary and Path(summary["checkpoint"]).is_file()
    metrics = (run / "metrics.jsonl").read_text().splitlines()
    assert len(metrics) == summary["steps_trained"]


@pytest.mark.slow
def test_the_categorical_explorer_serves_its_panels_and_stops_on_ctrl_c(tmp_path):
    out = tmp_path / "out"
    proc, url, lines = start("examples.categorical_vq", "--steps", "200", "--out", str(out))
    try:
        with urllib.request.urlopen(url + "mx/live", timeout=30) as r:
            main = json.loads(r.read())["parts"]["main"]
        for title in (
            "feature × category assignment", "assignment over steps",
            "codebook utilization per category",
        ):  # fmt: skip
            assert f"<h3>{title}</h3>" in main
        assert "f00 · g" in main or "f00 · noise" in main  # synthetic data: groups marked
        with urllib.request.urlopen(url + "config", timeout=30) as r:
            config = r.read().decode()
        assert "Harden assignment" in config and "Refresh dead codes" in config
        assert "Ctrl-C: stopping" in ctrl_c(proc, lines)
    finally:
        if proc.poll() is None:
            proc.kill()
