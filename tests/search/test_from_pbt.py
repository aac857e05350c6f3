"""``python -m mini.temporal from-pbt``: policy logs written by a real (small, local) Ray Tune
PBT run (``data/write_pbt_policy.py``) become dopesheets that replay them as Tune does."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mini.temporal import Dopesheet, Timeline
from mini.temporal.cli import main
from mini.temporal.pbt_policy import PolicyError, policy_dopesheet, read_policy

DATA = Path(__file__).parent / "data"
POLICIES = sorted(DATA.glob("pbt_policy_*.txt"))


def test_the_fixtures_are_tune_policy_logs():
    assert len(POLICIES) == 3


@pytest.mark.parametrize("path", POLICIES, ids=lambda p: p.name)
def test_the_policy_is_read_as_tunes_replay_reads_it(path):
    from ray.tune.schedulers import PopulationBasedTrainingReplay

    replay = PopulationBasedTrainingReplay(str(path))  # Tune's own reading, as the oracle
    policy = read_policy(path)
    assert policy.initial == replay.config
    assert policy.changes == [(int(step), config) for step, config in replay._policy]


@pytest.mark.parametrize("path", POLICIES, ids=lambda p: p.name)
def test_a_held_dopesheet_has_the_replayed_config_on_every_step(path):
    from ray.tune.schedulers import PopulationBasedTrainingReplay

    replay = PopulationBasedTrainingReplay(str(path))
    spi = 10
    ds = policy_dopesheet(read_policy(path), steps_per_iteration=spi, last_iteration=12)
    tl = Timeline(ds)
    config, pending = dict(replay.config), list(replay._policy)
    for iteration in range(1, 13):  # iteration k trains steps (k-1)*spi .. k*spi-1
        for step in range((iteration - 1) * spi, iteration * spi):
            props = tl[step].props
            assert props == {k: float(v) for k, v in config.items()}, (iteration, step)
        while pending and iteration >= pending[0][0]:  # Tune changes the config after it
            config = dict(pending.pop(0)[1])


def test_smooth_moves_with_minimum_jerk_into_each_new_value():
    policy = read_policy(DATA / "pbt_policy_19dcb_00002.txt")
    ds = policy_dopesheet(policy, steps_per_iteration=10, transition="smooth", blend=5, log=("lr",))
    assert ds.specs["lr"].space == "log" and ds.specs["lr"].interpolator == "minjerk"
    lr = dict(ds.keyframes("lr"))
    assert lr[30] == policy.initial["lr"] and lr[35] == policy.changes[0][1]["lr"]
    values = Timeline(ds).values_at(np.arange(30, 36))["lr"]
    assert np.all(np.diff(values) < 0)  # on its way from 0.333 down to 0.267


def test_the_cli_writes_a_dopesheet_that_check_accepts(tmp_path, capsys):
    out = tmp_path / "pbt.csv"
    code = main(["from-pbt", str(DATA / "pbt_policy_19dcb_00002.txt"), "-o", str(out),
                 "--steps-per-iteration", "100", "--iterations", "12"])  # fmt: skip
    assert code == 0 and "2 exploit steps" in capsys.readouterr().out
    ds = Dopesheet.from_csv(out)
    assert ds.last_step == 1200 and [s for s, _ in ds.keyframes("momentum")] == [0, 300, 1100]
    assert main(["check", str(out)]) == 0


def test_a_file_that_is_not_a_policy_is_one_clear_error(tmp_path, capsys):
    bad = tmp_path / "pbt_policy_x.txt"
    bad.write_text('["a", "b", 1]\n')
    assert main(["from-pbt", str(bad), "-o", str(tmp_path / "o.csv")]) == 1
    err = capsys.readouterr().err
    assert "pbt_policy_x.txt:1: expected [target tag" in err and "Traceback" not in err
    bad.write_text("")
    with pytest.raises(PolicyError, match="empty"):
        read_policy(bad)
