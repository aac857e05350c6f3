"""``--prune METRIC[:max|min]`` for the example command lines: the flag's direction, and a
trainer built inside an example's ``main`` reporting its step losses so the search can stop
the trial."""

from __future__ import annotations

import argparse

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from mini.search import Pruning, Reporter
from mini.search.cli import ExampleRun, add_search_arguments, pruning_of, steps_reported, trial_argv
from mini.search.objectives import parse_objective
from mini.search.trial import run_trial
from mini.temporal import Dopesheet
from mini.training import PhaseData, Result, Trainer
from mini.training.script import fit

SHEET = "STEP,lr,mse\n0,0.1,1\n9,,\n"


class Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(2, 2)

    def forward(self, x):  # type: ignore[no-untyped-def]
        return Result(self.lin(x), latents=x)


def trainer(sheet: Dopesheet) -> Trainer:
    torch.manual_seed(0)
    model = Tiny()
    data = PhaseData([torch.randn(4, 2), torch.randn(4, 2)], val=torch.ones(3, 2))
    criteria = {"mse": lambda b, r: F.mse_loss(r.outputs, b)}
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    return Trainer(model, opt, sheet, data, criteria, progress=False)


def example_main(argv: list[str]) -> dict[str, float]:
    """An example's ``main``: builds its own trainer from ``--schedule`` and fits it."""
    schedule = argv[argv.index("--schedule") + 1]
    fit(trainer(Dopesheet.from_csv(schedule)), None)
    return {"q": 1.0}


@pytest.mark.parametrize(
    ("flag", "objectives", "direction"),
    [("total", ["q:max"], "min"), ("q", ["q:max"], "max"), ("mse:max", ["q:min"], "max")],
)
def test_the_prune_flag_is_a_loss_to_minimise_unless_it_says_otherwise(flag, objectives, direction):
    p = argparse.ArgumentParser()
    add_search_arguments(p)
    args = p.parse_args(["--prune", flag, "--prune-every", "20"])
    pruning = pruning_of(args.prune, objectives, args.prune_every)
    assert pruning == Pruning(flag.split(":")[0], every=20, direction=direction)
    assert parse_objective(objectives[0])  # the objectives are read as the search reads them


def test_a_bad_prune_direction_is_a_flag_error(capsys):
    p = argparse.ArgumentParser()
    add_search_arguments(p)
    with pytest.raises(SystemExit):
        p.parse_args(["--prune", "total:down"])
    assert "the direction must be max or min, not 'down'" in capsys.readouterr().err


def test_the_prune_flags_are_not_passed_to_the_trials():
    argv = ["--steps", "40", "--prune", "total:min", "--prune-every=5", "--seed", "1"]
    assert trial_argv(argv) == ["--steps", "40", "--seed", "1"]


def test_a_trainer_fitted_inside_main_reports_its_losses_every_n_steps():
    reports: list[tuple[int, float]] = []
    reporter = Reporter(0, extra=lambda step, metrics, state: reports.append((step, metrics)))
    with steps_reported(reporter, "total", every=3):
        fit(trainer(Dopesheet.from_text(SHEET)), None)
    assert [step for step, _ in reports] == [0, 3, 6, 9]
    assert all(set(m) == {"total"} and m["total"] > 0 for _, m in reports)
    fit(trainer(Dopesheet.from_text(SHEET)), None)  # outside the block nothing reports
    assert len(reports) == 4


def test_the_search_prunes_an_example_trial_from_the_losses_it_reports(tmp_path):
    run = ExampleRun(example_main, [], tmp_path, Pruning("total", every=2, direction="min"))
    seen: list[int] = []

    def prune_at_step_four(step: int, value: float) -> bool:
        seen.append(step)
        return step >= 4

    reporter = Reporter(3, {}, run.prune, sink=prune_at_step_four)
    sheet = Dopesheet.from_text(SHEET.replace("0.1", "?0.05..0.2"))
    outcome = run_trial(sheet, {"lr@2": 0.1}, run, [parse_objective("q:max")], reporter)
    assert outcome.state == "pruned" and "total" in outcome.reason and seen == [0, 2, 4]
    unpruned = ExampleRun(example_main, [], tmp_path)  # no --prune: the trial runs to the end
    outcome = run_trial(sheet, {"lr@2": 0.1}, unpruned, [parse_objective("q:max")], Reporter(4))
    assert outcome.state == "complete" and outcome.objectives == [1.0]
