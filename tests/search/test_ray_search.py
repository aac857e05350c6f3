"""The Ray Tune backend on a local two-CPU Ray (one session for the module): the same
outputs as the in-process search, failed trials recorded, ASHA stopping trials early."""

from __future__ import annotations

import pytest

from mini.search import Pruning, search
from mini.temporal import Dopesheet

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
