"""The GATE column's grammar: conditions parse to the right tree, mistakes are errors at the
cell (file:line:column), and no input makes the parser raise anything but DopesheetError."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mini.temporal import Dopesheet, DopesheetError
from mini.temporal.check import check_csv
from mini.temporal.conditions import ConditionState
from mini.temporal.gates import (
    All,
    Any_,
    Compare,
    Custom,
    GateSyntaxError,
    Plateau,
    Stable,
    parse_condition,
    parse_gate,
)


def test_until_with_max_and_min():
    g = parse_gate("until loss-recon < 1e-3 max 2000 min 100")
    assert (g.kind, g.max_hold, g.min_hold, g.blend) == ("until", 2000, 100, 0)
    assert g.condition == Compare("loss-recon", "<", 1e-3)


def test_when_with_plateau_direction_and_blend():
    g = parse_gate("when val-quality plateau 200 delta 0.001 max min 50 blend 300")
    assert g.condition == Plateau("val-quality", 200, 0.001, "max")
    assert (g.kind, g.min_hold, g.blend, g.max_hold) == ("when", 50, 300, None)


def test_and_binds_tighter_than_or_and_parentheses_group():
    c = parse_condition("a < 1 or b > 2 and c stable 10")
    assert c == Any_((Compare("a", "<", 1), All((Compare("b", ">", 2), Stable("c", 10)))))
    c = parse_condition("(a < 1 or b > 2) and c stable 10 delta 0.5")
    assert c == All((Any_((Compare("a", "<", 1), Compare("b", ">", 2))), Stable("c", 10, 0.5)))
    assert parse_condition("ready() and x >= -2") == All((Custom("ready"), Compare("x", ">=", -2)))


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("until loss < 0.1", "needs 'max N'"),
        ("wait loss < 1 max 3", "starts with 'until' or 'when'"),
        ("until loss max 10", "expected <, <=, >, >=, 'plateau' or 'stable'"),
        ("until loss < x max 10", "expected the value after '<'"),
        ("until loss == 1 max 10", "unexpected '='"),
        ("until (loss < 1 max 10", "expected ')'"),
        ("when loss < 1 max 10", "expected 'min' or 'blend'"),
        ("until loss < 1 blend 10 max 3", "expected 'max' or 'min'"),
        ("until loss plateau 1.5 max 10", "whole number"),
        ("until loss < 1 max 10 max 20", "given twice"),
        ("until loss < 1 max 10 min 20", "more than"),
        ("until and < 1 max 10", "keyword"),
        ("until loss stable 5 delta -1 max 9", "delta must be >= 0"),
        ("until loss < 1 and max 10", "expected a metric name"),
        ("until loss < 1 loss2 < 3 max 10", "join conditions"),
    ],
)
def test_bad_gates_are_rejected_with_a_message(text, fragment):
    with pytest.raises(GateSyntaxError) as e:
        parse_gate(text)
    assert fragment in e.value.message + e.value.fix


def test_bad_gate_cell_is_reported_at_file_line_column(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("STEP,PHASE,x,GATE\n0,A,0,\n100,B,1,until loss < 0.1\n")
    for read in (Dopesheet.from_csv, check_csv):
        with pytest.raises(DopesheetError) as e:
            read(path)
        text = str(e.value)
        assert f"{path}:3:4: column 'GATE'" in text and "max" in text


def test_when_on_step_0_and_two_gates_on_one_step_are_errors():
    with pytest.raises(DopesheetError, match=r"<text>:2:3: .*no previous row"):
        Dopesheet.from_text("STEP,x,GATE\n0,0,when a < 1\n10,1,\n")
    with pytest.raises(DopesheetError, match=r"<text>:4:3: .*both have a gate"):
        Dopesheet.from_text("STEP,x,GATE\n0,0,\n10,1,until a < 1 max 5\n+0,,until b < 1 max 5\n")


def test_gate_in_other_capitals_is_named():
    with pytest.raises(DopesheetError, match="write it in capitals: GATE"):
        Dopesheet.from_text("STEP,x,Gate\n0,0,\n")


def test_gates_round_trip_through_df_dict_and_scaling():
    ds = Dopesheet.from_text("STEP,x,GATE\n0,0,\n100,1,until a < 1 max 5\n200,2,\n")
    assert [(g.step, g.text) for g in ds.gates] == [(100, "until a < 1 max 5")]
    assert Dopesheet.from_df(ds.as_df()).gates[0].step == 100
    assert Dopesheet.from_dict(ds.to_dict()) == ds
    assert ds.scaled(21).gates[0].step == 10
    plain = Dopesheet.from_text("STEP,x\n0,0\n100,1\n200,2\n")
    assert plain.gates == () and plain != ds  # a gate is part of the schedule's identity
    assert "gates" not in plain.to_dict()


def _window(cond: str, stream: list[tuple[int, float]]) -> list[bool | None]:
    cs = ConditionState(parse_condition(cond))
    cs.reset(stream[0][0])
    last: dict[str, float] = {}
    out = []
    for step, v in stream:
        last["m"] = v
        out.append(cs.update(step, {"m": v}, last, step))
    return out


def test_plateau_counts_steps_since_the_last_improvement():
    # improves until step 3, then only by less than delta
    stream = [(0, 5.0), (1, 4.0), (2, 3.0), (3, 2.0), (4, 1.95), (5, 1.99), (6, 1.96), (7, 1.9)]
    assert _window("m plateau 3 delta 0.1", stream) == [False] * 6 + [True, True]
    assert _window("m plateau 3 delta 0.01", stream) == [False] * 7 + [False]


def test_stable_needs_the_whole_window_within_delta():
    stream = [(0, 1.0), (10, 1.5), (20, 1.52), (30, 1.51), (40, 1.49), (50, 2.0)]
    assert _window("m stable 20 delta 0.05", stream) == [False, False, False, True, True, False]


def test_metric_logged_every_n_steps_is_evaluated_when_logged():
    cs = ConditionState(parse_condition("m < 1"))
    assert cs.update(5, {"other": 0.0}, {"other": 0.0}, 5) is None
    assert cs.update(10, {"m": 0.5}, {"m": 0.5}, 10) is True


_ALPHABET = st.sampled_from(
    ["until", "when", "loss", "val-x", "<", "<=", ">", ">=", "(", ")", "and", "or", "plateau",
     "stable", "delta", "max", "min", "blend", "1", "0.5", "-3", "1e-3", "1e400", "1.5", "=",
     "x()", "#", ",", '"', "\u00e9"]
)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(st.lists(_ALPHABET, max_size=12), st.text(max_size=12))
def test_fuzz_gate_cells_give_a_gate_or_a_dopesheet_error(words, noise):
    cell = " ".join(words) + noise
    quoted = '"' + cell.replace('"', '""') + '"'
    text = f"STEP,x,GATE\n0,0,\n10,1,{quoted}\n"
    try:
        ds = Dopesheet.from_text(text)
    except DopesheetError:
        return
    if cell.strip():
        assert ds.gates and ds.gates[0].step == 10
        assert parse_gate(str(ds.gates[0].gate)) == ds.gates[0].gate  # printing round-trips


GATED = "STEP,PHASE,x,GATE\n0,A,0,\n100,B,1,until loss < 0.1 max 50\n200,,2,when q plateau 20 max\n"


def test_cli_check_show_realize_and_plot_speak_of_the_gates(tmp_path, capsys):
    from mini.temporal.cli import main

    path = tmp_path / "gated.csv"
    path.write_text(GATED)
    assert main(["check", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"gate: {path}:3: step 100:" in out and "at most 50 steps" in out
    assert "early stopping" in out
    assert main(["show", str(path)]) == 0
    assert "gate at step 100 (line 3)" in capsys.readouterr().out
    assert main(["realize", str(path), "-o", str(tmp_path / "all.csv")]) == 0
    assert "nominal schedule" in capsys.readouterr().err
    assert main(["plot", str(path), "-o", str(tmp_path / "p.png")]) == 0


def test_plain_timeline_of_a_gated_sheet_warns_that_it_is_nominal():
    from mini.temporal import DopesheetWarning, Timeline, realize

    ds = Dopesheet.from_text(GATED)
    with pytest.warns(DopesheetWarning, match="nominal"):
        Timeline(ds)
    with pytest.warns(DopesheetWarning, match="nominal"):
        assert len(realize(ds)) == 201


def test_the_documented_gate_errors_are_what_the_parser_reports():
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "gates.md").read_text()
    rows = re.findall(r"^\| `(.+?)` \| `(bad\.csv:.+?)` \|$", doc, flags=re.M)
    assert len(rows) >= 6
    for cell, message in rows:
        cell = cell.replace("\\|", "|")
        if cell.startswith("STEP"):
            text = cell.replace("⏎", "\n")
        elif cell.startswith("…"):
            text = "STEP,x,GATE\n0,0," + cell[1:].replace("⏎", "\n")
        else:
            text = f"STEP,PHASE,x,GATE\n0,A,0,\n100,B,1,{cell}\n"
        with pytest.raises(DopesheetError) as e:
            Dopesheet.from_text(text, source="bad.csv")
        assert message.replace("\\|", "|") in str(e.value), cell
