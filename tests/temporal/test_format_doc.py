"""docs/format.md stays true: its error tables are the parser's real messages, and its examples
resolve as the page says."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from mini.temporal import Dopesheet, realize

from .error_examples import CASES, example_tables, shown

DOC = Path(__file__).resolve().parents[2] / "docs" / "format.md"
PRESETS = DOC.parents[1] / "schedules" / "presets"


def _block(text: str, name: str) -> str:
    m = re.search(rf"<!-- {name}:start -->\n(.*?)<!-- {name}:end -->", text, re.DOTALL)
    assert m, f"docs/format.md has no {name} block"
    return m.group(1)


def test_the_error_tables_are_what_the_parser_reports():
    # regenerate with: python -m tests.temporal.error_examples
    assert _block(DOC.read_text(), "errors") == example_tables()


def test_every_case_documents_a_different_message():
    messages = [shown(case).split(": ", 1)[1] for case in CASES]  # without the location
    assert len(set(messages)) == len(CASES)


def test_the_worked_step_example_resolves_as_documented():
    text = DOC.read_text()
    m = re.search(r"```csv\n(STEP,x\n.*?)```\n\nThe steps are ([0-9, and]+)\.", text, re.DOTALL)
    assert m
    documented = [int(s) for s in re.findall(r"\d+", m.group(2))]
    assert [r.step for r in Dopesheet.from_text(m.group(1)).rows] == documented


def test_the_opening_example_resolves_as_documented():
    text = DOC.read_text()
    csv = re.search(r"```csv\n(STEP,PHASE,ACTION.*?)```", text, re.DOTALL).group(1)
    ds = Dopesheet.from_text(csv)
    assert ds.n_steps == 10_001 and ds.actions == [(1200, "snapshot"), (3000, "anchor")]
    assert [(p.name, p.start, p.end) for p in ds.phases] == [
        ("Warm-up", 0, 2999),
        ("Main", 3000, 10000),
    ]
    assert [v for _, v in ds.keyframes("z")] == [1.0, 2.0, 3.0]


def test_the_per_key_example_is_linear_then_minjerk():
    text = DOC.read_text()
    csv = re.search(r"```csv\n(STEP,lr:log\n.*?)```", text, re.DOTALL).group(1)
    assert Dopesheet.from_text(csv).key_interpolators("lr") == [
        "minjerk",
        "linear",
        "minjerk",
        "minjerk",
    ]


def test_the_jump_key_example_restarts_as_documented():
    text = DOC.read_text()
    csv = re.search(r"```csv\n(STEP,lr::cosine\n.*?)```", text, re.DOTALL).group(1)
    assert csv == (PRESETS / "cosine-warm-restarts.csv").read_text()  # the preset, as it is
    ds = Dopesheet.from_text(csv)
    assert ds.key_arrivals("lr") == [None, 1e-5, 1e-5, None]
    lr = realize(ds)["lr"].to_numpy()
    # before the jump: exactly what a key 1e-5 at step 200 gives; then 1e-3 from step 200 on
    plain = realize(Dopesheet.from_text("STEP,lr::cosine\n0,1e-3\n200,1e-5\n"))["lr"].to_numpy()
    assert np.array_equal(lr[:200], plain[:200])
    assert lr[200] == lr[600] == 1e-3 and lr[1400] == 1e-5 and lr[599] < 1.01e-5
