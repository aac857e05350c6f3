"""``python -m examples.vq_curriculum`` end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from examples import vq_curriculum
from mini.render import probe
from mini.temporal import Dopesheet
from mini.training import load_checkpoint

REQUIRED = {
    "steps", "levels", "utilization", "recon_quality", "effective_rank",
    "train_steps_per_second", "outputs",
}  # fmt: skip
EXTRA = {
    "render_frames_per_second", "wall_seconds", "refresh_actions", "latent_dim", "seed",
    "schedule", "video",
}  # fmt: skip
SCHEDULES = Path(__file__).parents[2] / "schedules"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "examples.vq_curriculum", *args],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def _records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_short_run_writes_every_output(tmp_path: Path) -> None:
    proc = run("--steps", "300", "--frames", "40", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert set(summary) == REQUIRED | EXTRA
    assert summary["steps"] == 300
    assert [set(lv) for lv in summary["levels"]] == [{"codes", "active", "perplexity"}] * 2
    assert all(lv["codes"] == 16 and 0 < lv["active"] <= 16 for lv in summary["levels"])
    assert 0 < summary["utilization"] <= 1 and summary["recon_quality"] > 0
    assert 1 <= summary["effective_rank"] <= 2 and summary["train_steps_per_second"] > 0
    names = ("schedule.png", "codebook-health.png", "reconstructions.png", "metrics.jsonl")
    for name in (*names, "summary.json", "codebook-evolution.mp4"):
        assert (tmp_path / name).stat().st_size > 5_000 or name == "summary.json", name
        assert str(tmp_path / name) in summary["outputs"]
    info = probe(tmp_path / "codebook-evolution.mp4")
    assert (info.frames, info.width, info.height) == (40, 1280, 720)
    assert summary["render_frames_per_second"] > 0
    records = _records(tmp_path)
    assert len(records) == 300
    assert {"vq/l0/active", "vq/l1/perplexity"} <= set(records[50]["extras"])
    ckpt = load_checkpoint(tmp_path / "checkpoints")
    assert ckpt["step"] == 299 and any(p.endswith(".pt") for p in summary["outputs"])


def test_a_bad_dopesheet_is_rejected_before_training(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("STEP,PHASE,lr:log,recon\n0,Warm-up,0,1\n+x,,,\n")
    proc = run("--schedule", str(bad), "--out", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert f"{bad}:2:3" in proc.stderr and f"{bad}:3:1" in proc.stderr
    assert not (tmp_path / "out" / "checkpoints").exists()
    assert not (tmp_path / "out" / "metrics.jsonl").exists()


def test_no_refresh_removes_the_refresh_events(tmp_path: Path) -> None:
    common = ["--steps", "150", "--no-video", "--health-every", "25", "--batch-size", "64"]
    with_refresh = vq_curriculum.main([*common, "--out", str(tmp_path / "a")])
    without = vq_curriculum.main([*common, "--out", str(tmp_path / "b"), "--no-refresh"])
    assert with_refresh["refresh_actions"] == 4 and without["refresh_actions"] == 0

    def refreshed(out: Path) -> list[int]:
        return [r["step"] for r in _records(out) if "vq/refreshed" in r.get("extras", {})]

    scaled = Dopesheet.from_csv(SCHEDULES / "vq-curriculum.csv").scaled(150)
    assert refreshed(tmp_path / "a") == [s for s, a in scaled.actions if a == "refresh"]
    assert refreshed(tmp_path / "b") == []
    assert without["render_frames_per_second"] is None
    assert not (tmp_path / "b" / "codebook-evolution.mp4").exists()


@pytest.mark.slow
def test_default_run_keeps_every_code_alive(tmp_path: Path) -> None:
    """Acceptance: 2 levels × 16 codes on the 2-D latent, ≥ 15/16 active on each level."""
    proc = run("--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s["steps"] == 3001
    assert all(lv["active"] >= 15 for lv in s["levels"]), s["levels"]
    assert s["recon_quality"] > 0.4
    assert probe(tmp_path / "codebook-evolution.mp4").frames == 300


@pytest.mark.slow
def test_wide_latent_uses_nine_tenths_of_its_codes(tmp_path: Path) -> None:
    """Acceptance: ``--latent-dim 16 --codes 256`` (2 levels, the default) utilization ≥ 0.9."""
    proc = run("--latent-dim", "16", "--codes", "256", "--no-video", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s["utilization"] >= 0.9, s["levels"]
    assert s["recon_quality"] > 0.6


@pytest.mark.slow
def test_hard_codes_without_refresh_collapse_and_refresh_prevents_it(tmp_path: Path) -> None:
    """The README's ablation: codes hard from step 0 on a 16-D latent with 256 codes."""
    args = ["--schedule", str(SCHEDULES / "vq-hard-codes.csv"), "--latent-dim", "16",
            "--codes", "256", "--levels", "1", "--no-video"]  # fmt: skip
    with_refresh = run(*args, "--out", str(tmp_path / "a"))
    without = run(*args, "--out", str(tmp_path / "b"), "--no-refresh")
    assert with_refresh.returncode == 0 and without.returncode == 0, without.stderr
    a, b = (json.loads((tmp_path / p / "summary.json").read_text()) for p in "ab")
    assert a["utilization"] >= 0.9
    assert b["utilization"] < 0.5


SPEED_KEYS = {
    "train_steps_per_second",
    "render_frames_per_second",
    "wall_seconds",
    "outputs",
    "video",
}


def test_resume_continues_to_the_same_result(tmp_path: Path) -> None:
    common = ["--steps", "120", "--frames", "12", "--health-every", "20", "--batch-size", "64"]
    full = vq_curriculum.main([*common, "--no-video", "--out", str(tmp_path / "full")])
    vq_curriculum.main([*common, "--no-video", "--out", str(tmp_path / "part"),
                        "--checkpoint-every", "50"])  # fmt: skip
    earliest = sorted((tmp_path / "part" / "checkpoints").glob("step-*.pt"))[0]
    assert earliest.name < "step-0000120.pt"  # a checkpoint mid-run
    resumed = vq_curriculum.main(
        [*common, "--no-video", "--out", str(tmp_path / "resumed"), "--resume", str(earliest)]
    )
    strip = lambda s: {k: v for k, v in s.items() if k not in SPEED_KEYS}  # noqa: E731
    assert strip(resumed) == strip(full)
    assert _records(tmp_path / "resumed") == _records(tmp_path / "full")
