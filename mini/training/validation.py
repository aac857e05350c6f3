"""Validation inference: the criteria on a fixed batch or averaged over a whole loader.

Runs in eval mode without gradients. Each criterion is reported unweighted, plus ``total``
weighted by this step's properties (criteria weighted 0 are skipped, as in training).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn

from mini.training.criteria import batch_inputs
from mini.training.data import to_device
from mini.training.modes import eval_mode
from mini.training.result import Result, as_result

# (name, criterion, how to call it) — see Trainer: "plain", "state" (takes the State) or "special".
CriterionEntry = tuple[str, Callable[..., Any], str]


def call_criterion(
    crit: Callable[..., Any], kind: str, batch: Any, result: Result, state: Any,
    model: nn.Module, trainer: Any,
) -> Any:  # fmt: skip
    """One unweighted term: special criteria run on the model, the others see the batch, the
    result and (if they take it) the step's state."""
    if kind == "special":
        return crit(model, trainer)
    if kind == "state":
        return crit(batch, result, state)
    return crit(batch, result)


def evaluate_criteria(
    entries: list[CriterionEntry], props: dict[str, float], batch: Any, result: Result,
    model: nn.Module, trainer: Any, state: Any,
) -> dict[str, float]:  # fmt: skip
    """Unweighted value of every criterion whose weight is not 0."""
    out: dict[str, float] = {}
    for name, crit, kind in entries:
        if props[name] != 0:
            out[name] = float(call_criterion(crit, kind, batch, result, state, model, trainer))
    return out


def with_total(losses: dict[str, float], props: dict[str, float]) -> dict[str, float]:
    if not losses:
        return {}
    return {"total": sum(props[k] * v for k, v in losses.items()), **losses}


def validate_batch(
    model: nn.Module, forward: Callable[[nn.Module, Any], Any], batch: Any,
    entries: list[CriterionEntry], state: Any, trainer: Any,
) -> tuple[Result, dict[str, float]]:  # fmt: skip
    """The model's result on ``batch`` and the criteria on it."""
    with eval_mode(model):
        result = as_result(forward(model, batch))
        losses = evaluate_criteria(entries, state.props, batch, result, model, trainer, state)
    return result.detach(), with_total(losses, state.props)


def validate_loader(
    model: nn.Module, forward: Callable[[nn.Module, Any], Any], loader: Iterable[Any],
    entries: list[CriterionEntry], state: Any, trainer: Any, to_device: Callable[[Any], Any],
) -> dict[str, float]:  # fmt: skip
    """The criteria averaged over every batch of ``loader``, weighted by batch size (so the
    result equals one pass over the concatenated data for mean-reduced criteria)."""
    sums: dict[str, float] = {}
    rows = 0
    with eval_mode(model):
        for batch in loader:
            batch = to_device(batch)
            result = as_result(forward(model, batch))
            n = len(batch_inputs(batch))
            for k, v in evaluate_criteria(
                entries, state.props, batch, result, model, trainer, state
            ).items():
                sums[k] = sums.get(k, 0.0) + v * n
            rows += n
    if rows == 0:
        raise ValueError("the validation loader yielded no batches")
    return with_total({k: v / rows for k, v in sums.items()}, state.props)


def validate_phase(
    model: nn.Module, forward: Callable[[nn.Module, Any], Any], data: Any,
    entries: list[CriterionEntry], state: Any, trainer: Any, device: torch.device,
) -> tuple[Result | None, dict[str, float]]:  # fmt: skip
    """Validate on a phase's :class:`~mini.training.PhaseData`: its ``val_loader`` (no single
    result then) or its ``val`` batch; nothing without either."""
    if data is None:
        return None, {}
    if data.val_loader is not None:
        move = (lambda b: b) if device.type == "cpu" else (lambda b: to_device(b, device))
        return None, validate_loader(model, forward, data.val_loader, entries, state, trainer, move)
    if data.val is None:
        return None, {}
    val = data.val if device.type == "cpu" else to_device(data.val, device)
    return validate_batch(model, forward, val, entries, state, trainer)
