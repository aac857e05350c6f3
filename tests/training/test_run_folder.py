"""A run folder: ``--overwrite`` deletes only what runs write, and one process writes it at a time
(issue: run safety II)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from mini.temporal import Dopesheet, Timeline
from mini.training import (
    CheckpointError,
    NonFiniteLossError,
    PhaseData,
    Result,
    ResumeWarning,
    RunDirError,
    Trainer,
    load_checkpoint,
    run_lock,
)
from mini.training.run_dir import claim_run_dir
from mini.training.run_lock import LOCK_FILE, process_start

SHEET = "STEP,PHASE,lr,mse\n0,A,0.05,1\n9,,,\n"


def _user_files(folder):
    (folder / "data").mkdir(parents=True)
    (folder / "thesis.txt").write_text("x")
    (folder / "data" / "important.csv").write_text("1")


# -- overwrite ------------------------------------------------------------------------------------
@pytest.mark.parametrize("overwrite", [False, True])
def test_a_folder_that_is_not_a_run_folder_is_never_cleared(tmp_path, overwrite):
    _user_files(tmp_path)
    with pytest.raises(RunDirError, match="not a run folder") as info:
        claim_run_dir(tmp_path, overwrite=overwrite)
    assert (tmp_path / "thesis.txt").read_text() == "x"
    assert (tmp_path / "data" / "important.csv").read_text() == "1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "thesis.txt"]
    assert "thesis.txt" in str(info.value)
    if not overwrite:  # the refusal never leads to a flag that deletes
        assert "--overwrite" not in str(info.value)


def test_overwrite_of_a_run_folder_removes_only_what_runs_write(tmp_path):
    run = claim_run_dir(tmp_path / "r")
    folder = run.path
    for name in ("metrics.jsonl", "summary.json", "schedule.png", "latent-evolution.mp4"):
        (folder / name).write_text("ours")
    (folder / "checkpoints").mkdir()
    (folder / "checkpoints" / "step-0000010.pt").write_text("ours")
    (folder / "checkpoints" / "notes.md").write_text("mine")
    _user_files(folder)
    run_lock.release(folder)
    claim_run_dir(folder, overwrite=True)
    left = sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))
    assert left == sorted(
        ["checkpoints", "checkpoints/notes.md", "data", "data/important.csv", "thesis.txt",
         "run.json", LOCK_FILE]
    )  # fmt: skip


# -- one writer -----------------------------------------------------------------------------------
def _fake_lock(folder, pid, host=None):
    folder.mkdir(parents=True, exist_ok=True)
    info = {
        "host": host or socket.gethostname(), "pid": pid, "pid_start": process_start(pid),
        "since": "2026-01-01T00:00:00", "command": "color_curriculum --out o",
    }  # fmt: skip
    (folder / LOCK_FILE).write_text(json.dumps(info))


@pytest.mark.parametrize(("resuming", "overwrite"), [(False, False), (False, True), (True, False)])
def test_a_folder_locked_by_a_live_process_is_refused_naming_it(tmp_path, resuming, overwrite):
    folder = tmp_path / "o"
    claim_run_dir(folder)
    run_lock.release(folder)
    before = (folder / "run.json").read_text()
    _fake_lock(folder, os.getppid())  # a live process that is not this one
    with pytest.raises(RunDirError, match=f"process {os.getppid()} on") as info:
        claim_run_dir(folder, resuming=resuming, overwrite=overwrite)
    assert "color_curriculum --out o" in str(info.value)
    assert (folder / "run.json").read_text() == before


def test_a_lock_whose_process_is_gone_is_taken_over(tmp_path):
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    _fake_lock(tmp_path, int(done.stdout))
    run = claim_run_dir(tmp_path)
    holder = run_lock.read_holder(tmp_path / LOCK_FILE)
    assert holder is not None and holder.pid == os.getpid()
    assert run.fresh


def test_a_lock_from_another_host_is_never_guessed_stale(tmp_path):
    _fake_lock(tmp_path, 999999, host="gpu-node-7")
    with pytest.raises(RunDirError, match="gpu-node-7") as info:
        claim_run_dir(tmp_path)
    assert str(tmp_path / LOCK_FILE) in str(info.value)  # how to release it by hand


def test_the_lock_is_released_when_the_process_ends(tmp_path):
    code = (  # the lock module alone (no torch import: a fast subprocess)
        "import sys, importlib.util as u; s = u.spec_from_file_location('l', sys.argv[2]); "
        "m = sys.modules['l'] = u.module_from_spec(s); s.loader.exec_module(m); m.acquire(sys.argv[1]); "
        "assert m.held(sys.argv[1])"
    )
    (tmp_path / "r").mkdir()
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "r"), run_lock.__file__], check=True)
    assert not (tmp_path / "r" / LOCK_FILE).exists()


# -- a failed resume changes nothing --------------------------------------------------------------
class Net(nn.Module):
    """``extra=True``: the layer of the run that wrote the checkpoint plus one more."""

    def __init__(self, extra: bool = False):
        super().__init__()
        self.lin = nn.Linear(3, 3)
        self.extra = nn.Linear(3, 3) if extra else nn.Identity()

    def forward(self, x):
        return Result(self.extra(self.lin(x)), latents=x)


def _trainer(model, out, **kw):
    x = torch.randn(64, 3, generator=torch.Generator().manual_seed(0))
    return Trainer(
        model, torch.optim.Adam(model.parameters()), Dopesheet.from_text(SHEET, source="s.csv"),
        PhaseData(torch.utils.data.DataLoader(x, batch_size=8)),
        {"mse": lambda b, r: F.mse_loss(r.outputs, b)}, out_dir=out, progress=False, **kw,
    )  # fmt: skip


def test_a_resume_that_does_not_fit_loads_nothing_and_claims_nothing(tmp_path):
    _trainer(Net(), tmp_path / "a").fit()
    wider = Net(extra=True)
    before = {k: v.clone() for k, v in wider.state_dict().items()}
    trainer = _trainer(wider, tmp_path / "b")
    with pytest.raises(CheckpointError, match=r"does not fit this model.*missing: extra"):
        trainer.fit(resume=tmp_path / "a")
    assert all(torch.equal(before[k], v) for k, v in wider.state_dict().items())
    assert not (tmp_path / "b").exists()


def test_a_checkpoint_of_another_model_class_is_refused_before_the_folder_is_claimed(tmp_path):
    class Other(Net):  # the same parameters, another example's model
        pass

    _trainer(Net(), tmp_path / "a").fit()
    (tmp_path / "b").mkdir()
    with pytest.raises(CheckpointError, match=r"holds a Net, this run trains a .*Other"):
        _trainer(Other(), tmp_path / "b").fit(resume=tmp_path / "a")
    assert list((tmp_path / "b").iterdir()) == []


# -- checkpoints independent of run length --------------------------------------------------------
LONG = "STEP,PHASE,lr,mse\n0,A,0.05,1\n199,,,\n"


def test_a_checkpoint_keeps_a_position_in_metrics_not_the_history(tmp_path):
    trainer = _trainer(Net(), tmp_path / "a")
    trainer.timeline = Timeline(Dopesheet.from_text(LONG, source="s.csv"))
    trainer.checkpoint_every = 20
    trainer.fit()
    files = sorted((tmp_path / "a" / "checkpoints").glob("step-*.pt"))
    sizes = [f.stat().st_size for f in files]
    assert max(sizes) - min(sizes) < 512  # 180 steps of history apart: the same size
    state = load_checkpoint(files[-1])["handlers"]["metrics"]
    assert set(state) == {"position", "count"} and state["count"] == int(files[-1].stem[5:])
    assert trainer.metrics.lines == []  # flushed lines leave memory
    assert len(trainer.metrics.history()) == 200


def test_resume_cuts_metrics_back_to_the_checkpoint(tmp_path):
    whole = _trainer(Net(), tmp_path / "whole")
    whole.checkpoint_every = 4
    whole.fit()
    expected = (tmp_path / "whole" / "metrics.jsonl").read_text()
    with (tmp_path / "whole" / "metrics.jsonl").open("a") as f:
        f.write('{"step": 99, "written by": "a run killed after its checkpoint"}\n')
    resumed = _trainer(Net(), tmp_path / "whole")
    resumed.fit(resume=tmp_path / "whole" / "checkpoints" / "step-0000008.pt")
    assert (tmp_path / "whole" / "metrics.jsonl").read_text() == expected
    assert list(resumed.metrics.history()["step"]) == list(range(10))


# -- fix the dopesheet and resume from the fault --------------------------------------------------
def test_resuming_a_fault_with_a_fixed_dopesheet_replays_the_step_on_the_fixed_values(tmp_path):
    bad = "STEP,PHASE,lr:log,mse\n0,A,0.05,1\n8,,0.05,\n12,,1e30,\n19,,,\n"
    fixed = bad.replace("1e30", "0.05")
    first = _trainer(Net(), tmp_path / "r", finite_check="params")
    first.timeline = Timeline(Dopesheet.from_text(bad, source="s.csv"))
    with pytest.raises(NonFiniteLossError) as info:
        first.fit()
    fault = info.value.checkpoint
    assert fault is not None and fault.name.startswith("fault-")
    seen: dict[int, float] = {}
    again = _trainer(Net(), tmp_path / "r", finite_check="params")
    again.timeline = Timeline(Dopesheet.from_text(fixed, source="s.csv"))
    again.on("pre-step", lambda e: seen.setdefault(e.step, e.state.props["lr"]), reads=["lr"])
    with pytest.warns(ResumeWarning, match="edited schedule's own values"):
        again.fit(resume=fault)
    step = info.value.step
    assert seen[step] == pytest.approx(0.05)  # the fixed value, no blend from 1e30
    assert again._completed == 19


def test_resume_into_another_folder_carries_the_metrics_logged_so_far(tmp_path):
    whole = _trainer(Net(), tmp_path / "whole")
    whole.checkpoint_every = 4
    whole.fit()
    other = _trainer(Net(), tmp_path / "other")
    other.fit(resume=tmp_path / "whole" / "checkpoints" / "step-0000008.pt")
    assert (tmp_path / "other" / "metrics.jsonl").read_text() == (
        tmp_path / "whole" / "metrics.jsonl"
    ).read_text()
