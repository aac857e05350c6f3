"""Ray Tune's Population Based Training policy logs as dopesheets.

Tune writes ``pbt_policy_<trial id>.txt`` in the experiment folder: one JSON list per
exploit, ``[target tag, clone tag, target iteration, clone iteration, clone config, new
config]``; a trial that clones another first copies that trial's log, so the file holds the
trial's whole ancestry. Read as Tune's replay reads it (from the last line back while each
line's target is the previous line's clone), the policy is a starting config and the
iterations where the config changed. :func:`policy_dopesheet` writes that as keys: ``hold``
(a step-end column: the value changes at the exploit step, as Tune replays it) or
``smooth`` (a minimum-jerk move from the old value to the new one over ``blend`` steps).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from mini.temporal.dopesheet import Dopesheet

Transition = Literal["hold", "smooth"]


class PolicyError(ValueError):
    """A policy file that cannot be read, with the line and how to fix it."""


@dataclass(frozen=True)
class Policy:
    """The winning lineage: ``initial`` config from iteration 0, then ``changes`` as
    ``(iteration, config)`` in order: the config from that iteration on."""

    initial: dict[str, Any]
    changes: list[tuple[int, dict[str, Any]]]


def read_policy(path: str | os.PathLike[str]) -> Policy:
    """Read a Tune ``pbt_policy_*.txt`` with Tune's replay semantics."""
    rows = []
    text = Path(path).read_text(encoding="utf-8")
    for i, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise PolicyError(
                f"{path}:{i}: not JSON ({e.msg}); is this a pbt_policy_*.txt file?"
            ) from None
        if not (
            isinstance(row, list)
            and len(row) == 6
            and isinstance(row[4], dict)
            and isinstance(row[5], dict)
        ):
            raise PolicyError(
                f"{path}:{i}: expected [target tag, clone tag, target iteration, clone iteration, "
                "old config, new config], as Tune's PBT writes"
            )
        rows.append(row)
    if not rows:
        raise PolicyError(f"{path}: the policy is empty (the trial was never perturbed)")
    changes = []
    last_clone = None
    initial: dict[str, Any] = {}
    for target, clone, _target_iter, clone_iter, old_config, new_config in reversed(rows):
        if last_clone is not None and target != last_clone:
            break  # an older lineage, overwritten by a later exploit
        last_clone = clone
        initial = old_config
        changes.append((int(clone_iter), new_config))
    return Policy(initial, list(reversed(changes)))


def _numeric(config: dict[str, Any], prefix: str = "") -> dict[str, float]:
    out: dict[str, float] = {}
    for k, v in config.items():
        if isinstance(v, dict):
            out |= _numeric(v, f"{prefix}{k}/")
        elif isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
            out[f"{prefix}{k}"] = float(v)
    return out


def _header(name: str, log: bool, transition: Transition) -> str:
    if transition == "hold":
        return f"{name}:{'log' if log else ''}:step-end"
    return f"{name}:log" if log else name


def policy_dopesheet(
    policy: Policy,
    *,
    steps_per_iteration: int = 1,
    transition: Transition = "hold",
    blend: int | None = None,
    log: tuple[str, ...] = (),
    last_iteration: int | None = None,
    source: str = "<pbt policy>",
) -> Dopesheet:
    """The policy as a dopesheet: one property per numeric config key (nested keys joined
    with ``/``), a key at step 0 and at each change (``iteration × steps_per_iteration``).

    Args:
        transition: ``hold`` (step-end: Tune's replay) or ``smooth`` (minimum jerk over
            ``blend`` steps, default one iteration, never past the next change).
        log: keys to interpolate in log space (smooth).
        last_iteration: end the run there (default: the last change).
    """
    if steps_per_iteration < 1:
        raise ValueError("steps_per_iteration must be >= 1")
    start = _numeric(policy.initial)
    points = [(0, start)] + [(it * steps_per_iteration, _numeric(c)) for it, c in policy.changes]
    names = sorted({k for _, values in points for k in values})
    if not names:
        raise PolicyError(f"{source}: the configs hold no numbers to schedule")
    blend = steps_per_iteration if blend is None else blend
    keys: dict[int, dict[str, float]] = {}
    held: dict[str, float] = {}
    for i, (step, values) in enumerate(points):
        nxt = points[i + 1][0] if i + 1 < len(points) else None
        for name in names:
            if name not in values or held.get(name) == values[name]:
                continue
            if transition == "hold" or name not in held:
                keys.setdefault(step, {})[name] = values[name]
            else:
                arrive = step + max(1, blend)
                if nxt is not None:
                    arrive = min(arrive, nxt)
                if arrive <= step:  # no room to move (the next change, or the end, is here):
                    # a jump, held up to the step before, so earlier steps keep their values
                    if step - 1 not in keys or name not in keys[step - 1]:
                        keys.setdefault(step - 1, {})[name] = held[name]
                    keys.setdefault(step, {})[name] = values[name]
                else:
                    keys.setdefault(step, {})[name] = held[name]
                    keys.setdefault(arrive, {})[name] = values[name]
            held[name] = values[name]
    last = max(keys)
    if last_iteration is not None:
        last = max(last, last_iteration * steps_per_iteration)
    keys.setdefault(last, {})
    header = ["STEP"] + [_header(n, n in log, transition) for n in names]
    lines = [",".join(header)]
    for step in sorted(keys):
        lines.append(
            ",".join([str(step)] + [repr(keys[step][n]) if n in keys[step] else "" for n in names])
        )
    return Dopesheet.from_text("\n".join(lines) + "\n", source=source)
