"""MLflowLogger: a run in a local store, read back with MlflowClient.get_metric_history."""

from __future__ import annotations

import pytest

from mini.temporal import realize
from tests.loggers.runs import SHEET, logged_steps, make_trainer

pytest.importorskip("mlflow")
from mlflow.tracking import MlflowClient

from mini.loggers import MLflowLogger


def check_run(client: MlflowClient, run_id: str, every: int) -> None:
    history = client.get_metric_history(run_id, "props/lr")
    assert sorted(m.step for m in history) == logged_steps(every)
    expected = realize(SHEET)["lr"]
    assert all(m.value == expected[m.step] for m in history)  # stored as doubles: exact
    assert {m.step for m in client.get_metric_history(run_id, "extras/val-total")} == {19, 59}
    assert all(m.value > 0 for m in client.get_metric_history(run_id, "losses/total"))
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.tags["phase"] == "step 20: main"
    artifacts = {a.path for a in client.list_artifacts(run_id)}
    assert {"schedule.png", "phases.txt"} <= artifacts
    phases = client.download_artifacts(run_id, "phases.txt")
    with open(phases, encoding="utf-8") as f:
        assert f.read() == "step 0: warm\nstep 20: main\n"


def test_file_store_run_is_read_back(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 keeps it behind this flag
    uri = (tmp_path / "mlruns").as_uri()
    logger = MLflowLogger(tracking_uri=uri, experiment="digits", every=4)
    make_trainer(loggers=[logger]).fit()
    check_run(MlflowClient(tracking_uri=uri), logger.run_id, every=4)


@pytest.mark.slow  # MLflow creates its sqlite schema (~6 s on 2 cores)
def test_default_local_sqlite_store_and_resume_keeps_the_run(tmp_path):
    logger = MLflowLogger(tmp_path / "run", every=4)
    trainer = make_trainer(tmp_path / "run", [logger], checkpoint_every=20)
    trainer.fit()
    assert (tmp_path / "run" / "mlflow.db").is_file()
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'run' / 'mlflow.db'}")
    check_run(client, logger.run_id, every=4)

    # a new process would restore the logger from the checkpoint and log to the same run
    resumed = MLflowLogger(tmp_path / "run", every=4)
    trainer = make_trainer(tmp_path / "run", [resumed])
    trainer.fit(resume=tmp_path / "run" / "checkpoints" / "step-0000040.pt")
    assert resumed.run_id == logger.run_id
    history = client.get_metric_history(logger.run_id, "props/lr")
    assert sorted({m.step for m in history}) == logged_steps(4)
    assert client.get_run(logger.run_id).info.status == "FINISHED"
