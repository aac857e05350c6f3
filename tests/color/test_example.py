"""``python -m examples.color_curriculum`` end to end."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from ex_color.experiment import build, primaries
from mini.render import probe
from mini.training import load_checkpoint

SPEED_KEYS = {"train_steps_per_second", "render_frames_per_second", "outputs", "video"}
KEYS = {
    "steps", "recon_mse", "hue_gaps_deg", "hue_order_ok", "ring_norm_error", "anchor_drift",
    "train_steps_per_second", "render_frames_per_second", "outputs", "video",
}  # fmt: skip


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "examples.color_curriculum", *args],
        capture_output=True, text=True, timeout=1200,
    )  # fmt: skip


@pytest.mark.slow
def test_short_run_writes_every_output(tmp_path):
    proc = run("--steps", "2000", "--out", str(tmp_path), "--frames", "120")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert set(summary) == KEYS
    assert summary["steps"] == 2000 and len(summary["hue_gaps_deg"]) == 6
    for name in ("schedule.png", "phase-history.png", "metrics.jsonl", "summary.json"):
        assert (tmp_path / name).stat().st_size > 500, name
        assert str(tmp_path / name) in summary["outputs"]
    info = probe(tmp_path / "latent-evolution.mp4")
    assert (info.frames, info.width, info.height) == (120, 1280, 720)
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 2000
    ckpt = load_checkpoint(tmp_path / "checkpoints")
    assert ckpt["step"] == 1999 and any(p.endswith(".pt") for p in summary["outputs"])
    assert summary["render_frames_per_second"] > 0 and summary["train_steps_per_second"] > 0


@pytest.mark.slow
def test_same_seed_same_summary(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for out in (a, b):
        assert run("--steps", "600", "--out", str(out), "--no-video").returncode == 0
    sa, sb = (json.loads((p / "summary.json").read_text()) for p in (a, b))
    assert sa["render_frames_per_second"] is None
    strip = lambda s: {k: v for k, v in s.items() if k not in SPEED_KEYS}  # noqa: E731
    assert strip(sa) == strip(sb)
    assert (a / "metrics.jsonl").read_bytes() == (b / "metrics.jsonl").read_bytes()


def test_a_bad_dopesheet_is_rejected_before_training(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("STEP,PHASE,lr:log,loss-recon\n0,Primary & secondary,0,1\n+x,,,\n")
    proc = run("--schedule", str(bad), "--out", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert f"{bad}:2:3" in proc.stderr and f"{bad}:3:1" in proc.stderr
    assert not (tmp_path / "out" / "checkpoints").exists()


@pytest.mark.slow
def test_default_run_meets_the_acceptance_targets(tmp_path):
    proc = run("--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s["steps"] == 20_001
    assert s["recon_mse"] < 1e-3
    assert s["hue_order_ok"] and all(30 <= g <= 90 for g in s["hue_gaps_deg"])
    assert s["anchor_drift"] < 0.05
    assert s["ring_norm_error"] < 0.05
    assert probe(tmp_path / "latent-evolution.mp4").frames == 600
    model = build().model
    model.load_state_dict(load_checkpoint(tmp_path / "checkpoints")["model"])
    with torch.no_grad():
        norms = model(primaries()).latents.norm(dim=-1)
    assert torch.allclose(norms, torch.ones(6), atol=0.05)


@pytest.mark.slow
def test_the_main_command_can_be_run_again_and_again(tmp_path, monkeypatch):
    """Without ``--out`` every run gets a folder of its own; ``latest`` points to the newest."""
    from examples import color_curriculum

    monkeypatch.chdir(tmp_path)
    for _ in range(2):
        color_curriculum.main(["--steps", "20", "--no-video", "--checkpoint-every", "0"])
    base = tmp_path / "out" / "color_curriculum"
    runs = sorted((p for p in base.iterdir() if p.name != "latest"), key=lambda p: p.name)
    assert len(runs) == 2 and all((r / "summary.json").is_file() for r in runs)
    assert (base / "latest").resolve() == max(runs, key=lambda p: int(p.name.rsplit("-")[-1]))


@pytest.mark.slow
def test_a_resume_from_another_examples_checkpoint_leaves_the_folder_untouched(tmp_path):
    from mini.temporal import Dopesheet
    from mini.training import PhaseData, Trainer

    model = torch.nn.Linear(3, 3)
    Trainer(
        model, torch.optim.Adam(model.parameters()), Dopesheet.from_text("STEP,lr\n0,0.1\n4,\n"),
        PhaseData([torch.randn(4, 3)]), {}, out_dir=tmp_path / "other", progress=False,
    ).fit()  # fmt: skip
    out = tmp_path / "fresh"
    proc = run(
        "--steps", "20", "--no-video", "--resume", str(tmp_path / "other"), "--out", str(out)
    )
    assert proc.returncode == 2, proc.stderr
    assert "does not fit this model" in proc.stderr and "Traceback" not in proc.stderr
    assert not out.exists() or list(out.iterdir()) == []


def test_a_dopesheet_with_more_than_fifty_problems_gives_their_count(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("STEP,lr\n0,0.1\n" + "".join(f"{i},oops\n" for i in range(1, 81)))
    proc = run("--schedule", str(bad), "--out", str(tmp_path / "out"))
    assert proc.returncode == 2 and "80 in all" in proc.stderr.replace(",", ""), proc.stderr[-500:]


@pytest.mark.parametrize("checkpoint", [None, "out/checkpoints/step-0002000.pt"])
def test_a_full_disk_advises_resume_only_when_a_checkpoint_exists(capsys, checkpoint):
    from pathlib import Path
    from types import SimpleNamespace

    from mini.atomic import OutputError
    from mini.training.script import fit

    def full(resume=None):
        raise OutputError(28, "no space left on device writing out/checkpoints/step-0002000.pt")

    trainer = SimpleNamespace(
        fit=full,
        out_dir=Path("out"),
        last_checkpoint=checkpoint and Path(checkpoint),
        timeline=None,
    )
    with pytest.raises(SystemExit) as info:
        fit(trainer, None)
    err = " ".join(capsys.readouterr().err.split())
    assert info.value.code == 2 and "no space left" in err
    assert ("--resume" in err) == (checkpoint is not None), err


def test_a_run_shortened_by_a_watch_edit_renders_only_frames_it_recorded_and_resumes(tmp_path):
    """--watch cut the run: the frames planned past its new end are dropped (not rendered blank
    under a step never reached), and a resume keeps the checkpoint's frame plan."""
    import argparse

    from examples.frames import frame_plan, recorded_frames
    from mini.render import frame_steps
    from mini.temporal import Dopesheet
    from mini.training import LatentRecorder, PhaseData, Trainer

    model = torch.nn.Linear(2, 2)
    probe = torch.randn(3, 2)
    recorder = LatentRecorder(probe, frame_steps(40, 6), fn=lambda m, x: m(x))
    trainer = Trainer(
        model, torch.optim.SGD(model.parameters(), lr=0.0),
        Dopesheet.from_text("STEP,lr\n0,0.1\n19,\n"), PhaseData([torch.randn(4, 2)]), {},
        out_dir=tmp_path / "run", progress=False,
    )  # fmt: skip
    trainer.add(recorder)
    trainer.fit()  # 20 steps of a plan for 40
    steps, frames = recorded_frames(recorder)
    assert list(steps) == [s for s in recorder.steps if s < 20] and len(steps) < len(recorder.steps)
    assert not torch.isnan(frames["latents"]).any()
    args = argparse.Namespace(resume=tmp_path / "run", frames=6)
    assert list(frame_plan(args, 20)) == list(recorder.steps)  # the checkpoint's plan
    args.frames = 5  # another --frames: the plan of this run (refused on resume, as before)
    assert list(frame_plan(args, 20)) == list(frame_steps(20, 5))
