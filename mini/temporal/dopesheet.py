"""The dopesheet: property specs plus keyframe rows resolved to absolute steps.

Build one from a CSV (:meth:`Dopesheet.from_csv`, :meth:`~Dopesheet.from_text`), a DataFrame
(:meth:`~Dopesheet.from_df`), a checkpoint's dict (:meth:`~Dopesheet.from_dict`), or from
already-resolved :class:`~mini.temporal.spec.Row` objects (``Dopesheet(specs, rows)``).
The format is described in ``docs/format.md``; every problem in a file is reported at once,
with file, line, column and fix, as a :class:`~mini.temporal.errors.DopesheetError`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from typing import IO, TYPE_CHECKING, Any

from mini.temporal.interpolators import get_interpolator, interpolator_names
from mini.temporal.spec import (
    ACTION,
    MAX_STEP,
    PHASE,
    SPACES,
    STEP,
    Phase,
    PropSpec,
    Row,
    continue_phases,
    phases_of,
)

if TYPE_CHECKING:
    import pandas as pd

    from mini.temporal.gate_rows import RowGate
    from mini.temporal.search_cells import SearchSpace

# The parser (grammar, header, resolve, search cells, read, gates, errors) loads on the first
# parse, not with this module: a Timeline built from a dopesheet in memory never needs it.

__all__ = ["ACTION", "PHASE", "STEP", "Dopesheet", "Phase", "PropSpec", "Row"]


class Dopesheet:
    """A validated dopesheet: property specs plus keyframe rows at absolute steps, in order.

    ``specs`` maps each property to its :class:`PropSpec`; ``rows`` are the resolved rows (rows
    of the file that land on one step are merged); ``phases`` the phases they start. The run is
    ``last_step + 1`` steps long.

    Args:
        specs: property -> :class:`PropSpec` (or the specs themselves).
        rows: the resolved rows, at strictly increasing steps.
        source: where it came from (in messages).
        gates: the rows' GATE cells.
    """

    source: str
    specs: dict[str, PropSpec]
    rows: list[Row]
    phases: list[Phase]
    search: SearchSpace | None
    """The sheet's search cells (``?lo..hi``, ``?{a b}``), or ``None`` for a plain schedule. A
    sheet with search cells holds their nominal values and is searched or filled in with
    :meth:`with_values`, not trained."""

    def __init__(
        self,
        specs: Mapping[str, PropSpec] | Iterable[PropSpec],
        rows: Iterable[Row] = (),
        *,
        source: str = "<rows>",
        gates: Iterable[RowGate] = (),
    ):
        """From already-resolved rows (strictly increasing steps). Use :meth:`from_csv`,
        :meth:`from_text` or :meth:`from_df` for the CSV format with relative steps."""
        if type(specs).__name__ == "DataFrame":
            raise TypeError("build a dopesheet from a DataFrame with Dopesheet.from_df(df)")
        if isinstance(specs, Mapping):
            specs = list(specs.values())
        self.source = source
        self.search = None
        self.specs = {spec.name: spec for spec in specs}
        self.rows = continue_phases(list(rows))
        self._index_keys()
        self.phases = phases_of(self.rows, self.last_step)
        self._actions = {r.step: r.actions for r in self.rows if r.actions}
        self.gates: tuple[RowGate, ...] = ()
        if gates:
            from mini.temporal.gate_rows import check_gate_steps

            self.gates = check_gate_steps(gates, self.rows)

    def _index_keys(self) -> None:
        """Validate the rows and index each property's keys (one pass)."""
        if not self.rows:
            raise ValueError("a dopesheet needs at least one row")
        for spec in self.specs.values():
            if spec.space not in SPACES:
                raise ValueError(f"property {spec.name!r}: unknown space {spec.space!r}")
        names = set(interpolator_names())
        steps: dict[str, list[int]] = {name: [] for name in self.specs}
        values: dict[str, list[float]] = {name: [] for name in self.specs}
        self._curve_at: dict[str, dict[int, str]] = {}
        self._arrival_at: dict[str, dict[int, float]] = {}
        logs = {name for name, spec in self.specs.items() if spec.space == "log"}
        previous = -1
        for r in self.rows:
            if not isinstance(r.step, int) or not previous < r.step <= MAX_STEP:
                raise ValueError(
                    f"row steps must be whole numbers increasing from 0 to at most {MAX_STEP:.0e};"
                    f" step {r.step!r} follows {previous}"
                )
            previous = r.step
            for name, v in r.values.items():
                if name not in steps:
                    raise ValueError(f"step {r.step} keys {name!r}, which has no PropSpec")
                if not math.isfinite(v) or (name in logs and v <= 0):
                    raise ValueError(f"step {r.step}: {name!r} = {v!r} is not a usable value")
                steps[name].append(r.step)
                values[name].append(v)
            for name, curve in r.curves.items():
                if name not in r.values or curve not in names:
                    raise ValueError(
                        f"step {r.step}: curve {curve!r} for {name!r} needs a key and a "
                        f"registered interpolator ({', '.join(sorted(names))})"
                    )
                self._curve_at.setdefault(name, {})[len(steps[name]) - 1] = curve
            for name, arrival in r.arrivals.items():
                curve = (
                    r.curves.get(name, self.specs[name].interpolator) if name in r.values else None
                )
                if (
                    curve not in names
                    or get_interpolator(curve).jumps
                    or not math.isfinite(arrival)
                    or (name in logs and arrival <= 0)
                ):
                    raise ValueError(
                        f"step {r.step}: the jump key of {name!r} arriving at {arrival!r} needs a "
                        "key there, a usable arrival value and a registered interpolator that "
                        f"moves into the key (got {curve!r})"
                    )
                self._arrival_at.setdefault(name, {})[len(steps[name]) - 1] = arrival
        unkeyed = [name for name, s in steps.items() if not s]
        if unkeyed:
            raise ValueError(f"properties without keys: {', '.join(unkeyed)}")
        self._key_steps, self._key_values = steps, values

    # -- constructors ---------------------------------------------------------------------------
    @classmethod
    def from_csv(
        cls,
        path_or_file: str | os.PathLike[str] | IO[str] | IO[bytes],
        *,
        steps_per_epoch: int | None = None,
        total_steps: int | None = None,
    ) -> Dopesheet:
        """Read a dopesheet CSV from a path or an open (text or binary) file, streamed.

        ``steps_per_epoch`` gives ``ep`` steps (``2ep``, ``+1ep``) their meaning, ``total_steps``
        the ``%`` steps (``50%`` of a run of ``total_steps`` steps); see ``docs/format.md``.

        Args:
            path_or_file: a path or an open text or binary file.
            steps_per_epoch: what ``ep`` steps mean (``2ep``, ``+1ep``).
            total_steps: the run's length for ``%`` steps (``50%``).
        """
        from mini.temporal import sheet_io

        return sheet_io.read_csv(cls, path_or_file, steps_per_epoch, total_steps)

    @classmethod
    def from_text(
        cls,
        text: str,
        *,
        source: str = "<text>",
        steps_per_epoch: int | None = None,
        total_steps: int | None = None,
    ) -> Dopesheet:
        """Parse dopesheet CSV text (handy in tests and notebooks).

        Args:
            text: the CSV's text.
            source: its name in messages.
            steps_per_epoch: what ``ep`` steps mean (``2ep``, ``+1ep``).
            total_steps: the run's length for ``%`` steps (``50%``).
        """
        from mini.temporal import sheet_io

        return sheet_io.read_text(cls, text, source, steps_per_epoch, total_steps)

    @classmethod
    def from_df(
        cls,
        df: pd.DataFrame,
        *,
        source: str = "<DataFrame>",
        steps_per_epoch: int | None = None,
        total_steps: int | None = None,
    ) -> Dopesheet:
        """From a DataFrame whose columns are the CSV header (``ds.as_df()`` round-trips).

        Cells may be text or any real number (Python, numpy, ``Decimal``, ``Fraction``). Read a
        sheet with ``pd.read_csv(path, dtype={"STEP": str})``: otherwise pandas turns ``+0.5``
        into ``0.5`` and ``+500`` into ``500``; such a numeric STEP column is read as well as it
        can be (negative numbers as ``-N``, numbers between 0 and 1 as ``+F``) with a warning.

        Args:
            df: a DataFrame laid out like the CSV.
            source: its name in messages.
            steps_per_epoch: what ``ep`` steps mean (``2ep``, ``+1ep``).
            total_steps: the run's length for ``%`` steps (``50%``).
        """
        from mini.temporal import sheet_io

        return sheet_io.read_df(cls, df, source, steps_per_epoch, total_steps)

    @classmethod
    def preset(
        cls, name: str, *, total_steps: int | None = None, max_lr: float | None = None
    ) -> Dopesheet:
        """A shipped preset (``"one-cycle"``, ``"cosine"``, ...: PyTorch's LR schedules),
        stretched to ``total_steps`` and scaled so its peak ``lr`` is ``max_lr``
        (:func:`mini.temporal.presets.load_preset`).

        Args:
            name: the preset's name.
            total_steps: the run's length.
            max_lr: the peak ``lr``.
        """
        from mini.temporal.presets import load_preset

        return load_preset(cls, name, total_steps=total_steps, max_lr=max_lr)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Dopesheet:
        """Inverse of :meth:`to_dict` (checkpoints restore the schedule they ran with it).

        Args:
            data: what :meth:`to_dict` returned.
        """
        from mini.temporal import sheet_io

        return sheet_io.from_plain(cls, data)

    # -- queries --------------------------------------------------------------------------------
    @property
    def last_step(self) -> int:
        """The last step of the run (the largest resolved step)."""
        return self.rows[-1].step

    @property
    def n_steps(self) -> int:
        return self.last_step + 1

    def __len__(self) -> int:
        """Number of steps in the run: ``max(STEP) + 1``."""
        return self.n_steps

    @property
    def realized_nbytes(self) -> int:
        """Bytes that realizing every step at once takes (``realize(ds)``, a plot)."""
        from mini.temporal.sizes import realized_nbytes

        return realized_nbytes(self.n_steps, len(self.specs))

    @property
    def actions(self) -> list[tuple[int, str]]:
        """Every ``(step, action)`` pair in step order."""
        return [(r.step, a) for r in self.rows for a in r.actions]

    def actions_at(self, step: int) -> tuple[str, ...]:
        """The actions that fire at ``step`` (empty when none).

        Args:
            step: a step.
        """
        return self._actions.get(step, ())

    def _check_prop(self, prop: str) -> None:
        if prop not in self.specs:
            raise KeyError(f"no property {prop!r}; properties: {', '.join(self.specs)}")

    def keyframes(self, prop: str) -> list[tuple[int, float]]:
        """``[(step, value), ...]`` of one property's keys, in step order.

        Args:
            prop: the property.
        """
        self._check_prop(prop)
        return list(zip(self._key_steps[prop], self._key_values[prop], strict=True))

    def key_interpolators(self, prop: str) -> list[str]:
        """For each key of ``prop`` in step order, the interpolator of the segment arriving at
        it: the one its cell names (``3e-3 linear``) or else the column's. The first key's entry
        is the column's and unused (no segment arrives there).

        Args:
            prop: the property.
        """
        self._check_prop(prop)
        out = [self.specs[prop].interpolator] * len(self._key_steps[prop])
        for k, curve in self._curve_at.get(prop, {}).items():
            if k > 0:
                out[k] = curve
        return out

    def key_arrivals(self, prop: str) -> list[float | None]:
        """For each key of ``prop`` in step order, the value the segment arriving at it arrives
        at when that is not the key's own (a jump key, ``1e-5|1e-3`` → 1e-5), else ``None``.
        The first key's entry is ``None`` (no segment arrives there).

        Args:
            prop: the property.
        """
        self._check_prop(prop)
        out: list[float | None] = [None] * len(self._key_steps[prop])
        for k, arrival in self._arrival_at.get(prop, {}).items():
            if k > 0:
                out[k] = arrival
        return out

    def phase_at(self, step: int) -> Phase:
        """The :class:`Phase` that ``step`` is in.

        Args:
            step: a step.
        """
        for ph in self.phases:
            if ph.start <= step <= ph.end:
                return ph
        raise IndexError(f"step {step} is outside the run (0..{self.last_step})")

    def line_of(self, step: int) -> tuple[int, ...]:
        """CSV line(s) of the row at ``step`` (empty if no row there).

        Args:
            step: a step.
        """
        for r in self.rows:
            if r.step == step:
                return r.lines
        return ()

    # -- transformations ------------------------------------------------------------------------
    def with_values(self, values: Mapping[str, object]) -> Dopesheet:
        """The plain dopesheet with every search cell filled in (see ``docs/format.md``,
        "Search cells").

        Args:
            values: one value per search cell, by name (``{"lr@3": 3e-4, "STEP@5": 2500}``).

        Raises:
            ValueError: a name that is not a search cell (with a did-you-mean), a missing
                name, or a value outside its cell's range or set.
            DopesheetError: the filled sheet is not a valid schedule (a searched step that
                lands past its anchor, for instance).
        """
        if self.search is None:
            raise ValueError(f"{self.source} has no search cells to fill in")
        return self.search.fill(values)

    def scaled(self, n_steps: int) -> Dopesheet:
        """The same curriculum stretched or compressed to ``n_steps`` steps (quick runs).

        Works on resolved steps: a key written as ``2ep`` or ``50%`` moves with everything else
        (it stays at the same share of the run, not at epoch 2).

        Args:
            n_steps: the new length.
        """
        from mini.temporal.rescale import scaled

        return scaled(self, n_steps)

    # -- views ----------------------------------------------------------------------------------
    def as_df(self) -> pd.DataFrame:
        """Resolved keyframes: ``STEP``, ``PHASE``, ``ACTION`` then one column per property
        (headed with its full spec, so ``Dopesheet.from_df(ds.as_df()) == ds``). A key whose
        cell named its curve or a jump is written back as text: ``"value interpolator"``,
        ``"arrival|value"`` or ``"arrival|value interpolator"``."""
        from mini.temporal import sheet_io

        return sheet_io.as_frame(self, set(self._curve_at) | set(self._arrival_at))

    def to_csv(self, path: str | os.PathLike[str]) -> None:
        """Write the resolved keyframes as a dopesheet CSV, atomically.

        Args:
            path: the file.
        """
        from mini.temporal import sheet_io

        sheet_io.write_csv(self, path)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able description (for experiment loggers and checkpoints)."""
        from mini.temporal import sheet_forms

        return sheet_forms.plain(self)

    @property
    def content_hash(self) -> str:
        """SHA-256 of the resolved schedule (independent of file name, line numbers, layout)."""
        from mini.temporal import sheet_forms

        return sheet_forms.content_hash(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Dopesheet) and self.content_hash == other.content_hash

    __hash__ = None  # type: ignore[assignment]

    def to_markdown(self) -> str:
        """The resolved keyframes as a Markdown table."""
        from mini.temporal import sheet_forms

        return sheet_forms.markdown(self)

    def _repr_markdown_(self) -> str:
        return f"**Dopesheet** `{self.source}`: {self.n_steps} steps\n\n{self.to_markdown()}"

    def _repr_html_(self) -> str:
        from mini.temporal import sheet_forms

        return sheet_forms.html_table(self)

    def __repr__(self) -> str:
        specs = ", ".join(s.header for s in self.specs.values())
        phases = ", ".join(repr(p.name) for p in self.phases if p.name is not None)
        return (
            f"Dopesheet({self.source!r}, steps={self.n_steps}, specs=[{specs}], phases=[{phases}])"
        )
