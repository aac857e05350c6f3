"""The checks a run passes before step 0: every name the run uses must exist in the dopesheet.

A typo in a property, a phase or an action name would otherwise make a binding, a loss weight or
a handler silently do nothing. Every problem is listed at once, with "did you mean" where a close
name exists, as the dopesheet parser does for the file itself.
"""

from __future__ import annotations

import warnings
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from mini import suggest
from mini.temporal import Dopesheet
from mini.temporal.gate_rows import gate_labels
from mini.training.events import NAMED_EVENTS, Subscription


class ConfigError(ValueError):
    """The run is mis-wired (missing properties, phases, actions or data); raised before step 0."""


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """``" (did you mean 'hard-mix'?)"`` or ``""`` (case-insensitive: ``a`` finds ``A``)."""
    return suggest.did_you_mean(name, choices, cutoff=0.5)


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


def run_problems(ds: Dopesheet, names: RunNames, optimizers: Iterable[Any] = ()) -> list[str]:
    """Everything the run needs that the dopesheet or the data lack."""
    props = set(ds.specs)
    problems: list[str] = []
    for name in names.criteria:
        if name not in props:
            problems.append(
                f"criterion {name!r} has no column in {ds.source}{did_you_mean(name, props)}: "
                f"add a column {name!r} (its value is the term's weight) or remove the criterion"
            )
    problems += schedule_problems(
        ds, names.bound, names.read, names.subscriptions, names.runtime_actions, optimizers
    )
    phases = {p.name for p in ds.phases if p.name is not None}
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


def schedule_problems(
    ds: Dopesheet,
    bound: Collection[str],
    read: Collection[str],
    subscriptions: Collection[Subscription],
    runtime_actions: Collection[str] = (),
    optimizers: Iterable[Any] = (),
) -> list[str]:
    """The checks every loop (our trainer and each adapter) runs before step 0: bound or read
    properties, handler names (``phase-start:<p>``, ``action:<a>``) and ``lr-<group>`` columns
    against the optimizers' param groups."""
    props = set(ds.specs)
    problems: list[str] = []
    for name in sorted(set(bound) | set(read)):
        if name not in props:
            problems.append(
                f"property {name!r} is bound/read by this run but missing from {ds.source}"
                f"{did_you_mean(name, props)}: add a column {name!r} or fix the name"
            )
    phases = {p.name for p in ds.phases if p.name is not None}
    actions = {a for _, a in ds.actions} | set(runtime_actions)
    for sub in subscriptions:
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
    return problems + group_problems(ds, optimizers)


def group_problems(ds: Dopesheet, optimizers: Iterable[Any]) -> list[str]:
    """``lr-<g>``/``grad-clip-<g>`` columns against the param groups, both ways: a column that
    names no group, and a named group left without a learning rate while others have theirs."""
    groups = [g for opt in optimizers for g in opt.param_groups]
    if not groups:
        return []
    names = {g["name"] for g in groups if g.get("name") is not None}
    problems: list[str] = []
    for prefix in ("lr-", "grad-clip-"):
        for column in sorted(c for c in ds.specs if c.startswith(prefix)):
            group = column[len(prefix) :]
            if group not in names:
                close = did_you_mean(column, [prefix + n for n in names])
                listing = ", ".join(repr(n) for n in sorted(names)) or "none (no group has a name)"
                problems.append(
                    f"column {column!r} of {ds.source} drives no param group{close}: the "
                    f"optimizer's named groups are {listing} (rename the column or the group)"
                )
    if "lr" not in ds.specs and any(c.startswith("lr-") for c in ds.specs):
        for name in sorted(names):
            if f"lr-{name}" not in ds.specs:
                problems.append(
                    f"param group {name!r} has no learning rate column in {ds.source} (it has "
                    f"lr-<group> columns but no 'lr'): add 'lr-{name}' or an 'lr' column"
                )
    return problems


BUILTIN_PROPS = ("lr", "grad-clip")


def check_run(ds: Dopesheet, names: RunNames, optimizer: Any) -> None:
    """``Trainer.check``: :class:`ConfigError` listing every problem of :func:`run_problems`;
    a warning naming the dopesheet properties nothing reads (criteria, bindings, reads, the
    built-in ``lr``/``grad-clip`` and their ``-<group>`` forms for named param groups)."""
    problems = run_problems(ds, names, [optimizer])
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
