"""The checks a run passes before step 0: every name the run uses must exist in the dopesheet.

A typo in a property, a phase or an action name would otherwise make a binding, a loss weight or
a handler silently do nothing. Every problem is listed at once, with "did you mean" where a close
name exists, as the dopesheet parser does for the file itself.
"""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from mini.temporal import Dopesheet
from mini.temporal.gate_rows import gate_labels
from mini.training.events import NAMED_EVENTS, Subscription


class ConfigError(ValueError):
    """The run is mis-wired (missing properties, phases, actions or data); raised before step 0."""


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """``" (did you mean 'hard-mix'?)"`` or ``""`` (case-insensitive: ``a`` finds ``A``)."""
    by_lower = {c.lower(): c for c in choices if c}
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=0.5)
    return f" (did you mean {by_lower[close[0]]!r}?)" if close else ""


def unknown_name(kind: str, name: str, known: Collection[str], where: str) -> str:
    """One problem line: an unknown property/phase/action, what exists, and the close match."""
    listing = ", ".join(repr(k) for k in sorted(known)) or "none"
    return f"{kind} {name!r} is not in {where}{did_you_mean(name, known)}; it has: {listing}"


@dataclass(frozen=True)
class RunNames:
    """The names a run uses, gathered from the trainer's wiring."""

    criteria: Collection[str]
    bound: Collection[str]
    read: Collection[str]
    subscriptions: Collection[Subscription]
    data_phases: Collection[str | None]
    runtime_actions: Collection[str] = ()


def run_problems(ds: Dopesheet, names: RunNames) -> list[str]:
    """Everything the run needs that the dopesheet or the data lack."""
    props = set(ds.specs)
    problems: list[str] = []
    for name in names.criteria:
        if name not in props:
            problems.append(
                f"criterion {name!r} has no column in {ds.source}{did_you_mean(name, props)}: "
                f"add a column {name!r} (its value is the term's weight) or remove the criterion"
            )
    for name in sorted(set(names.bound) | set(names.read)):
        if name not in props:
            problems.append(
                f"property {name!r} is bound/read by this run but missing from {ds.source}"
                f"{did_you_mean(name, props)}: add a column {name!r} or fix the name"
            )
    phases = {p.name for p in ds.phases if p.name is not None}
    actions = {a for _, a in ds.actions} | set(names.runtime_actions)
    for sub in names.subscriptions:
        base, _, name = sub.event.partition(":")
        if not name or sub.optional or base not in NAMED_EVENTS:
            continue
        known, kind = (actions, "action") if base == "action" else (phases, "phase")
        if base == "gate":
            known, kind = set(gate_labels(ds)), "gate"
        if name not in known:
            problems.append(
                unknown_name(kind, name, known, ds.source)
                + f": the handler for {sub.event!r} would never run (fix the name, or subscribe "
                "with optional=True if it is fired at runtime)"
            )
    for ph in ds.phases:
        if ph.name not in names.data_phases:
            label = "steps before the first named phase" if ph.name is None else repr(ph.name)
            problems.append(
                f"phase {label} (steps {ph.start}–{ph.end}) has no data: pass "
                f"data[{ph.name!r}] = PhaseData(train=..., val=...)"
            )
    for phase in names.data_phases:
        if phase is not None and phase not in phases:
            problems.append(
                unknown_name("data for phase", phase, phases, ds.source)
                + ": the data would never be used (fix the phase name)"
            )
    return problems


BUILTIN_PROPS = ("lr", "grad-clip")


def check_run(ds: Dopesheet, names: RunNames, optimizer: Any) -> None:
    """``Trainer.check``: :class:`ConfigError` listing every problem of :func:`run_problems`;
    a warning naming the dopesheet properties nothing reads (criteria, bindings, reads, the
    built-in ``lr``/``grad-clip`` and their ``-<group>`` forms for named param groups)."""
    problems = run_problems(ds, names)
    if problems:
        raise ConfigError("the run cannot start:\n  " + "\n  ".join(problems))
    used = {*names.criteria, *names.bound, *names.read, *BUILTIN_PROPS}
    for group in optimizer.param_groups:
        if group.get("name") is not None:
            used |= {f"lr-{group['name']}", f"grad-clip-{group['name']}"}
    unused = unused_props(ds, used)
    if unused:
        warnings.warn(
            f"{ds.source}: propert{'ies' if len(unused) > 1 else 'y'} "
            f"{', '.join(map(repr, unused))} not read by anything in this run (typo?)",
            stacklevel=4,  # the user's fit() or check() call
        )


def unused_props(ds: Dopesheet, used: Collection[str]) -> list[str]:
    """Dopesheet properties nothing in the run reads (probably typos): a warning, not an error."""
    return sorted(p for p in ds.specs if p not in used)
