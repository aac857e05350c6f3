"""Acceptance: the schedule engine's guarantees hold in every loop — our Trainer, a plain loop
with DopesheetLR, Lightning with DopesheetCallback and Ignite with DopesheetHandler."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from torch.nn import functional as F

from mini.loggers import CSVLogger
from mini.training import ConfigError
from tests.engine.loops import LOOPS, PER_EPOCH, SHEET, batches, make_model, train

pytest.importorskip("lightning")
pytest.importorskip("ignite")

pytestmark = pytest.mark.parametrize("loop", LOOPS)


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(
        torch.equal(x, y)
        for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    )


def test_handler_names_are_checked_with_did_you_mean(loop, tmp_path):
    def typos(target):
        target.on("action:frezee-first", print)
        target.on("phase-start:Mian", print)

    with pytest.raises(ConfigError) as error:
        train(loop, tmp_path, extra=typos)
    assert "did you mean 'freeze-first'?" in str(error.value)
    if loop != "loop":  # DopesheetLR knows its schedule at once: each on() is checked then
        assert "did you mean 'Main'?" in str(error.value)  # one error lists every problem


def test_an_lr_column_without_its_param_group_is_an_error(loop, tmp_path):
    sheet = SHEET.from_text("STEP,lr,lr-heads,w\n0,0.1,0.2,1\n11,0.01,0.02,1\n", source="g.csv")
    with pytest.raises(ConfigError, match=r"column 'lr-heads' of g\.csv drives no param group"):
        train(loop, tmp_path, sheet=sheet)


def test_props_lookups_say_did_you_mean(loop, tmp_path):
    def typo(target):
        target.on("pre-step", lambda e: target.props["W"])

    with pytest.raises(KeyError, match="did you mean 'w'"):
        train(loop, tmp_path, extra=typo)


def test_actions_are_replayed_after_kill_and_resume_bit_identically(loop, tmp_path):
    full = train(loop, tmp_path / "full")
    first = train(loop, tmp_path / "run", stop=8)  # the freeze fired at step 4
    rest = train(loop, tmp_path / "run", resume=True)
    assert full.actions == first.actions == [(4, "freeze-first", False)]
    assert rest.actions == [(4, "freeze-first", True)]  # replayed, not fired again
    assert rest.starts == [8]  # train-start carries the step the run continues from
    assert [s for s, _ in rest.losses] == list(range(8, 12))
    assert not rest.model[0].weight.requires_grad
    assert not torch.equal(full.model[0].weight, make_model()[0].weight)  # it did train
    assert same_weights(rest.model, full.model)


def test_values_are_there_before_the_first_step(loop, tmp_path):
    # steps in % resolve from the loop's own length; Lightning's sanity check reads step 0
    path = tmp_path / "pct.csv"
    path.write_text("STEP,ACTION,lr,w\n0,,0.1,0.25\n50%,freeze-first,,1\n100%,,0.01,1\n")
    run = train(loop, tmp_path, sheet=path, epochs=3)
    assert run.early == [0.25]
    assert len(run.lrs) == 3 * PER_EPOCH


def test_a_longer_run_on_resume_fires_no_action_twice_and_stays_in_range(loop, tmp_path):
    path = tmp_path / "pct.csv"
    path.write_text("STEP,ACTION,lr:log,w\n0,,1e-2,1\n50%,freeze-first,,\n100%,,1e-4,0.5\n")
    first = train(loop, tmp_path / "run", sheet=path, epochs=3, stop=8)  # action at step 6
    rest = train(loop, tmp_path / "run", sheet=path, epochs=5, resume=True)  # 20 steps now
    assert first.actions == [(6, "freeze-first", False)]
    assert rest.actions == [(6, "freeze-first", True)]  # never fired again at its new step 10
    assert len(rest.lrs) == 20 - 8
    assert all(1e-4 <= lr <= 1e-2 for lr in first.lrs + rest.lrs)


def test_a_longer_run_can_keep_the_checkpoints_schedule(loop, tmp_path):
    path = tmp_path / "pct.csv"
    path.write_text("STEP,ACTION,lr,w\n0,,0.1,1\n50%,freeze-first,,\n100%,,0.01,1\n")
    full = train(loop, tmp_path / "full", sheet=path, epochs=3)
    train(loop, tmp_path / "run", sheet=path, epochs=3, stop=8)
    options = {"on_length_change": "keep"}
    rest = train(loop, tmp_path / "run", sheet=path, epochs=5, resume=True, **options)
    assert rest.lrs[:4] == full.lrs[8:]  # the 12-step schedule continues...
    if loop == "trainer":  # ...to its end (our Trainer's run is its schedule)
        assert len(rest.lrs) == 4
    else:  # ...and the framework's longer run holds its last value
        assert rest.lrs[4:] == [full.lrs[-1]] * 8


def test_the_logged_loss_is_the_mean_over_micro_batches_unscaled(loop, tmp_path):
    run = train(loop, tmp_path, accumulate=2, epochs=2)
    model = make_model()
    first_two = batches()[:2]
    with torch.no_grad():
        expected = sum(F.mse_loss(model(x), y).item() for x, y in first_two) / 2
    step, loss = run.losses[0]
    assert step == 0 and loss == pytest.approx(expected, rel=1e-6)
    assert run.losses[1][0] == 1 and run.losses[1][1] != pytest.approx(loss, rel=1e-6)


def test_no_step_is_logged_twice_after_resume(loop, tmp_path):
    def logger(target):
        CSVLogger(tmp_path / "run" / "metrics.csv", plot=False).attach(target)

    (tmp_path / "run").mkdir()
    train(loop, tmp_path / "run", stop=8, extra=logger)
    train(loop, tmp_path / "run", resume=True, extra=logger)
    steps = pd.read_csv(tmp_path / "run" / "metrics.csv")["step"].tolist()
    assert steps == list(range(12))
