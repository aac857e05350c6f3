"""A gated timeline: two clocks, the training step (always advances) and the schedule step
(held by ``until`` gates, moved on by ``when`` gates), fed metrics with :meth:`observe`.

The schedule step ``σ(t)`` is recorded as pieces ``(t0, σ0, rate)`` with rate 1 (running) or 0
(held), and ``when`` blends as ``(g, B, d)`` in schedule steps: for ``g ≤ σ < g + B`` a
property is ``own + (schedule − own)·s((σ − g)/B)`` in its interpolation space, where ``own`` is
the path it was on before the jump (``σ − d``) and ``s`` the minimum-jerk shape (as an override's
release, :mod:`mini.temporal.overrides`), so there is no jump and velocity stays bounded. Values
are a function of ``σ`` alone, so a hold freezes everything and later keys shift by the hold.

>>> from mini.temporal import Dopesheet
>>> rows = ["STEP,x,GATE", "0,0,", "10,1,until loss < 0.5 max 20", "20,2,"]
>>> ds = Dopesheet.from_text(chr(10).join(rows))  # one CSV line each
>>> tl = GatedTimeline(ds)
>>> for state in tl:
...     _ = tl.observe(state.step, {"loss": 1.0 if state.step < 13 else 0.1})
>>> len(tl), [(o.step, o.held) for o in tl.openings]
(24, [(13, 3)])
>>> tl[12].schedule_step, tl[14].schedule_step
(10, 11)
"""

from __future__ import annotations

import math
import os
from bisect import bisect_right
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from mini.temporal import gate_openings
from mini.temporal.conditions import CustomCondition
from mini.temporal.dopesheet import Dopesheet
from mini.temporal.gate_openings import ArmedGate, GateMetricError, Opening
from mini.temporal.gate_rows import gate_labels
from mini.temporal.interpolators import MINJERK
from mini.temporal.timeline import State, Timeline, _step_index

__all__ = ["GateMetricError", "GatedTimeline", "Opening", "timeline_for"]


class GatedTimeline(Timeline):
    """A dopesheet with a GATE column, played against the run's metrics (see docs/gates.md).

    ``state.step`` is the training step, ``state.schedule_step`` the step of the dopesheet it
    plays. Call :meth:`observe` with each step's metrics (the trainer's ``GateHandler`` does);
    ``len()`` is the run's length as far as it is known now (it grows while a hold lasts).

    Args:
        dopesheet: the sheet (or a path to it); its ``gates`` drive the clock.
        conditions: custom conditions by name, ``name()`` in a cell; each is called with a
            :class:`~mini.temporal.gates.GateContext`.
    """

    def __init__(
        self,
        dopesheet: Dopesheet | str | os.PathLike[str],
        conditions: Mapping[str, CustomCondition] | None = None,
    ):
        ds = dopesheet if isinstance(dopesheet, Dopesheet) else Dopesheet.from_csv(dopesheet)
        super().__init__(ds)
        self.conditions = dict(conditions or {})
        missing = [c for g in ds.gates for c in g.gate.customs if c not in self.conditions]
        if missing:
            raise KeyError(
                f"{ds.source}: custom condition(s) {', '.join(map(repr, missing))} are not given: "
                "pass GatedTimeline(ds, conditions={name: callable})"
            )
        self._row_steps = [r.step for r in ds.rows]
        self._row_set = set(self._row_steps)
        wanted = {m for g in ds.gates for m in g.gate.metrics}
        self._wanted = None if any(g.gate.customs for g in ds.gates) else wanted
        self._gate_at = {g.step: g for g in ds.gates}
        self._labels = dict(zip(self._gate_at, gate_labels(ds), strict=True))
        self._reset()

    # -- the two clocks --------------------------------------------------------------------------
    def _reset(self) -> None:
        self._t = 0
        self._sigma = 0
        self._pieces: list[tuple[int, int, int]] = [(0, 0, 1)]  # (t0, σ0, rate)
        self._blends: list[tuple[int, int, int]] = []  # (g, B, d)
        self._next: int | None = 1  # σ(t + 1); None: the run ends after t
        self._armed: dict[int, ArmedGate] = {}
        self._done: set[int] = set()
        self._last: dict[str, float] = {}
        self._openings: list[Opening] = []
        self._observed: int | None = None  # the last step observe() saw
        self._gstate: State | None = None
        gate_openings.arm(self, 0)

    @property
    def schedule_step(self) -> int:
        return self._sigma

    @property
    def openings(self) -> list[Opening]:
        """Every gate opening so far, in order."""
        return list(self._openings)

    @property
    def last_metrics(self) -> dict[str, float]:
        """The last logged value of every metric observed."""
        return dict(self._last)

    @property
    def nominal_steps(self) -> int:
        """The dopesheet's own length (what the run takes if no gate holds or moves on)."""
        return self._n

    def __len__(self) -> int:
        if self._next is None:
            return self._t + 1
        return self._t + 1 + (self._n - self._next)

    def sigma_at(self, t: int) -> int:
        """The schedule step at training step ``t`` (``0 ≤ t ≤`` the current step).

        Args:
            t: a training step.
        """
        k = bisect_right(self._pieces, (t, math.inf, math.inf)) - 1
        t0, s0, rate = self._pieces[k]
        return s0 + rate * (t - t0)

    def observe(self, step: int, metrics: Mapping[str, float]) -> list[Opening]:
        """Feed what was logged at training ``step`` (the current one); decide where the schedule
        goes next. Returns the gates that opened (empty for most steps).

        Args:
            step: the current training step.
            metrics: name -> value logged at it.
        """
        if step != self._t:
            raise ValueError(f"observe({step}, ...): the timeline is at training step {self._t}")
        self._observed = step
        names = metrics.keys() if self._wanted is None else self._wanted.intersection(metrics)
        logged = {}
        for name in names:
            v = metrics[name]
            if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
                logged[name] = self._last[name] = float(v)
        if not self._armed:
            return []
        opened = gate_openings.decide(self, step, logged)
        self._openings.extend(opened)
        return opened

    # -- stepping --------------------------------------------------------------------------------
    @property
    def state(self) -> State:
        if self._gstate is None:
            self._gstate = self._gated_state(self._t)
        return self._gstate

    def step(self) -> State:
        """Advance one training step (the schedule step as the last :meth:`observe` decided)."""
        if self._next is None:
            raise IndexError(f"the gated timeline ended at training step {self._t}")
        holding = self._armed and any(a.entered is not None for a in self._armed.values())
        if (holding and self._observed != self._t) or (self._armed and self._observed is None):
            raise RuntimeError(
                f"{self.dopesheet.source}: the schedule has gates but no metrics were "
                f"observed at step {self._t}: feed them with observe(step, metrics) (in the "
                "trainer: trainer.add(GateHandler()))"
            )
        t, nxt = self._t + 1, self._next
        rate = 0 if nxt == self._sigma else 1
        t0, s0, r0 = self._pieces[-1]
        if not (r0 == rate and s0 + r0 * (t - t0) == nxt):
            self._pieces.append((t, nxt, rate))
        prev, self._t, self._sigma = self._sigma, t, nxt
        self._next = nxt + 1 if nxt + 1 < self._n else None
        if nxt != prev and nxt in self._row_set:  # gates arm (holds begin) only on rows
            gate_openings.arm(self, t)
        self._gstate = self._gated_state(t, nxt, prev)
        return self._gstate

    def __iter__(self) -> Iterator[State]:
        yield self.state
        while self._next is not None:
            yield self.step()

    def __getitem__(self, i: int) -> State:
        i = _step_index(i, "timeline")
        if i < 0:
            i += self._t + 1
        if not 0 <= i <= self._t:
            raise IndexError(f"step {i} has not run yet (the gated run is at step {self._t})")
        return self._gated_state(i)

    def seek(self, step: int) -> State:
        """Only back to step 0 (a fresh start) or to the current step (resuming).

        Args:
            step: the step.
        """
        step = _step_index(step, "seek")
        if step == 0:
            self._reset()
        elif step != self._t:
            raise IndexError(f"a gated timeline can seek to 0 or its step {self._t}, not {step}")
        self._gstate = self._gated_state(self._t)
        return self._gstate

    def _gated_state(self, t: int, sigma: int | None = None, prev: int | None = None) -> State:
        if sigma is None:
            sigma = self.sigma_at(t)
            prev = self.sigma_at(t - 1) if t > 0 else -1
        base = Timeline._state_at(self, sigma, self._props(sigma))
        if sigma == prev:  # held: nothing starts or fires again
            return State(t, base.phase, base.props, (), False, base.is_phase_end and not (
                sigma in self._gate_at and self._gate_at[sigma].gate.kind == "until"
            ), sigma)  # fmt: skip
        start = base.is_phase_start or t == 0
        if not start and sigma != prev + 1:  # a jump may land inside another phase
            ds = self.dopesheet
            start = ds.phase_at(prev).start != ds.phase_at(sigma).start  # type: ignore[arg-type]
        end = base.is_phase_end and not (
            sigma in self._gate_at and self._gate_at[sigma].gate.kind == "until"
        )
        return State(t, base.phase, base.props, base.actions, start, end, sigma)

    def _props(self, sigma: int) -> dict[str, float]:
        if not self._blends:
            return self._cursor_values(sigma)
        return self._blended(sigma, len(self._blends))

    def _blended(self, sigma: int, k: int) -> dict[str, float]:
        if k == 0:
            return dict(self._cursor_values(sigma))
        g, b, d = self._blends[k - 1]
        out = self._blended(sigma, k - 1)
        if not g <= sigma < g + b:
            return out
        own = self._blended(sigma - d, k - 1)
        s = float(MINJERK.shape(np.array([(sigma - g) / b]))[0])
        for name, spec in self.dopesheet.specs.items():
            x0, x1 = own[name], out[name]
            if spec.space == "log":
                out[name] = math.exp(math.log(x0) + (math.log(x1) - math.log(x0)) * s)
            else:
                out[name] = x0 + (x1 - x0) * s
        return out

    def values(self, lo: int = 0, hi: int | None = None) -> dict[str, np.ndarray]:
        """Every property on training steps ``[lo, hi)`` of the run so far.

        Args:
            lo: the first step.
            hi: one past the last.
        """
        hi = self._t + 1 if hi is None else hi
        if not 0 <= lo <= hi <= self._t + 1:
            raise ValueError(f"values({lo}, {hi}): the gated run has steps 0..{self._t}")
        rows = [self._gated_state(t).props for t in range(lo, hi)]
        return {n: np.array([r[n] for r in rows], dtype=np.float64) for n in self._names}

    def values_at(self, steps: Any) -> dict[str, np.ndarray]:
        """Every property at the given training steps run so far.

        Args:
            steps: the training steps to sample.
        """
        rows = [self[int(t)].props for t in steps]
        return {n: np.array([r[n] for r in rows], dtype=np.float64) for n in self._names}

    def dopesheets_between(self, lo: int, hi: int) -> list[tuple[int, int, Dopesheet]]:
        """``[(lo, hi, the as-run sheet)]``: a gated timeline is never reloaded.

        Args:
            lo: the first step.
            hi: one past the last.
        """
        return [(lo, hi, self.as_run())]

    # -- what runtime control a gated run does not support ----------------------------------------
    def set(self, prop: str, *args: Any, **kwargs: Any) -> None:
        """Not supported on a gated timeline yet (its gates steer it): raises
        ``NotImplementedError``.

        Args:
            prop: the property.
            args: as :meth:`Timeline.set`.
            kwargs: as :meth:`Timeline.set`.
        """
        raise NotImplementedError("set() is not supported on a GatedTimeline yet; gates steer it")

    def follow(self, prop: str, duration: int) -> None:
        """Not supported on a gated timeline yet: raises ``NotImplementedError``.

        Args:
            prop: the property.
            duration: steps of the crossfade.
        """
        raise NotImplementedError("follow() is not supported on a GatedTimeline yet")

    def reload(self, dopesheet: Any) -> list[str]:
        """Not supported on a gated timeline yet: raises ``NotImplementedError``.

        Args:
            dopesheet: the edited dopesheet or its CSV path.
        """
        raise NotImplementedError("reload() is not supported on a GatedTimeline yet")

    # -- the as-run sheet and persistence ---------------------------------------------------------
    def as_run(self) -> Dopesheet:
        """The schedule as run so far, gates resolved: realizes to this run's values bit for bit
        (see :func:`mini.temporal.as_run.as_run_dopesheet`)."""
        from mini.temporal.as_run import as_run_dopesheet

        return as_run_dopesheet(self)

    def to_dopesheet(self, actions: Any = (), *, tolerance: float = 0.0) -> Dopesheet:
        """ "Save as dopesheet": the as-run sheet (:meth:`as_run`).

        Args:
            actions: not used yet (the as-run sheet has the dopesheet's actions).
            tolerance: not used yet (the as-run sheet is exact).
        """
        return self.as_run()

    def state_dict(self) -> dict[str, Any]:
        """Both clocks, the pieces and blends, the armed gates' windows and the last metrics."""
        return {
            "gated": True,
            "step": self._t,
            "t": self._t,
            "sigma": self._sigma,
            "next": self._next,
            "pieces": [list(p) for p in self._pieces],
            "blends": [list(b) for b in self._blends],
            "done": sorted(self._done),
            "armed": {
                str(g): {
                    "armed_at": a.armed_at,
                    "result": a.result,
                    "entered": a.entered,
                    "cond": a.cond.state_dict(),
                }
                for g, a in self._armed.items()
            },
            "last": dict(self._last),
            "openings": [o.to_dict() for o in self._openings],
            "observed": self._observed,
            "eras": [e.to_dict() for e in self._eras],
        }

    def load_state_dict(self, state: dict[str, Any]) -> list[str]:
        """Restore a state from :meth:`state_dict` (the same gated dopesheet)."""
        if not state.get("gated"):
            raise ValueError("this checkpoint was written by an ungated Timeline")
        step, t = int(state["step"]), int(state.get("t", state["step"]))
        if step not in (t, t - 1):
            raise ValueError(f"a gated timeline resumes at step {t} (or {t - 1}), not {step}")
        self._reset()
        self._pieces = [tuple(p) for p in state["pieces"]]  # type: ignore[misc]
        self._blends = [tuple(b) for b in state["blends"]]  # type: ignore[misc]
        self._done = set(state["done"])
        self._last = {k: float(v) for k, v in state["last"].items()}
        self._openings = [Opening(**o) for o in state["openings"]]
        self._observed = state["observed"]
        self._armed = {}
        for g, a in state["armed"].items():
            armed = ArmedGate(self._gate_at[int(g)], 0, self.conditions)
            k = self._row_steps.index(int(g))
            armed.prev_step = self._row_steps[k - 1] if k > 0 else 0
            armed.armed_at, armed.result, armed.entered = a["armed_at"], a["result"], a["entered"]
            armed.cond.load_state_dict(a["cond"])
            self._armed[int(g)] = armed
        self._t, self._sigma, self._next = t, int(state["sigma"]), state["next"]
        if step == t - 1:  # the state before step t ran (a fault checkpoint): step t is next
            self._next, self._t = self._sigma, step
            self._pieces = [p for p in self._pieces if p[0] <= step]
            self._sigma, self._observed = self.sigma_at(step), step
        self._invalidate()
        self._gstate = self._gated_state(self._t)
        return []

    def __repr__(self) -> str:
        return (
            f"GatedTimeline({self.dopesheet.source!r}, step={self._t}, "
            f"schedule_step={self._sigma}/{self._n - 1})"
        )


def timeline_for(dopesheet: Dopesheet) -> Timeline:
    """A :class:`GatedTimeline` for a sheet with gates, else a plain :class:`Timeline`.

    Args:
        dopesheet: the dopesheet.
    """
    return GatedTimeline(dopesheet) if dopesheet.gates else Timeline(dopesheet)
