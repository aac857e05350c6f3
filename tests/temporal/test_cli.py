"""``python -m mini.temporal``: check / show / plot / realize."""

from __future__ import annotations

import subprocess
import sys

import matplotlib.image as mpimg
import pandas as pd
import pytest

from mini.temporal.cli import main
from mini.temporal.plot import group_props

from .test_format import DESIGN_EXAMPLE, ds_of


@pytest.fixture
def good(tmp_path):
    path = tmp_path / "good.csv"
    path.write_text(DESIGN_EXAMPLE)
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
    proc = subprocess.run(
        [sys.executable, "-m", "mini.temporal", "check", str(bad)], capture_output=True, text=True
    )
    assert proc.returncode == 1
    assert ":3:1:" in proc.stdout


def test_show_prints_the_resolved_table(good, capsys):
    assert main(["show", str(good)]) == 0
    out = capsys.readouterr().out
    assert "1,200" in out and "snapshot" in out and "Warm-up" in out


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
