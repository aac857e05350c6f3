"""MLflow logging through ``mlflow.tracking.MlflowClient`` to a local store (no server).

By default the run goes to ``sqlite:///<out_dir>/mlflow.db`` with artifacts in
``<out_dir>/mlartifacts`` (MLflow's own local backend; ``mlflow ui --backend-store-uri
sqlite:///<out_dir>/mlflow.db`` shows it). Any ``tracking_uri`` works, e.g. a ``file:`` store
(MLflow 3 wants ``MLFLOW_ALLOW_FILE_STORE=true`` for that) or a server. Metrics are sent in
batches (at phase ends, checkpoints, the end of the run, and every 900 values), the schedule
plot is the artifact ``schedule.png``, phase starts are the ``phase`` tag and ``phases.txt``.
A resumed run (``load_state_dict``) keeps logging to the same MLflow run.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from mini.loggers.base import ScheduleLogger, check_folder, unwritable_folder

BATCH = 900  # MLflow accepts at most 1,000 metrics per log_batch call


def _mlflow() -> Any:
    try:
        import mlflow.entities
        import mlflow.tracking
    except ImportError as e:
        raise ImportError(
            "MLflowLogger needs the mlflow package: pip install 'dopesheet[mlflow]'"
        ) from e
    return mlflow


class MLflowLogger(ScheduleLogger):
    """``MLflowLogger("out/run").attach(trainer)``; ``run_id`` names the MLflow run once the
    training has started.

    Args:
        out_dir: where a local tracking store goes (when no ``tracking_uri``).
        tracking_uri: the MLflow tracking server or store.
        experiment: the experiment's name.
        run_name: the run's name.
        every: log every N-th step (and every step with extras).
        plot: log the schedule plot at ``train-start``.
    """

    def __init__(
        self,
        out_dir: str | os.PathLike[str] | None = None,
        *,
        tracking_uri: str | None = None,
        experiment: str = "dopesheet",
        run_name: str | None = None,
        every: int = 1,
        plot: bool = True,
    ):
        super().__init__(every=every, plot=plot)
        if tracking_uri is None:
            if out_dir is None:
                raise ValueError("MLflowLogger needs out_dir (a local store) or tracking_uri")
            out = Path(out_dir).resolve()
            tracking_uri = f"sqlite:///{out / 'mlflow.db'}"
            self._artifacts: str | None = (out / "mlartifacts").as_uri()
        else:
            self._artifacts = None
        self._mlflow = _mlflow()
        self.tracking_uri = tracking_uri
        self.experiment = experiment
        self.run_name = run_name
        self._client: Any = None  # made on first use: nothing is written before training starts
        self._out = Path(out_dir).resolve() if out_dir is not None else None
        self.run_id: str | None = None
        self._pending: list[Any] = []
        self._phases: list[str] = []
        self._logged_upto: int | None = -1  # None: look it up (after a resume)

    @property
    def client(self) -> Any:
        """The MLflow client, created on first use (the trainer claims its run folder first)."""
        if self._client is None:
            if self._artifacts is not None and self._out is not None:
                try:
                    self._out.mkdir(parents=True, exist_ok=True)
                except OSError as e:
                    raise unwritable_folder(self._out, "MLflowLogger", e) from e
            self._client = self._mlflow.tracking.MlflowClient(tracking_uri=self.tracking_uri)
        return self._client

    def _run(self) -> str:
        if self.run_id is None:
            exp = self.client.get_experiment_by_name(self.experiment)
            if exp is None:
                exp_id = self.client.create_experiment(
                    self.experiment, artifact_location=self._artifacts
                )
            else:
                exp_id = exp.experiment_id
            self.run_id = self.client.create_run(exp_id, run_name=self.run_name).info.run_id
        return self.run_id

    def attach(self, source: Any) -> None:
        """Subscribe to ``source``'s events; an unwritable ``out_dir`` is an
        :class:`~mini.atomic.OutputError` now, before training starts."""
        if self._out is not None:
            check_folder(self._out, "MLflowLogger")
        super().attach(source)

    def on_train_start(self, event: Any) -> None:
        """Start (or, on resume, reopen) the MLflow run, then log the plot.

        Args:
            event: the ``train-start`` event.
        """
        run_id = self._run()
        if self.client.get_run(run_id).info.status != "RUNNING":
            self.client.update_run(run_id, status="RUNNING")  # a resumed run
        super().on_train_start(event)

    def write_scalars(self, step: int, scalars: dict[str, float], phase: str | None) -> None:
        """Buffer the step's metrics, sent in batches (a resumed run skips the steps MLflow already
        has).

        Args:
            step: the step.
            scalars: name -> value.
            phase: the step's phase.
        """
        if self._logged_upto is None and self.run_id is not None and scalars:
            # resumed: the interrupted run may have logged past its checkpoint; MLflow cannot
            # purge, so those steps (the same values, resumed exactly) are not logged again
            history = self.client.get_metric_history(self.run_id, next(iter(scalars)))
            self._logged_upto = max((m.step for m in history), default=-1)
        if self._logged_upto is not None and step <= self._logged_upto:
            return
        metric = self._mlflow.entities.Metric
        now = int(time.time() * 1000)
        self._pending.extend(metric(k, v, now, step) for k, v in scalars.items())
        if len(self._pending) >= BATCH:
            self._send()

    def write_text(self, tag: str, text: str, step: int) -> None:
        """Set the text as a tag and append it to the artifact ``<tag>s.txt``.

        Args:
            tag: the text's name.
            text: the text.
            step: the step.
        """
        run_id = self._run()
        self._phases.append(text)
        self.client.set_tag(run_id, tag, text)
        self.client.log_text(run_id, "\n".join(self._phases) + "\n", f"{tag}s.txt")

    def write_figure(self, tag: str, figure: Any, step: int) -> None:
        """Log the figure as an artifact.

        Args:
            tag: the figure's name.
            figure: a matplotlib figure.
            step: the step.
        """
        self.client.log_figure(self._run(), figure, f"{tag}.png")

    def _send(self) -> None:
        run_id = self._run()
        pending = self._pending
        for i in range(0, len(pending), BATCH):
            self.client.log_batch(run_id, metrics=pending[i : i + BATCH])
        self._pending = []

    def flush(self) -> None:
        if self._pending:
            self._send()

    def on_train_end(self, event: Any) -> None:
        """Send what is buffered and end the run.

        Args:
            event: the ``train-end`` event.
        """
        self.flush()
        if self.run_id is not None:
            self.client.set_terminated(self.run_id)

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "run_id": self.run_id, "phases": list(self._phases)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self._pending = []
        self.run_id = state.get("run_id")
        self._logged_upto = None
        self._phases = list(state.get("phases", []))
