"""Big and broken files: bounded memory, capped problem lists, located CSV-level mistakes."""

from __future__ import annotations

import contextlib
import random
import tracemalloc

import pytest

from mini.temporal import Dopesheet, DopesheetError
from mini.temporal.check import check_csv
from mini.temporal.errors import MAX_PROBLEMS


def write_sheet(path, rows: int) -> None:
    rng = random.Random(0)
    with open(path, "w") as f:
        f.write("STEP,PHASE,ACTION,lr:log,w,z::step-end\n")
        for i in range(rows // 3):
            f.write(
                f"{i * 100},{'P' + str(i // 50) if i % 50 == 0 else ''},,{rng.random():.6f},,\n"
            )
            f.write(f"+0.25,,go,,{rng.random():.6f},\n-10,,,,,{i}\n")
        f.write(f"{rows // 3 * 100},,,0.5,,\n")


def write_garbage(path, rows: int) -> None:
    rng = random.Random(1)
    with open(path, "w") as f:
        f.write("STEP,a,b,c\n")
        for _ in range(rows):
            f.write(",".join("".join(rng.choices("abc.+-e", k=3)) for _ in range(4)) + "\n")


def peak_bytes(fn) -> int:
    tracemalloc.start()
    with contextlib.suppress(DopesheetError):
        fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def test_check_streams_a_valid_sheet_in_bounded_memory(tmp_path):
    path = tmp_path / "big.csv"
    write_sheet(path, 15_000)  # ~270 kB; holding its rows would take several MB
    assert path.stat().st_size > 250_000
    summary = check_csv(path)
    assert summary.n_steps == 500_001 and summary.n_phases == 100
    assert peak_bytes(lambda: check_csv(path)) < 1_000_000


def test_garbage_is_counted_in_full_but_kept_in_bounded_memory(tmp_path):
    path = tmp_path / "garbage.csv"
    write_garbage(path, 5000)
    with pytest.raises(DopesheetError) as info:
        check_csv(path)
    err = info.value
    assert len(err.problems) == MAX_PROBLEMS and err.total > 10_000
    assert f"{err.total:,} problems in dopesheet (the first {MAX_PROBLEMS}" in str(err)
    assert peak_bytes(lambda: check_csv(path)) < 1_000_000


def test_the_problems_kept_are_the_first_by_position_whatever_order_they_are_found_in():
    # line 2 needs an anchor before it: found only when the anchor on line 3 is read, after
    # line 3's own bad cell.
    text = "STEP,x\n+5,1\n" + "10,abc\n" * (MAX_PROBLEMS + 20)
    with pytest.raises(DopesheetError) as info:
        Dopesheet.from_text(text)
    err = info.value
    assert err.total == MAX_PROBLEMS + 21
    assert [p.line for p in err.problems] == list(range(2, MAX_PROBLEMS + 2))
    assert "needs an absolute row before it" in err.problems[0].message


def test_an_unterminated_quote_is_reported_where_it_opens():
    text = 'STEP,PHASE,x\n0,A,1\n5,"B,2\n7,,3\n9,,4\n'
    with pytest.raises(DopesheetError) as info:
        Dopesheet.from_text(text, source="q.csv")
    p = info.value.problem
    assert (p.line, p.column) == (3, 2)
    assert "never closed" in p.message and '""' in p.fix


def test_an_unterminated_quote_that_swallows_a_huge_file_is_still_found_at_its_start(tmp_path):
    path = tmp_path / "q.csv"
    path.write_text('STEP,x\n0,1\n5,"2\n' + "7,3\n" * 40_000)  # past csv's field size limit
    with pytest.raises(DopesheetError) as info:
        check_csv(path)
    assert (info.value.problem.line, info.value.problem.column) == (3, 2)


@pytest.mark.parametrize(("sep", "word"), [("\t", "tabs"), (";", "semicolons")])
def test_a_file_separated_by_tabs_or_semicolons_gets_a_hint(sep, word):
    text = sep.join(["STEP", "PHASE", "lr"]) + "\n" + sep.join(["0", "A", "1e-3"]) + "\n"
    with pytest.raises(DopesheetError) as info:
        Dopesheet.from_text(text)
    p = info.value.problem
    assert f"looks separated by {word}" in p.message and "comma" in p.fix


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_line_numbers_hold_for_every_line_ending_in_files(tmp_path, newline):
    path = tmp_path / "n.csv"
    path.write_bytes(newline.join(["STEP,x", "0,1", "", "5,bad", ""]).encode())
    with pytest.raises(DopesheetError) as info:
        Dopesheet.from_csv(path)
    assert info.value.problem.line == 4


def test_a_non_utf8_byte_after_lone_cr_line_ends_is_located(tmp_path):
    path = tmp_path / "mac.csv"
    path.write_bytes(b"STEP,PHASE,x\r0,Warm,1\r5,Caf\xe9,2\r")
    with pytest.raises(DopesheetError) as info:
        Dopesheet.from_csv(path)
    assert (info.value.problem.line, info.value.problem.column) == (3, 2)
