"""A CSV of the run: one row per logged step (``step``, ``phase``, ``props.<name>``,
``losses.<name>``, ``extras.<name>``, the column names of ``MetricsRecorder.history()``).

The whole file is rewritten atomically at phase ends, checkpoints and the end of the run (so a
term that first appears late still gets its column, and a killed run never leaves half a
row); a resumed run drops the rows logged after its checkpoint. The schedule plot goes beside
it as ``<name>-schedule.png``.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import pandas as pd

from mini.atomic import write_bytes, write_text
from mini.loggers.base import ScheduleLogger


class CSVLogger(ScheduleLogger):
    """``CSVLogger("out/run/metrics.csv", every=10).attach(trainer)``; ``history()`` is the
    table as a DataFrame.

    Args:
        path: the CSV file.
        every: log every N-th step (and every step with extras).
        plot: save the schedule plot beside the CSV at ``train-start``.
    """

    def __init__(self, path: str | os.PathLike[str], *, every: int = 1, plot: bool = True):
        super().__init__(every=every, plot=plot)
        self.path = Path(path)
        self._rows: list[dict[str, Any]] = []
        self._written = 0

    def name(self, section: str, key: str) -> str:
        """The column of ``key`` in ``section``: ``<section>.<key>`` (``props.lr``).

        Args:
            section: ``props``, ``losses`` or ``extras``.
            key: the property, loss or extra.
        """
        return f"{section}.{key}"

    def write_scalars(self, step: int, scalars: dict[str, float], phase: str | None) -> None:
        """Buffer the step's row (written at phase ends and the end).

        Args:
            step: the step.
            scalars: name -> value.
            phase: the step's phase.
        """
        self._rows.append({"step": step, "phase": phase, **scalars})

    def write_text(self, tag: str, text: str, step: int) -> None:
        """Nothing: the phase is a column of every row.

        Args:
            tag: the text's name.
            text: the text.
            step: the step.
        """
        pass  # the phase is a column of every row

    def write_figure(self, tag: str, figure: Any, step: int) -> None:
        """Save the figure beside the CSV.

        Args:
            tag: the figure's name.
            figure: a matplotlib figure.
            step: the step.
        """
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=100)
        write_bytes(self.path.with_name(f"{self.path.stem}-{tag}.png"), buffer.getvalue())

    def history(self) -> pd.DataFrame:
        return pd.DataFrame.from_records(self._rows)

    def flush(self) -> None:
        if self._written == len(self._rows) and self.path.exists():
            return
        write_text(self.path, self.history().to_csv(index=False))
        self._written = len(self._rows)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Keep the rows logged up to the checkpoint (read back from the file)."""
        super().load_state_dict(state)
        rows: list[dict[str, Any]] = []
        if self.path.exists() and self.path.stat().st_size:
            df = pd.read_csv(self.path)
            df = df[df["step"] <= self.last_step]
            rows = [
                {k: v for k, v in r.items() if not (isinstance(v, float) and pd.isna(v))}
                for r in df.to_dict("records")
            ]
            for r in rows:
                if "phase" not in r:
                    r["phase"] = None
        self._rows = rows
        self._written = -1  # rewrite at the next flush
