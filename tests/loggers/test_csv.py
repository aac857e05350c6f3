"""CSVLogger: one row per logged step, exact values, atomic rewrites, resume drops what was
logged after the checkpoint; it attaches to the adapters too."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from mini.adapters import DopesheetLR
from mini.loggers import CSVLogger
from mini.temporal import realize
from tests.loggers.runs import SHEET, Crash, logged_steps, make_trainer


def test_rows_every_n_steps_and_at_phase_ends_with_exact_values(tmp_path):
    logger = CSVLogger(tmp_path / "log.csv", every=7)
    make_trainer(loggers=[logger]).fit()
    df = pd.read_csv(tmp_path / "log.csv")
    assert df["step"].tolist() == logged_steps(7)
    expected = realize(SHEET).set_index("STEP")
    for name in ("lr", "fit", "smooth"):
        assert df[f"props.{name}"].tolist() == expected.loc[df["step"], name].tolist()
    assert df["phase"].tolist() == expected.loc[df["step"], "PHASE"].astype(str).tolist()
    assert (df["losses.total"] > 0).all()
    # validation losses come as extras on the phases' last steps only
    val = df.dropna(subset=["extras.val-total"])
    assert val["step"].tolist() == [19, 59]
    assert (tmp_path / "log-schedule.png").read_bytes()[:4] == b"\x89PNG"
    assert not list(tmp_path.glob(".*tmp*"))  # atomic writes leave no temp files


def test_resume_keeps_each_step_once(tmp_path):
    log = tmp_path / "log.csv"
    with pytest.raises(Crash):
        make_trainer(tmp_path, [CSVLogger(log, every=5)], crash_at=36, checkpoint_every=20).fit()
    assert pd.read_csv(log)["step"].max() == 35  # logged past the step-19 checkpoint
    trainer = make_trainer(tmp_path, [CSVLogger(log, every=5)])
    trainer.fit(resume=tmp_path / "checkpoints")  # latest: after step 19
    df = pd.read_csv(log)
    assert df["step"].tolist() == logged_steps(5)
    assert df["props.lr"].tolist() == realize(SHEET)["lr"].iloc[df["step"]].tolist()


def test_attaches_to_the_lr_scheduler_adapter(tmp_path):
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = DopesheetLR(opt, SHEET)
    logger = CSVLogger(tmp_path / "loop.csv", every=10, plot=False)
    logger.attach(sched)  # before the first step(): train-start and step 0 are replayed
    for _ in range(len(SHEET)):
        opt.step()
        sched.step()
    df = pd.read_csv(tmp_path / "loop.csv")  # written at phase ends and at train-end
    assert df["step"].tolist() == [0, 10, 20, 30, 40, 50]
    assert df["props.lr"].tolist() == realize(SHEET)["lr"].iloc[df["step"]].tolist()
    assert "losses.total" not in df  # a plain loop's scheduler does not see the loss


def test_attaches_to_the_ignite_handler_with_the_engines_losses(tmp_path):
    ignite = pytest.importorskip("ignite.engine")
    from mini.adapters.ignite import DopesheetHandler

    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    engine = ignite.create_supervised_trainer(model, opt, torch.nn.functional.mse_loss)
    handler = DopesheetHandler(SHEET, opt).attach(engine)
    CSVLogger(tmp_path / "ignite.csv", every=10, plot=False).attach(handler)
    batches = [(torch.randn(4, 2), torch.randn(4, 1)) for _ in range(20)]
    engine.run(batches, max_epochs=3)
    df = pd.read_csv(tmp_path / "ignite.csv")
    assert df["step"].tolist() == [0, 10, 20, 30, 40, 50]
    assert df["props.lr"].tolist() == realize(SHEET)["lr"].iloc[df["step"]].tolist()
    assert (df["losses.total"] > 0).all()  # engine.state.output
