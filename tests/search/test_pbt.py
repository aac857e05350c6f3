"""Population Based Training without Ray running: a lineage as a dopesheet (each value held,
or moved smoothly, from the step it changed; later exploits never rewrite what already ran)
and the clear errors for options and sheets PBT cannot search."""

from __future__ import annotations

import json
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mini.search import Pruning, search
from mini.search.objectives import parse_objective
from mini.search.outputs import TrialRow
from mini.search.pbt import PBT, PBTSetupError, lineage_sheet
from mini.search.plots import plot_schedules
from mini.search.tune_trials import trial_number
from mini.temporal import Dopesheet, Timeline, realize

from . import runs

SHEET = Dopesheet.from_text(runs.PBT_SPACE, source="pbt.csv")
LAST = SHEET.last_step


def _lineages(draw, min_gap: int = 1):  # type: ignore[no-untyped-def]
    n = draw(st.integers(0, 4))
    steps = sorted(draw(st.sets(st.integers(1, LAST + 5), min_size=n, max_size=n)))
    if any(b - a < min_gap for a, b in pairwise(steps)):
        steps = [s for i, s in enumerate(steps) if i == 0 or s - steps[i - 1] >= min_gap]
    value = st.fixed_dictionaries(
        {"x@2": st.floats(-2, 2, allow_nan=False), "rate@2": st.sampled_from([0.1, 0.3, 0.5])}
    )
    return [(0, draw(value))] + [(s, draw(value)) for s in steps]


lineages = st.composite(_lineages)


@settings(max_examples=40, deadline=None)
@given(lineages())
def test_a_held_lineage_has_each_entrys_values_from_its_step_on(lineage):
    timeline = Timeline(lineage_sheet(SHEET, lineage, "hold"))
    assert len(timeline) == LAST + 1
    for step in range(LAST + 1):
        values = [v for s, v in lineage if s <= step][-1]
        props = timeline[step].props
        assert (props["x"], props["rate"]) == (values["x@2"], values["rate@2"])
        assert props["w"] == Timeline(SHEET.with_values(values))[step].props["w"]


@settings(max_examples=40, deadline=None)
@given(lineages(min_gap=6), st.sampled_from(["hold", "smooth"]))
def test_a_later_exploit_never_changes_the_steps_that_already_ran(lineage, transition):
    """What a trial ran (its lineage so far) stays what the longer lineage says, when the
    changes are at least ``blend`` steps apart (PBT's interval guarantees it)."""
    full = realize(Timeline(lineage_sheet(SHEET, lineage, transition, blend=6)))
    for k in range(1, len(lineage)):
        upto = min(lineage[k][0], LAST + 1)
        ran = realize(Timeline(lineage_sheet(SHEET, lineage[:k], transition, blend=6)))
        assert ran.iloc[:upto].equals(full.iloc[:upto])


def test_smooth_moves_from_the_old_value_to_the_new_one_over_blend_steps():
    lineage = [(0, {"x@2": 1.0, "rate@2": 0.1}), (10, {"x@2": -1.0, "rate@2": 0.1})]
    ds = lineage_sheet(SHEET, lineage, "smooth", blend=5)
    assert ds.keyframes("x") == [(0, 1.0), (10, 1.0), (15, -1.0)]
    assert ds.keyframes("rate") == [(0, 0.1)]
    x = [Timeline(ds)[s].props["x"] for s in range(9, 17)]
    assert x[:2] == [1.0, 1.0] and x[-2:] == [-1.0, -1.0]
    assert all(a > b for a, b in pairwise(x[1:7]))


PBT_ON_RAY = {"backend": "ray", "scheduler": "pbt", "perturbation_interval": 10}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"backend": "ray", "scheduler": "pbt"}, "scheduler='pbt' needs perturbation_interval"),
        (PBT_ON_RAY | {"perturbation_interval": 0}, "perturbation_interval must be >= 1"),
        (PBT_ON_RAY | {"perturbation_interval": 2.5}, "a whole number of steps"),
        (PBT_ON_RAY | {"transition": "jump"}, "unknown transition 'jump' (fix: use one of hold"),
        (PBT_ON_RAY | {"blend": 3}, "blend is for transition='smooth' (fix: drop blend)"),
        (PBT_ON_RAY | {"transition": "smooth", "blend": 11}, "between 1 and perturbation_interval"),
        (PBT_ON_RAY | {"quantile_fraction": 0.7}, "above 0 and at most 0.5"),
        (PBT_ON_RAY | {"resample_probability": 2}, "resample_probability must be between 0 and 1"),
        (PBT_ON_RAY | {"pruning": Pruning("q")}, "fix: drop pruning with scheduler='pbt'"),
        (PBT_ON_RAY | {"trials": 1}, "PBT needs a population of at least 2 trials"),
        (PBT_ON_RAY | {"search_alg": "optuna"}, "random population, so search_alg='optuna'"),
        (PBT_ON_RAY | {"scheduler": "hyperband"}, "unknown scheduler 'hyperband' (fix: use one of"),
        ({"backend": "ray", "perturbation_interval": 10}, "(fix: add scheduler='pbt', or drop"),
        ({"scheduler": "pbt", "perturbation_interval": 10}, "(fix: add backend='ray', or drop"),
    ],
)
def test_bad_pbt_options_are_one_clear_error_before_ray_starts(tmp_path, options, message):
    kwargs = {"trials": 4, "out": tmp_path / "s", "progress": False, "plots": False} | options
    with pytest.raises(ValueError) as e:
        search(runs.pbt_space(tmp_path), runs.quality, "q:max", **kwargs)
    assert message in str(e.value)
    assert not (tmp_path / "s").exists()  # nothing ran


@pytest.mark.parametrize(
    ("sheet", "message"),
    [
        (
            "STEP,x\n0,0\n?5..9,?0..1\n20,\n",
            "pbt.csv:3:1: PBT changes values while trials train, not where rows are; STEP@3",
        ),
        (
            "STEP,x\n0,?0..1\n20,2\n",
            "pbt.csv:2:2: PBT changes held values, but x has 2 keys, so x@2 is one point of a curve",
        ),
        (
            "STEP,GATE,x\n0,,?0..1\n10,until loss < 1 max 50,\n20,,\n",
            "pbt.csv:3:2: PBT keys values at training steps, and a gate moves the schedule's clock",
        ),
    ],
)
def test_a_sheet_pbt_cannot_search_names_the_cell(tmp_path, sheet, message):
    path = tmp_path / "pbt.csv"
    path.write_text(sheet)
    with pytest.raises(PBTSetupError) as e:
        search(path, runs.quality, "q:max", trials=4, out=tmp_path / "s", **PBT_ON_RAY)
    assert message in str(e.value) and "(fix: " in str(e.value)


def test_the_options_default_to_hold_with_blend_one_interval():
    assert PBT(8).transition == "hold" and PBT(8, "smooth").blend_steps == 8


@pytest.mark.parametrize(
    ("folder", "number"),
    [
        ("_trainable_0227282d_6_STEP_3=410,lr_2=0.0003_2026-12-07_22-12-52", 5),  # a searcher's
        ("pbt_trainable_c416e_00003_3_rate_2=0.5000,x_2=1.6510_2026-12-07", 3),  # Tune's own
        ("/tmp/s/ray/tune/pbt_trainable_c416e_00000_0_rate_2=0.3000", 0),
    ],
)
def test_a_trial_is_numbered_from_0_whoever_named_its_folder(folder, number):
    assert trial_number(folder) == number


def test_the_schedules_plot_draws_what_each_pbt_trial_ran():
    lineage = [(0, {"x@2": 1.0, "rate@2": 0.1}), (10, {"x@2": -1.0, "rate@2": 0.5})]
    ran = lineage_sheet(SHEET, lineage, "hold")
    row = TrialRow(2, "complete", lineage[-1][1], [0.5], 1.0)
    fig = plot_schedules([row], SHEET, [parse_objective("q:max")], sheets={2: ran})
    lines = [(ln.get_xdata(), ln.get_ydata()) for ax in fig.axes for ln in ax.get_lines()]
    switching = [
        (steps, y)
        for steps, y in lines
        if set(y[steps < 10]) == {1.0} and set(y[steps >= 10]) == {-1.0}
    ]
    assert len(switching) == 1  # x as the trial ran it, not its last values filled in


def test_a_run_written_for_pbt_runs_unchanged_in_the_in_process_search(tmp_path):
    result = search(
        runs.pbt_space(tmp_path), runs.Following(str(tmp_path)), "q:max", trials=2,
        out=tmp_path / "s", progress=False, plots=False,
    )  # fmt: skip
    assert result.summary["complete"] == 2 and "scheduler" not in result.summary
    for n in range(2):  # each trial started at step 0 with no state and ran its filled sheet
        assert [step for step, _ in json.loads((tmp_path / f"trial-{n}.json").read_text())] == list(
            range(40)
        )


def test_a_smooth_change_at_the_last_step_leaves_the_steps_before_it_alone():
    """Found by hypothesis: a change at the sheet's last step has no room to move, and keyed
    only there it turned the whole run before it into a ramp."""
    lineage = [(0, {"x@2": 0.0, "rate@2": 0.1}), (LAST, {"x@2": 0.0, "rate@2": 0.3})]
    values = realize(Timeline(lineage_sheet(SHEET, lineage, "smooth", blend=6)))["rate"].tolist()
    assert values[:-1] == [0.1] * LAST and values[-1] == 0.3
