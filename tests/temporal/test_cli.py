"""``python -m mini.temporal``: check / show / plot / realize."""

from __future__ import annotations

import importlib
import io
import os
import subprocess
import sys
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest
from matplotlib.backend_bases import FigureCanvasBase

from mini.temporal import cli
from mini.temporal.cli import main
from mini.temporal.errors import MAX_PROBLEMS
from mini.temporal.plot import group_props
from mini.temporal.realize import realize

from .test_format import README_EXAMPLE, ds_of

ROOT = Path(__file__).resolve().parents[2]
ENV = dict(
    os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
)
realize_module = importlib.import_module("mini.temporal.realize")  # the module, not the function
memory_guard = importlib.import_module("mini.temporal.memory_guard")


@pytest.fixture
def good(tmp_path):
    path = tmp_path / "good.csv"
    path.write_text(README_EXAMPLE)
    return path


@pytest.fixture
def bad(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("STEP,PHASE,lr:log,w\n0,A,1e-3,1\n+x,,0,2\n-5,,,zz\n10,B,1e-4,1\n")
    return path


def test_check_good_file_exits_0(good, capsys):
    assert main(["check", str(good)]) == 0
    out = capsys.readouterr().out
    assert "ok:" in out and "10,001 steps" in out


def test_check_bad_file_lists_every_problem_and_exits_1(good, bad, capsys):
    assert main(["check", str(good), str(bad)]) == 1
    out = capsys.readouterr().out
    assert f"{bad}:3:1:" in out  # unreadable step
    assert f"{bad}:3:3:" in out  # 0 in a log column
    assert f"{bad}:4:4:" in out  # non-numeric
    assert "3 problems in 1 file" in out


def test_check_missing_file(tmp_path, capsys):
    assert main(["check", str(tmp_path / "nope.csv")]) == 1
    assert "cannot read the file" in capsys.readouterr().out


def test_module_entry_point(bad):
    proc = run_cli("check", str(bad))
    assert proc.returncode == 1
    assert ":3:1:" in proc.stdout.decode()


def test_show_prints_one_line_per_resolved_row(good, capsys):
    assert main(["show", str(good)]) == 0
    lines = capsys.readouterr().out.splitlines()
    ds = ds_of(README_EXAMPLE)
    for r in ds.rows:  # each resolved row is one table line with its step, phase and actions
        [line] = [x for x in lines if f" {r.step:,} " in x]
        assert (r.phase or "") in line and all(a in line for a in r.actions)
        assert all(f"{v:g}" in line for v in r.values.values())
    assert "phase Main: steps 3,000–10,000 (7,001)" in "\n".join(lines)


def test_show_marks_a_per_key_curve(tmp_path, capsys):
    path = tmp_path / "c.csv"
    path.write_text("STEP,lr:log\n0,1e-3\n100,3e-3 linear\n")
    assert main(["show", str(path)]) == 0
    assert "0.003 linear" in capsys.readouterr().out


def test_show_marks_a_jump_key(tmp_path, capsys):
    path = tmp_path / "j.csv"
    path.write_text("STEP,lr::cosine\n0,1e-3\n200,1e-5|1e-3\n300,2e-5|1e-3 linear\n400,1e-5\n")
    assert main(["show", str(path)]) == 0
    out = capsys.readouterr().out
    assert "1e-05|0.001 " in out and "2e-05|0.001 linear" in out


def test_plot_writes_a_readable_png(good, tmp_path):
    out = tmp_path / "plot.png"
    assert main(["plot", str(good), "-o", str(out)]) == 0
    img = mpimg.imread(out)
    assert img.shape[0] > 300 and img.shape[1] > 800
    assert img[..., :3].std() > 0.05  # not a blank canvas


def test_realize_writes_one_row_per_step(good, tmp_path):
    out = tmp_path / "real.csv"
    assert main(["realize", str(good), "-o", str(out), "--steps", "101"]) == 0
    df = pd.read_csv(out, keep_default_na=False)
    assert list(df.columns) == [
        "STEP", "PHASE", "ACTION", "lr", "loss-recon", "reg-anchor", "temperature", "z",
    ]  # fmt: skip
    assert df["STEP"].tolist() == list(range(101))
    assert df.loc[30, "PHASE"] == "Main" and df.loc[12, "ACTION"] == "snapshot"


def test_props_are_grouped_by_scale():
    ds = ds_of(
        "STEP,big,small,tiny,lr:log,temp:log\n0,100,1,0.001,1e-3,1\n10,50,0.5,0.002,1e-4,0.5\n"
    )
    groups = group_props(ds)
    assert ["big"] in groups and ["small"] in groups and ["tiny"] in groups
    assert ["temp"] in groups and ["lr"] in groups


# -- outputs: stdout, atomic files, formats --------------------------------------------------------


def run_cli(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "mini.temporal", *args], capture_output=True, cwd=ROOT, env=ENV
    )


def test_realize_to_stdout_writes_the_csv_there(good):
    proc = run_cli("realize", str(good), "-o", "-", "--steps", "11")
    assert proc.returncode == 0
    df = pd.read_csv(io.BytesIO(proc.stdout), keep_default_na=False)
    assert df["STEP"].tolist() == list(range(11)) and "wrote -" in proc.stderr.decode()


def test_realize_in_chunks_equals_realizing_at_once(good, tmp_path, monkeypatch):
    monkeypatch.setattr(cli, "REALIZE_CHUNK", 7)
    out = tmp_path / "real.csv"
    assert main(["realize", str(good), "-o", str(out), "--steps", "101"]) == 0
    chunked = pd.read_csv(out, keep_default_na=False)
    whole = realize(ds_of(README_EXAMPLE).scaled(101))
    assert chunked["STEP"].tolist() == whole["STEP"].tolist()
    for name in ("lr", "temperature", "z"):  # written with 10 significant digits
        assert np.allclose(chunked[name], whole[name], rtol=1e-9, atol=0)
    assert chunked["PHASE"].tolist() == whole["PHASE"].astype(str).tolist()


def test_realize_failing_midway_leaves_the_old_file_untouched(good, tmp_path, monkeypatch):
    out = tmp_path / "real.csv"
    out.write_text("old\n")
    calls = []

    def failing_realize(tl, start, stop):
        calls.append(start)
        if len(calls) > 1:
            raise OSError(28, "No space left on device")
        return realize(tl, start, stop)

    monkeypatch.setattr(cli, "REALIZE_CHUNK", 5)
    monkeypatch.setattr(realize_module, "realize", failing_realize)
    assert main(["realize", str(good), "-o", str(out), "--steps", "20"]) == 1
    assert out.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.csv", "real.csv"]  # no temp file


def test_plot_to_stdout_writes_png_bytes(good):
    proc = run_cli("plot", str(good), "-o", "-", "--steps", "101")
    assert proc.returncode == 0
    assert proc.stdout.startswith(b"\x89PNG\r\n\x1a\n")


def test_plot_format_follows_the_suffix(good, tmp_path):
    out = tmp_path / "plot.svg"
    assert main(["plot", str(good), "-o", str(out), "--steps", "101"]) == 0
    assert out.read_text().lstrip().startswith("<?xml")


def test_plot_to_an_unknown_format_lists_the_formats_matplotlib_supports(good, tmp_path, capsys):
    out = tmp_path / "x.weird"
    assert main(["plot", str(good), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "matplotlib cannot write 'weird' images" in err
    supported = FigureCanvasBase.get_supported_filetypes()
    assert ", ".join(sorted(supported)) in err
    assert not out.exists()


# -- huge schedules -------------------------------------------------------------------------------


@pytest.fixture
def huge(tmp_path):
    path = tmp_path / "huge.csv"
    path.write_text("STEP,lr:log,w\n0,1e-3,0\n1000000000000,1e-4,1\n")  # last step 1e12: a typo
    return path


def test_check_warns_that_a_huge_schedule_cannot_be_realized_whole(huge, capsys):
    assert main(["check", str(huge)]) == 0
    out = capsys.readouterr().out
    assert f"warning: {huge}:3: realizing all 1,000,000,000,001 steps at once takes 29.1 TiB" in out
    assert "--steps 100000" in out


def test_plot_refuses_a_huge_schedule_clearly(huge, tmp_path, capsys):
    assert main(["plot", str(huge), "-o", str(tmp_path / "p.png")]) == 1
    err = capsys.readouterr().err
    assert "cannot plot: realizing all 1,000,000,000,001 steps" in err and "--steps 100000" in err


def test_realize_refuses_a_csv_that_cannot_fit_on_the_disk(huge, tmp_path, capsys):
    assert main(["realize", str(huge), "-o", str(tmp_path / "r.csv")]) == 1
    err = capsys.readouterr().err
    assert "steps take at least" in err and "free there" in err and "--steps N" in err
    assert list(tmp_path.iterdir()) == [huge]


@pytest.mark.parametrize(("command", "output"), [("realize", "r.csv"), ("plot", "p.png")])
def test_a_schedule_too_big_for_the_free_memory_is_one_error_line(
    good, tmp_path, monkeypatch, capsys, command, output
):
    monkeypatch.setattr(memory_guard, "available_memory", lambda: 1 << 10)  # 1 KiB free
    out = tmp_path / output
    assert main([command, str(good), "-o", str(out), "--steps", "101"]) == 1  # no exception
    captured = capsys.readouterr()
    [line] = captured.err.splitlines()
    assert line.startswith(f"error: {good}: ") and "would need" in line and "--steps N" in line
    assert captured.out == "" and not out.exists()


# -- flags ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("flag", ["--steps", "--steps-per-epoch", "--total-steps"])
@pytest.mark.parametrize("value", ["0", "-3", "x"])
def test_counts_must_be_positive_whole_numbers(good, flag, value, capsys):
    with pytest.raises(SystemExit) as info:
        main(["show", str(good), flag, value])
    assert info.value.code == 2
    assert f"argument {flag}: expected a whole number >= 1" in capsys.readouterr().err


def test_units_flags_resolve_epochs_and_shares(tmp_path, capsys):
    path = tmp_path / "u.csv"
    path.write_text("STEP,x\n0,0\n2ep,1\n100%,2\n")
    assert main(["check", str(path)]) == 1
    out = capsys.readouterr().out
    assert (
        f"{path}:3:1: column 'STEP': step '2ep' is in epochs" in out
        and "--steps-per-epoch N" in out
    )
    assert "--total-steps N" in out
    assert main(["check", str(path), "--steps-per-epoch", "50", "--total-steps", "201"]) == 0
    assert "201 steps" in capsys.readouterr().out
    assert main(["show", str(path), "--steps-per-epoch", "50", "--total-steps", "201"]) == 0
    assert " 100 " in capsys.readouterr().out


def test_check_prints_the_first_problems_and_counts_the_rest(tmp_path, capsys):
    path = tmp_path / "many.csv"
    path.write_text("STEP,x\n" + "0,bad\n" * 80)
    assert main(["check", str(path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert sum(f"{path}:" in line for line in out) == MAX_PROBLEMS
    assert out[-2] == f"… and 30 more problems (the first {MAX_PROBLEMS} of each file are shown)"
    assert out[-1] == "80 problems in 1 file"


def test_errors_of_show_plot_realize_go_to_stderr(bad, capsys):
    assert main(["show", str(bad)]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and f"{bad}:3:1:" in captured.err


def test_a_missing_file_is_one_line(tmp_path, capsys):
    assert main(["show", str(tmp_path / "nope.csv")]) == 1
    assert (
        capsys.readouterr().err.strip()
        == f"error: cannot read {tmp_path / 'nope.csv'}: No such file or directory"
    )
