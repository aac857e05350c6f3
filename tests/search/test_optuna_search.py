"""The in-process Optuna search: outputs, failed and pruned trials, a Pareto front, resuming
after a kill or Ctrl-C, and best.csv replaying the best trial."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from mini.search import Pruning, search
from mini.temporal import Dopesheet
from mini.temporal.cli import main as temporal_main

from . import runs

REPO = Path(__file__).resolve().parents[2]


def test_a_search_writes_best_trials_summary_and_plots(tmp_path, capsys):
    out = tmp_path / "search"
    result = search(runs.space(tmp_path), runs.quality, "q:max", trials=8, out=out, progress=False)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["objective"] == "q:max" and summary["trials"] == 8
    assert (summary["pruned"], summary["failed"]) == (0, 0)
    trials = pd.read_csv(out / "trials.csv")
    assert list(trials.columns) == [
        "trial", "state", "lr@2", "STEP@3", "w@3", "lr@4", "q", "seconds", "reason",
    ]  # fmt: skip
    assert len(trials) == 8 and (trials.state == "complete").all()
    assert summary["best_value"] == trials.q.max()
    assert summary["best_trial"] == int(trials.trial[trials.q.idxmax()])
    for name in ("history.png", "values.png", "schedules.png"):
        assert (out / name).stat().st_size > 1000
    assert temporal_main(["check", str(out / "best.csv")]) == 0
    assert result.best == Dopesheet.from_csv(out / "best.csv")


def test_best_csv_replays_the_best_trial_exactly(tmp_path):
    result = search(
        runs.space(tmp_path),
        runs.quality,
        "q:max",
        trials=6,
        out=tmp_path / "s",
        progress=False,
        plots=False,
    )
    replay = Dopesheet.from_csv(tmp_path / "s" / "best.csv")
    assert replay.search is None
    assert runs.score(replay)["q"] == result.best_value  # bit for bit


def test_the_same_seed_proposes_the_same_trials(tmp_path):
    a = search(
        runs.space(tmp_path),
        runs.quality,
        "q:max",
        trials=4,
        out=tmp_path / "a",
        progress=False,
        plots=False,
    )
    b = search(
        runs.space(tmp_path),
        runs.quality,
        "q:max",
        trials=4,
        out=tmp_path / "b",
        progress=False,
        plots=False,
    )
    pd.testing.assert_frame_equal(
        a.trials.drop(columns="seconds"), b.trials.drop(columns="seconds")
    )


def test_crashing_and_non_finite_trials_are_failed_and_the_search_goes_on(tmp_path):
    result = search(
        runs.space(tmp_path),
        runs.crashing,
        "q:max",
        trials=12,
        out=tmp_path / "s",
        progress=False,
        plots=False,
    )
    t = result.trials
    assert len(t) == 12
    failed = t[t.state == "failed"]
    assert set(failed["w@3"]) == {0.1, 1.0}
    assert all("diverged" in r for r in failed[failed["w@3"] == 1.0].reason)
    assert all("q is nan" in r for r in failed[failed["w@3"] == 0.1].reason)
    assert result.summary["failed"] == len(failed) and result.summary["trials"] == 12
    assert (t[t.state == "complete"]["w@3"] == 0.5).all()


def test_a_missing_objective_fails_the_trial_with_the_keys_it_returned(tmp_path):
    result = search(
        runs.space(tmp_path),
        runs.quality,
        "loss:min",
        trials=2,
        out=tmp_path / "s",
        progress=False,
        plots=False,
    )
    assert (result.trials.state == "failed").all()
    assert (
        "returned no 'loss'" in result.trials.reason[0] and "q, lr_mid" in result.trials.reason[0]
    )
    assert result.best is None and result.summary["best_value"] is None


def test_unpromising_trials_are_pruned_from_reported_values(tmp_path):
    pruning = Pruning("q", every=2, startup=2, warmup=0)
    result = search(
        runs.space(tmp_path), runs.reporting, "q:max", trials=14, out=tmp_path / "s",
        pruning=pruning, seed=1, sampler="random", progress=False, plots=False,
    )  # fmt: skip
    t = result.trials
    assert result.summary["pruned"] == (t.state == "pruned").sum() >= 1
    complete = t[t.state == "complete"]
    for _, row in t[t.state == "pruned"].iterrows():  # pruned: below the median of earlier trials
        earlier = complete[complete.trial < row.trial].q
        assert len(earlier) >= 2 and "q = " in row.reason
    assert result.summary["trials"] == 14


def test_several_objectives_give_a_pareto_front(tmp_path):
    out = tmp_path / "s"
    result = search(
        runs.space(tmp_path),
        runs.two_goals,
        ["a:max", "b:max"],
        trials=10,
        out=out,
        progress=False,
        plots=False,
    )
    front = result.summary["front"]
    assert len(front) >= 2
    done = result.trials[result.trials.state == "complete"]
    points = list(zip(done.a, done.b, strict=True))
    for f in front:  # nothing beats a front trial on both objectives
        a, b = f["objectives"]
        assert not any(x >= a and y >= b and (x, y) != (a, b) for x, y in points)
        assert (out / "front" / f"trial-{f['trial']}.csv").exists()
    dominated = [
        p for p in points if any(x >= p[0] and y >= p[1] and (x, y) != p for x, y in points)
    ]
    assert len(front) + len(dominated) == len(points)
    assert result.summary["best_trial"] == front[0]["trial"]  # the front's best on `a`


def test_a_killed_search_resumes_without_losing_or_repeating_a_finished_trial(tmp_path):
    sheet = runs.space(tmp_path)
    out = tmp_path / "s"
    code = (
        "from mini.search import search; from tests.search import runs; "
        f"search({str(sheet)!r}, runs.stalling, 'q:max', trials=5, out={str(out)!r}, "
        "progress=False, plots=False)"
    )
    env = {**os.environ, "STALL_DIR": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, env=env)
    try:
        deadline = time.monotonic() + 120
        while not (tmp_path / "started-2").exists():
            assert proc.poll() is None and time.monotonic() < deadline, "the search did not start"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    stalled = eval((tmp_path / "started-2").read_text())  # the values of the killed trial
    result = search(sheet, runs.quality, "q:max", trials=5, out=out, progress=False, plots=False)
    t = result.trials
    finished = t[t.state == "complete"]
    assert len(finished) == 5 and result.summary["trials"] == 5
    assert list(t.state[:3]) == ["complete", "complete", "interrupted"]
    rerun = finished[finished.trial == 3].iloc[0]  # the killed trial's values, run again first
    assert {k: rerun[k] for k in stalled} == stalled
    values = finished[["lr@2", "STEP@3", "w@3", "lr@4"]].round(12).apply(tuple, axis=1)
    assert values.is_unique  # no finished trial ran twice


def test_ctrl_c_stops_cleanly_and_the_search_resumes(tmp_path):
    sheet = runs.space(tmp_path)
    out = tmp_path / "s"
    first = search(
        sheet, runs.interrupting, "q:max", trials=4, out=out, progress=False, plots=False
    )
    assert first.interrupted and first.summary["trials"] == 2
    assert list(first.trials.state) == ["complete", "complete", "interrupted"]
    assert json.loads((out / "summary.json").read_text())["interrupted"] == 1
    again = search(sheet, runs.quality, "q:max", trials=4, out=out, progress=False, plots=False)
    assert not again.interrupted and again.summary["trials"] == 4
    t = again.trials
    assert t.loc[t.trial == 3, "lr@2"].item() == t.loc[t.trial == 2, "lr@2"].item()


def test_a_folder_of_another_search_is_refused(tmp_path):
    search(
        runs.space(tmp_path),
        runs.quality,
        "q:max",
        trials=1,
        out=tmp_path / "s",
        progress=False,
        plots=False,
    )
    with pytest.raises(ValueError, match="other cells or objectives"):
        search(
            runs.space(tmp_path),
            runs.quality,
            "q:min",
            trials=1,
            out=tmp_path / "s",
            progress=False,
        )


def test_a_sheet_without_search_cells_is_refused(tmp_path):
    path = tmp_path / "plain.csv"
    path.write_text("STEP,x\n0,1\n")
    with pytest.raises(ValueError, match="no search cells"):
        search(path, runs.quality, "q:max", trials=1, out=tmp_path / "s")


@pytest.mark.slow
def test_two_worker_processes_share_one_study(tmp_path):
    result = search(
        runs.space(tmp_path), runs.quality, "q:max", trials=6, out=tmp_path / "s", workers=2,
        progress=False, plots=False,
    )  # fmt: skip
    assert result.summary["trials"] == 6 and (result.trials.state == "complete").all()
    assert sorted(result.trials.trial) == list(range(6))
