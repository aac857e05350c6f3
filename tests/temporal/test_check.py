"""check_csv (what ``python -m mini.temporal check`` runs) agrees with Dopesheet.from_csv."""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from mini.temporal import Dopesheet, DopesheetError, DopesheetWarning
from mini.temporal.check import check_csv

from .strategies import csvish_text, dopesheet_text


@given(st.one_of(dopesheet_text(curves=True, jumps=True), csvish_text()))
@settings(max_examples=200, deadline=None)
def test_check_finds_what_from_csv_finds(text):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "s.csv"
        path.write_text(text, newline="")
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", DopesheetWarning)
                ds = Dopesheet.from_csv(path)
        except DopesheetError as e:
            try:
                check_csv(path)
            except DopesheetError as f:
                assert f.problems == e.problems and f.total == e.total
            else:
                raise AssertionError("check_csv accepted a file from_csv rejects") from None
            return
        summary = check_csv(path)
    assert summary.n_steps == ds.n_steps and summary.specs == ds.specs
    named = [p.name for p in ds.phases if p.name is not None]
    assert summary.n_phases == len(named) and summary.phase_names == named[:12]
    assert summary.last_lines == ds.rows[-1].lines
    assert summary.warnings == [str(w.message) for w in caught]
