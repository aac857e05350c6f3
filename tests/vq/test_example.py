"""``python -m examples.vq_curriculum`` end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from examples import vq_curriculum
from mini.render import probe
from mini.temporal import Dopesheet
from mini.training import load_checkpoint

HELD_OUT = {
    "levels", "utilization", "recon_quality", "topographic_correlation", "orthogonality",
    "cross_level_orthogonality", "effective_rank",
}  # fmt: skip
TRAIN = {"train_levels", "train_utilization", "train_steps_per_second"}
EXTRA = {
    "steps", "outputs", "targets", "render_frames_per_second", "wall_seconds",
    "refresh_actions", "latent_dim", "codes", "relaxation", "learn", "gradient", "refresh_every",
    "seed", "schedule", "video",
}  # fmt: skip
LEVEL_KEYS = {"codes", "active", "dead", "utilization", "perplexity", "orthogonality"}
SCHEDULES = Path(__file__).parents[2] / "schedules"


ROOT = SCHEDULES.parent


def run(*args: str) -> subprocess.CompletedProcess:
    """The example as a user runs it: from the repository root, importing this checkout."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "examples.vq_curriculum", *args],
        capture_output=True, text=True, timeout=600, cwd=ROOT, env=env,
    )  # fmt: skip


def _records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_short_run_writes_every_output(tmp_path: Path) -> None:
    proc = run("--steps", "300", "--frames", "40", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert set(summary) == HELD_OUT | TRAIN | EXTRA
    assert summary["steps"] == 300
    assert [set(lv) for lv in summary["levels"]] == [LEVEL_KEYS] * 2
    assert all(lv["codes"] == 16 and 0 < lv["active"] <= 16 for lv in summary["levels"])
    assert 0 < summary["utilization"] <= 1 and summary["recon_quality"] > 0
    assert set(summary["targets"]) == {
        "recon_quality", "utilization", "orthogonality", "topographic_correlation",
    }  # fmt: skip
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
    held_out = {"vq/l0/active", "vq/l1/perplexity", "vq/orthogonality", "vq/recon_quality"}
    assert held_out | {"vq/train/l0/active"} <= set(records[50]["extras"])
    assert held_out <= set(records[-1]["extras"])  # the last step is always measured
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
def test_wide_latent_uses_nine_tenths_of_its_codes_in_training(tmp_path: Path) -> None:
    """``--latent-dim 16 --codes 256`` (2 levels): training-window utilization ≥ 0.9; held out,
    360 digits cannot reach all 256 codes of a level, and the summary says so."""
    proc = run("--latent-dim", "16", "--codes", "256", "--no-video", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s["train_utilization"] >= 0.9, s["train_levels"]
    assert 0.5 < s["utilization"] < s["train_utilization"], s["levels"]
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
    assert a["train_utilization"] >= 0.9
    assert b["train_utilization"] < 0.5
    assert b["utilization"] < 0.5 < a["utilization"]  # held out too


@pytest.mark.slow
def test_targets_configuration_meets_the_production_targets_held_out(tmp_path: Path) -> None:
    """Acceptance (seed 0; the README reports seeds 0, 1, 2): ``--targets`` meets reconstruction
    quality > 0.90, utilization > 0.80, orthogonality < 0.25 on every level and topographic
    correlation > 0.85, all on the held-out digits."""
    proc = run("--targets", "--no-video", "--seed", "0", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s["recon_quality"] > 0.90
    assert s["utilization"] > 0.80
    assert all(lv["orthogonality"] < 0.25 for lv in s["levels"]), s["levels"]
    assert s["topographic_correlation"] > 0.85
    assert all(t["met"] for t in s["targets"].values()), s["targets"]


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
