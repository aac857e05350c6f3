"""The schedule engine: what every training loop does with a Timeline, without the loop.

Our :class:`~mini.training.Trainer`, :class:`~mini.adapters.DopesheetLR`, the Lightning callback
and the Ignite handler each own one :class:`ScheduleEngine`. The loop tells it "step ``k`` is
about to run" (:meth:`ScheduleEngine.enter`) and "step ``k`` has run" (:meth:`finish`); the
engine fires the events (one :class:`~mini.training.events.Event` type, one
:class:`~mini.training.events.EventBus`), sets the learning rates and calls the bound setters,
records which actions fired at which step, checks names before step 0, and saves/restores
itself with the stateful handlers it tracks. It reads every step's state from the Timeline it
was given (``timeline.step()``, ``timeline[i]``, ``timeline.state``), so a Timeline subclass
that runs its own clock (e.g. one gated on metrics) works in every loop unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch
from torch import Tensor

from mini.temporal import Dopesheet, State, Timeline
from mini.temporal.timeline import unknown_property
from mini.training.bindings import lr_property
from mini.training.events import (
    ACTION,
    PHASE_END,
    PHASE_START,
    PRE_STEP,
    STEP_METRICS,
    Event,
    EventBus,
    Handler,
    Subscription,
)
from mini.training.length_change import already_fired, blend_bounds, check_policy

log = logging.getLogger(__name__)

Setter = Callable[[float], Any]


class Props(dict):
    """A step's property values; a missing name says "did you mean"."""

    def __missing__(self, key: str) -> float:
        raise unknown_property(key, self)


def is_stateful(obj: Any) -> bool:
    """Has ``state_dict()`` and ``load_state_dict()`` (and is not a model or optimizer, which
    loops save on their own)."""
    if isinstance(obj, torch.nn.Module | torch.optim.Optimizer):
        return False
    return callable(getattr(obj, "state_dict", None)) and callable(
        getattr(obj, "load_state_dict", None)
    )


class ScheduleEngine:
    """Timeline walk, event dispatch, bindings and learning rates, record of fired actions.

    Args:
        timeline: the Timeline to walk (``None`` until the loop knows the run's length; set
            :attr:`timeline` then).
        source: what events carry as ``event.source`` (the adapter or trainer that owns this).
    """

    def __init__(self, timeline: Timeline | None = None, *, source: Any = None):
        self.timeline = timeline
        self.bus = EventBus()
        self.source = source
        self.trainer: Any = None  # what events carry as event.trainer / event.module
        self.module: Any = None
        self.bindings: dict[str, list[Setter]] = {}
        self.reads: set[str] = set()
        self.runtime_actions: set[str] = set()
        self.stateful: dict[str, Any] = {}
        self.pending_states: dict[str, Any] = {}  # restored states of handlers not tracked yet
        self.history: list[tuple[int, str]] = []  # every action fired: (step, name)
        self.fired: list[tuple[int, str]] = []  # those fired at runtime with fire()
        self.queued: list[str] = []
        self.entered = -1  # the step whose events fired last
        self.finished = -1  # the last step whose step-metrics/phase-end fired
        self.replay_log: list[Event] | None = None  # events kept for handlers added later
        self.skip: dict[str, int] = {}  # action occurrences that already fired (length change)
        self.clamp: dict[str, tuple[int, list[float], list[float]]] = {}  # blend bounds
        self._lr: list[tuple[torch.optim.Optimizer, list[tuple[int, str]]]] = []
        self._bind_list: list[tuple[str, list[Setter]]] = []
        self._last_bound: dict[str, float] = {}

    # -- wiring -------------------------------------------------------------------------------------
    def on(
        self, event: str, handler: Handler, every: int | None = None, reads: Iterable[str] = (),
        optional: bool = False, replay: bool = False,
    ) -> Subscription:  # fmt: skip
        """Subscribe ``handler`` (see :meth:`EventBus.on`). ``replay=True`` (action events
        only): on resume the handler is called again for every time its action fired before
        the checkpoint, with ``event.replayed`` set — for side effects a checkpoint cannot hold
        (a frozen layer, a swapped dataset).

        Args:
            event: the event's name.
            handler: called with the :class:`Event`.
            every: step events only: call it on steps divisible by this.
            reads: dopesheet properties the handler reads (checked before step 0).
            optional: the ``<event>:<name>`` may be absent from the dopesheet.
            replay: action events only: call it again on resume for each time its action fired.
        """
        sub = self.bus.on(event, handler, every, optional)
        if replay:
            if event.partition(":")[0] != ACTION:
                self.bus.remove(sub)
                raise ValueError(f"replay=True is for action events, not {event!r}")
            sub.replay = True
        self.reads.update(reads)
        owner = getattr(handler, "__self__", handler)
        if is_stateful(owner):
            self.track(None, owner)
        for past in self.replay_log or ():
            if past.name == event and (every is None or past.step % every == 0):
                handler(past)
        return sub

    def bind(self, prop: str, setter: Setter) -> None:
        """Call ``setter(value)`` before each step whose ``prop`` value changed (and at the
        first step of every run); applied at once when a step is in progress.

        Args:
            prop: the dopesheet property.
            setter: called with its value.
        """
        self.bindings.setdefault(prop, []).append(setter)
        self._bind_list = list(self.bindings.items())
        tl = self.timeline
        if tl is not None and self.entered >= 0 and prop in tl.state.props:
            value = tl.state.props[prop]
            setter(value)
            self._last_bound[prop] = value

    def track(self, key: str | None, obj: Any) -> None:
        """Keep ``obj``'s ``state_dict()`` in checkpoints under ``key`` (``None``: by type).

        Args:
            key: the name in checkpoints (``None``: by type).
            obj: anything with ``state_dict``/``load_state_dict``.
        """
        if any(obj is o for o in self.stateful.values()):
            return
        if key is None:
            prefix = type(obj).__qualname__ + "#"
            key = f"{prefix}{sum(1 for k in self.stateful if k.startswith(prefix))}"
        elif key in self.stateful:
            raise ValueError(
                f"checkpoint key {key!r} is already used by {type(self.stateful[key]).__name__}: "
                "give each handler its own key"
            )
        self.stateful[key] = obj
        if key in self.pending_states:  # restored before it was tracked (DopesheetLR(resume=))
            obj.load_state_dict(self.pending_states.pop(key))

    def fire(self, action: str) -> None:
        """Fire ``action`` at the start of the next step, after its dopesheet actions.

        Args:
            action: the action's name.
        """
        self.queued.append(action)
        self.runtime_actions.add(action)

    def drive(self, optimizers: Sequence[torch.optim.Optimizer]) -> int:
        """Precompute which param groups follow ``lr``/``lr-<group>``; returns how many.

        Args:
            optimizers: the optimizers whose param groups follow the schedule.
        """
        props = set(self.timeline.dopesheet.specs) if self.timeline is not None else set()
        self._lr = []
        for opt in optimizers:
            targets = [
                (i, prop)
                for i, group in enumerate(opt.param_groups)
                if (prop := lr_property(group, props)) is not None
            ]
            if targets:
                self._lr.append((opt, targets))
        self._bind_list = list(self.bindings.items())
        self._last_bound = {}  # every run starts by applying every binding
        return sum(len(t) for _, t in self._lr)

    # -- events -------------------------------------------------------------------------------------
    def event(self, name: str, state: State, **fields: Any) -> Event:
        """The :class:`Event` for ``name`` at ``state``, from this engine's loop.

        Args:
            name: the event's name.
            state: the step's state.
            fields: the event's other fields (``losses``, ``batch``, ...).
        """
        return Event(name, self.trainer, state, module=self.module, source=self.source, **fields)

    def emit(self, name: str, state: State, **fields: Any) -> None:
        """Call ``name``'s handlers (nothing is built when nobody listens).

        Args:
            name: the event's name.
            state: the step's state.
            fields: the event's other fields.
        """
        replay = self.replay_log
        if replay is None:
            if name in self.bus._handlers:
                self.bus.emit(self.event(name, state, **fields))
            return
        event = self.event(name, state, **fields)
        replay.append(event)
        self.bus.emit(event)

    def emit_named(self, base: str, name: str | None, state: State, **fields: Any) -> None:
        """``base`` then ``base:name``.

        Args:
            base: the event (``phase-start``, ``action``).
            name: the phase or action (``None``: only ``base``).
            state: the step's state.
            fields: the event's other fields.
        """
        self.emit(base, state, **fields)
        if name is not None:
            self.emit(f"{base}:{name}", state, **fields)

    def enter(self, state: State) -> None:
        """Step ``state.step`` is about to run: :meth:`enter_events` then :meth:`enter_step`.

        Args:
            state: the step's state (``timeline.step()``).
        """
        if state.is_phase_start or state.actions or self.queued or self.clamp:
            self.enter_events(state)
        else:  # most steps: nothing but pre-step and the values
            self.entered = state.step
        if self.replay_log is not None or PRE_STEP in self.bus._handlers:
            self.emit(PRE_STEP, state)
        self.apply(state.props)

    def enter_events(self, state: State) -> list[str] | None:
        """``phase-start[:<p>]``, the step's actions, then actions fired at runtime (returned,
        or ``None`` when there were none).

        Args:
            state: the step's state.
        """
        self.entered = state.step
        if self.clamp:
            self._clamp(state)
        if state.is_phase_start:
            self.emit_named(PHASE_START, state.phase, state)
        if state.actions:
            for action in state.actions:
                if self.skip.get(action):
                    self.skip[action] -= 1  # fired before a length change: not again
                    continue
                self.history.append((state.step, action))
                self.emit_named(ACTION, action, state, action=action)
        if not self.queued:
            return None
        queued, self.queued = self.queued, []
        for action in queued:
            self.fired.append((state.step, action))
            self.history.append((state.step, action))
            self.emit_named(ACTION, action, state, action=action)
        return queued

    def enter_step(self, state: State) -> None:
        """``pre-step``, then learning rates and bindings from the step's properties.

        Args:
            state: the step's state.
        """
        if self.replay_log is not None or PRE_STEP in self.bus._handlers:
            self.emit(PRE_STEP, state)
        self.apply(state.props)

    def finish(self, state: State, losses: Callable[[], Any] | None = None, **fields: Any) -> None:
        """Step ``state.step`` has run: ``step-metrics`` (``losses()`` is called only if someone
        listens), then ``phase-end[:<p>]`` at a phase's last step. Once per step.

        Args:
            state: the step's state.
            losses: returns the step's losses (called only if someone listens).
            fields: the event's other fields (``batch``, ``result``).
        """
        if state.step <= self.finished:
            return
        self.finished = state.step
        if self.replay_log is not None or STEP_METRICS in self.bus._handlers:
            self.emit(STEP_METRICS, state, losses=losses() if losses else None, **fields)
        if state.is_phase_end:
            self.emit_named(PHASE_END, state.phase, state)

    def apply(self, props: dict[str, float]) -> None:
        """Set the driven learning rates (a tensor ``lr`` in place) and the changed bindings.

        Args:
            props: the step's property values.
        """
        for opt, targets in self._lr:
            groups = opt.param_groups  # looked up each time: load_state_dict replaces the dicts
            for i, prop in targets:
                group = groups[i]
                if type(group["lr"]) is float:
                    group["lr"] = props[prop]
                elif isinstance(group["lr"], Tensor):
                    group["lr"].fill_(props[prop])
                else:
                    group["lr"] = props[prop]
        if self._bind_list:
            last = self._last_bound
            for prop, setters in self._bind_list:
                value = props[prop]
                if last.get(prop) != value:
                    for setter in setters:
                        setter(value)
                    last[prop] = value

    # -- resume -------------------------------------------------------------------------------------
    def resume_timeline(
        self, saved: dict[str, Any], policy: str = "adopt", replaceable: bool = True
    ) -> tuple[Dopesheet, list[str]]:
        """Restore the timeline from a checkpoint's ``timeline.state_dict()`` under the
        length-change policy (:mod:`mini.training.length_change`); ``replaceable``: the loop
        built the Timeline itself, so ``"keep"`` may rebuild it from the checkpoint's dopesheet.
        Returns the saved dopesheet and the properties whose schedule changed.

        Args:
            saved: the checkpoint's ``timeline.state_dict()``.
            policy: ``"adopt"`` or ``"keep"``.
            replaceable: the loop built the Timeline itself.
        """
        check_policy(policy)
        tl = self.timeline
        assert tl is not None
        old = Dopesheet.from_dict(saved["eras"][-1]["dopesheet"])
        if policy == "keep" and replaceable and old != tl.dopesheet:
            log.warning(
                "%s differs from the checkpoint's schedule (%d steps, now %d): continuing the "
                "checkpoint's schedule (on_length_change='keep'; 'adopt' takes the new one)",
                tl.dopesheet.source, old.n_steps, tl.dopesheet.n_steps,
            )  # fmt: skip
            self.timeline = tl = Timeline(old)
        changed = tl.load_state_dict(saved)
        if changed or old.actions != tl.dopesheet.actions:
            step = tl.state.step
            self.skip = already_fired(self.history, tl.dopesheet, step)
            self.clamp = blend_bounds(old, tl.dopesheet, changed, step, len(tl))
        return old, changed

    def _clamp(self, state: State) -> None:
        """Keep a property that blends into an adopted schedule within its keys' range."""
        props = state.props
        for prop, (first, lows, highs) in list(self.clamp.items()):
            i = state.step - first
            if i >= len(lows):
                del self.clamp[prop]
            elif i >= 0:
                props[prop] = min(max(props[prop], lows[i]), highs[i])

    def replay_actions(self) -> int:
        """Call the ``replay=True`` handlers for every action fired so far (step order), with
        ``event.replayed`` set; returns how many calls were made."""
        subs = [s for s in self.bus.subscriptions() if s.replay]
        if not subs or self.timeline is None:
            return 0
        calls = 0
        n = len(self.timeline)
        for step, action in self.history:
            state = self.timeline[min(step, n - 1)]
            for sub in subs:
                if sub.event in (ACTION, f"{ACTION}:{action}") and (
                    sub.every is None or step % sub.every == 0
                ):
                    sub.handler(self.event(sub.event, state, action=action, replayed=True))
                    calls += 1
        return calls

    def record_state(self) -> dict[str, Any]:
        """What the engine adds to a checkpoint besides the timeline: fired actions."""
        return {
            "actions": [[s, a] for s, a in self.history],
            "fired": [[s, a] for s, a in self.fired],
            "skip": dict(self.skip),
            "clamp": {k: [f, lo, hi] for k, (f, lo, hi) in self.clamp.items()},
        }

    def load_record(self, state: dict[str, Any]) -> None:
        """Restore what fired (dopesheet and runtime actions) from a checkpoint.

        Args:
            state: the engine's record in the checkpoint.
        """
        self.history = [(int(s), str(a)) for s, a in state.get("actions", [])]
        self.fired = [(int(s), str(a)) for s, a in state.get("fired", [])]
        self.skip = {str(k): int(v) for k, v in state.get("skip", {}).items()}
        self.clamp = {
            str(k): (int(f), list(lo), list(hi))
            for k, (f, lo, hi) in state.get("clamp", {}).items()
        }

    def handler_states(self) -> dict[str, Any]:
        return {key: obj.state_dict() for key, obj in self.stateful.items()}

    def load_handler_states(self, states: dict[str, Any]) -> None:
        """Restore each tracked object's state from a checkpoint (a missing one starts fresh, with a
        warning).

        Args:
            states: key -> state, from the checkpoint.
        """
        for key, obj in self.stateful.items():
            if key in states:
                obj.load_state_dict(states[key])
            else:
                log.warning("checkpoint has no state for %s; it starts fresh", key)
        self.pending_states = {k: v for k, v in states.items() if k not in self.stateful}
