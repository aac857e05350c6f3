"""``python -m examples.vq_curriculum --search``: the search runs the example once per trial
on validation digits, and ``--schedule best.csv`` replays the best trial exactly."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mini.search.cli import trial_argv

REPO = Path(__file__).resolve().parents[2]

SPACE = """STEP,PHASE,ACTION,lr:log,recon,vq-blend,temperature:log,commitment,ema-decay
0,Warm-up,,?5e-4..5e-3,1,0,1.0,0,0.9
600,Soft-codes,refresh,,,0,1.0,0,0.9
1000,,refresh,,,1,,,
1500,,refresh,,,,,?{0.1 0.25 0.5},0.99
2000,Hard-codes,refresh,2e-3,,,?0.01..0.2,,
3000,,,2e-4,,,,,
"""


def test_trial_argv_drops_exactly_the_search_flags():
    argv = ["--search", "s.csv", "--trials=3", "--steps", "40", "--objective", "a:max",
            "--objective", "b:min", "--workers", "2", "--seed", "1", "--backend=optuna"]  # fmt: skip
    assert trial_argv(argv) == ["--steps", "40", "--seed", "1"]


def test_training_a_search_sheet_is_refused_with_how_to_search_it(tmp_path, capsys):
    from examples import vq_curriculum

    space = tmp_path / "space.csv"
    space.write_text(SPACE)
    with pytest.raises(SystemExit) as e:
        vq_curriculum.main(["--schedule", str(space), "--out", str(tmp_path / "o"), "--no-video"])
    assert e.value.code == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "search space" in err and f"--search {space}" in err
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_best_csv_replays_the_best_trial_of_the_vq_example_exactly(tmp_path):
    from examples import vq_curriculum

    space = tmp_path / "space.csv"
    space.write_text(SPACE)
    flags = ["--steps", "30", "--no-video", "--health-every", "10", "--seed", "3"]
    out = tmp_path / "run"
    summary = vq_curriculum.main(
        ["--search", str(space), "--trials", "1", "--out", str(out), *flags]
    )
    assert summary["trials"] == summary["complete"] == 1
    best = out / "search" / "best.csv"
    replay = tmp_path / "replay"
    subprocess.run(
        [sys.executable, "-m", "examples.vq_curriculum", "--schedule", str(best), "--test-split",
         "--out", str(replay), *flags],
        cwd=REPO, check=True, capture_output=True,
    )  # fmt: skip
    replayed = json.loads((replay / "summary.json").read_text())
    assert replayed["recon_quality"] == summary["best_value"]  # bit for bit, in a fresh process
    assert "test" in replayed and replayed["test"]["recon_quality"] != replayed["recon_quality"]
