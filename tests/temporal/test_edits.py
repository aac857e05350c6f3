"""past_edits: which edits to a dopesheet fall on steps a resumed run has already trained."""

from __future__ import annotations

from mini.temporal import Dopesheet, past_edits

OLD = """STEP,PHASE,ACTION,lr:log,w
0,A,,1e-3,0
300,,snap,,0.5
600,B,,,1
900,,,,0.5
1200,,,1e-4,0
"""


def ds(text: str) -> Dopesheet:
    return Dopesheet.from_text(text, source="s.csv")


def test_no_edits_means_nothing_to_report():
    assert past_edits(ds(OLD), ds(OLD), 1200) == []


def test_edits_after_the_step_are_not_reported():
    new = OLD.replace("900,,,,0.5", "900,,,,0.7")
    assert past_edits(ds(OLD), ds(new), 600) == []
    assert past_edits(ds(OLD), ds(new), 900) == ["line 5 (step 900)"]


def test_changed_added_and_removed_rows_are_named_by_line():
    new = """STEP,PHASE,ACTION,lr:log,w
0,A,,1e-3,0
300,,snap,,0.6
450,,,,0.7
600,B,,,1
1200,,,1e-4,0
"""
    assert past_edits(ds(OLD), ds(new), 1000) == [
        "line 3 (step 300)",  # value changed
        "line 4 (step 450)",  # added
        "line 5 (step 900, removed)",  # removed: its line in the old file
    ]


def test_phases_actions_and_curves_count_as_edits():
    assert past_edits(ds(OLD), ds(OLD.replace("600,B", "600,C")), 600) == ["line 4 (step 600)"]
    assert past_edits(ds(OLD), ds(OLD.replace("snap", "")), 600) == ["line 3 (step 300)"]
    curve = OLD.replace("600,B,,,1", "600,B,,,1 linear")
    assert past_edits(ds(OLD), ds(curve), 600) == ["line 4 (step 600)"]


def test_layout_only_edits_are_not_edits():
    relative = OLD.replace("300,,snap", "-0.5,,snap").replace("0,A,,1e-3,0", "0,A,,0.001,0.0")
    filled_down = OLD.replace("300,,snap", "300,A,snap")
    assert past_edits(ds(OLD), ds(relative), 1200) == []
    assert past_edits(ds(OLD), ds(filled_down), 1200) == []


def test_rows_merged_from_several_lines_name_them_all():
    new = OLD.replace("300,,snap,,0.5", "300,,snap,,0.5\n+0,,log,,")
    assert past_edits(ds(OLD), ds(new), 600) == ["lines 3,4 (step 300)"]


def test_a_header_change_that_reshapes_trained_segments_is_reported():
    linear = OLD.replace("lr:log,w", "lr:log:linear,w")
    assert past_edits(ds(OLD), ds(linear), 600) == ["line 1 (column 'lr:log' → 'lr:log:linear')"]
    # at step 0 no segment has started yet
    assert past_edits(ds(OLD), ds(linear), 0) == []
    # a column whose keys are all in the future is not reported
    late = OLD.replace("w\n", "w,z\n").replace("1200,,,1e-4,0", "1200,,,1e-4,0,1")
    assert past_edits(ds(late), ds(late.replace(",z", ",z:log")), 600) == []
