"""examples.digits_classifier as a program: each route runs, logs, and reports its accuracy."""

from __future__ import annotations

import pytest

from examples.digits_classifier import main


@pytest.mark.parametrize("via", ["loop", "ignite", "lightning"])
def test_cli_trains_and_writes_tensorboard_logs(via, tmp_path, capsys):
    pytest.importorskip("tensorboard")
    pytest.importorskip("lightning" if via == "lightning" else "ignite")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = main(["--via", via, "--tensorboard", str(tmp_path)])
    assert len(run.lrs) == 300 and run.accuracy > 0.9
    assert f"{via}: 300 steps" in capsys.readouterr().out
    (events,) = {p.parent for p in tmp_path.rglob("events.out.tfevents.*")}
    acc = EventAccumulator(str(events))
    acc.Reload()
    tag = "schedule/lr" if via == "lightning" else "props/lr"  # Lightning's logger vs ours
    assert len(acc.Scalars(tag)) >= 6


def test_cli_names_a_missing_schedule(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--schedule", str(tmp_path / "nope.csv")])
    assert exit_.value.code == 2
    assert "--schedule: no such file" in capsys.readouterr().err
