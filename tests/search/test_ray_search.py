"""The Ray Tune backend on a local two-CPU Ray (one session for the module): the same
outputs as the in-process search, failed trials recorded, ASHA stopping trials early, and
Population Based Training whose lineages, written as dopesheets, replay what the trials ran."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mini.search import Pruning, search
from mini.temporal import Dopesheet, Timeline
from mini.temporal.cli import main

from . import runs

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_a_tune_search_records_every_trial_and_best_csv_replays_the_best(tmp_path):
    out = tmp_path / "s"
    result = search(
        runs.space(tmp_path), runs.crashing, "q:max", trials=6, out=out, backend="ray",
        workers=2, progress=False, plots=False,
    )  # fmt: skip
    t = result.trials
    assert sorted(t.trial) == list(range(6)) and result.summary["backend"] == "ray"
    assert set(t.state) <= {"complete", "failed"} and result.summary["trials"] == 6
    failed = t[t.state == "failed"]
    assert set(failed["w@3"]) <= {0.1, 1.0} and all(failed.reason.str.len() > 0)
    assert (t[t.state == "complete"]["w@3"] == 0.5).all()
    if result.best is not None:
        replay = Dopesheet.from_csv(out / "best.csv")
        assert runs.score(replay)["q"] == result.best_value


def test_asha_stops_trials_from_the_values_they_report(tmp_path):
    result = search(
        runs.space(tmp_path), runs.reporting, "q:max", trials=8, out=tmp_path / "s",
        backend="ray", workers=2, pruning=Pruning("q", every=1, warmup=1), search_alg="random",
        seed=3, progress=False, plots=False,
    )  # fmt: skip
    t = result.trials
    assert len(t) == 8 and (t.state == "pruned").sum() >= 1
    assert result.summary["pruned"] == (t.state == "pruned").sum()
    assert all("stopped by the scheduler" in r for r in t[t.state == "pruned"].reason)


def test_pbt_writes_each_lineage_as_a_dopesheet_that_replays_the_values_it_ran(tmp_path, caplog):
    out = tmp_path / "s"
    result = search(
        runs.pbt_space(tmp_path), runs.Following(str(tmp_path)), "q:max", trials=4, out=out,
        backend="ray", workers=2, scheduler="pbt", perturbation_interval=10,
        quantile_fraction=0.5, progress=False, plots=False,
    )  # fmt: skip
    s = result.summary
    assert s["scheduler"] == "pbt" and s["complete"] == 4 and s["transition"] == "hold"
    exploited = 0
    for n in range(4):
        ran = json.loads((tmp_path / f"trial-{n}.json").read_text())
        sheet = Dopesheet.from_csv(out / "lineages" / f"trial-{n}.csv")
        timeline = Timeline(sheet)
        assert [step for step, _ in ran] == list(range(len(timeline))) == list(range(40))
        assert [timeline[step].props for step, _ in ran] == [props for _, props in ran]
        exploited += len(sheet.keyframes("x")) > 1 or len(sheet.keyframes("rate")) > 1
    assert exploited >= 1  # PBT changed some trial's values while it trained
    policies = list((out / "ray" / "tune").glob("pbt_policy_*.txt"))
    assert len(policies) >= exploited and "using the trial's record" not in caplog.text
    best = Dopesheet.from_csv(out / "best.csv")
    assert best == Dopesheet.from_csv(out / "lineages" / f"trial-{s['best_trial']}.csv")
    assert result.best == best and main(["check", str(out / "best.csv")]) == 0
    if s["policy"] is not None:  # the winner was perturbed: Tune's log of it is named
        assert Path(s["policy"]).name.startswith("pbt_policy_") and Path(s["policy"]).exists()
