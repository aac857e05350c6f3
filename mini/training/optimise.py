"""One training step's optimisation: forward, weighted criteria, backward, clip, checks, update.

Kept apart from the loop so the per-step hot path is easy to read and to measure. Options
(all off by default): gradient accumulation over ``accumulate`` micro-batches per dopesheet
step (the step's properties hold for all of them; losses are averaged), mixed precision
(``"bf16"`` autocast on CPU or CUDA; ``"16"`` fp16 autocast with a ``GradScaler`` on CUDA),
per-group gradient clipping (``grad-clip-<group>`` for a param group named ``<group>``,
``grad-clip`` for the others together).
"""

from __future__ import annotations

import contextlib
import inspect
import math
from collections.abc import Callable
from typing import Any, Literal

import torch
from torch import Tensor, nn

from mini.training.criteria import SpecialCriterion
from mini.training.data import to_device
from mini.training.guard import FiniteCheck, GradCheck, PreStepSnapshot, params_finite
from mini.training.result import Result, as_result
from mini.training.validation import CriterionEntry, call_criterion

Precision = Literal["32", "bf16", "16"]


class NonFiniteValues(Exception):
    """Raised by :meth:`StepOptimiser.run` before the update (or right after it, for the
    ``"params"`` check); the trainer turns it into a ``NonFiniteLossError`` with a checkpoint."""

    def __init__(self, losses: dict[str, float], grads: bool, after_update: bool = False):
        super().__init__("non-finite values")
        self.losses, self.grads, self.after_update = losses, grads, after_update


def criterion_kind(crit: Any) -> str:
    """How to call a criterion: ``special`` (model, trainer), ``state`` (batch, result, state)
    or ``plain`` (batch, result)."""
    if isinstance(crit, SpecialCriterion):
        return "special"
    try:
        params = list(inspect.signature(crit).parameters.values())
    except (TypeError, ValueError):
        return "plain"
    if any(p.name == "state" for p in params):
        return "state"
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    positional = [p for p in params if p.kind in kinds]
    required = len(positional) >= 3 and positional[2].default is inspect.Parameter.empty
    return "state" if required else "plain"


def clip_targets(
    optimizer: torch.optim.Optimizer, props: set[str]
) -> list[tuple[list[Tensor], str]]:
    """``[(params, property)]``: each named group with ``grad-clip-<name>`` alone, the other
    groups' parameters together under ``grad-clip``."""
    targets: list[tuple[list[Tensor], str]] = []
    rest: list[Tensor] = []
    for group in optimizer.param_groups:
        name = group.get("name")
        if name is not None and f"grad-clip-{name}" in props:
            targets.append((list(group["params"]), f"grad-clip-{name}"))
        else:
            rest.extend(group["params"])
    if rest and "grad-clip" in props:
        targets.append((rest, "grad-clip"))
    return targets


def _finite(v: float) -> bool:
    return v == v and v not in (float("inf"), float("-inf"))


class StepOptimiser:
    """The optimisation part of a trainer step, with its per-run lookups precomputed."""

    def __init__(
        self, model: nn.Module, train_model: nn.Module, optimizer: torch.optim.Optimizer,
        forward: Callable[[nn.Module, Any], Any], *, accumulate: int, precision: Precision,
        finite_check: FiniteCheck, device: torch.device, snapshot: PreStepSnapshot,
    ):  # fmt: skip
        """``train_model`` is what the forward runs (``model`` itself, or its
        ``DistributedDataParallel`` wrapper); special criteria get ``model``."""
        self.model, self.train_model, self.optimizer = model, train_model, optimizer
        self.forward = forward
        self._ddp = train_model is not model
        self.accumulate, self.finite_check, self.device = accumulate, finite_check, device
        self.snapshot = snapshot
        self.scaler = torch.amp.GradScaler(device.type) if precision == "16" else None
        self._dtype = {"bf16": torch.bfloat16, "16": torch.float16}.get(precision)

    def prepare(self, criteria: list[CriterionEntry], props: set[str]) -> None:
        self.criteria = criteria
        self.params = [p for g in self.optimizer.param_groups for p in g["params"]]
        self.clips = clip_targets(self.optimizer, props)
        self.plain_zero_grad = type(self.optimizer).zero_grad is torch.optim.Optimizer.zero_grad
        self._plain = self.accumulate == 1 and not self._ddp and self._dtype is None
        self._grad_check = GradCheck()
        self._on_device = self.device.type != "cpu"  # (a torch.device attribute read costs ~1 µs)

    def _autocast(self):
        if self._dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self._dtype)

    def run(
        self, state: Any, next_batch: Callable[[], Any], trainer: Any
    ) -> tuple[Any, Result, dict[str, float]]:
        """Forward/backward over ``accumulate`` micro-batches, checks, then the update; returns
        the last batch and result and the losses (averaged over micro-batches)."""
        props, k = state.props, self.accumulate
        if self.plain_zero_grad:
            for p in self.params:  # what zero_grad(set_to_none=True) does, minus its
                p.grad = None  # per-call profiler bookkeeping (~50 µs on a tiny model)
        else:
            self.optimizer.zero_grad(set_to_none=True)
        if self._plain:
            return self._run_plain(state, next_batch, trainer)
        sums: dict[str, Tensor] = {}
        batch: Any = None
        result: Result | None = None
        for i in range(k):
            batch = next_batch()
            if self.device.type != "cpu":
                batch = to_device(batch, self.device)
            # DDP averages gradients on the last micro-batch only
            sync = (
                self.train_model.no_sync() if self._ddp and i < k - 1 else contextlib.nullcontext()
            )
            with sync:
                with self._autocast():
                    result = as_result(self.forward(self.train_model, batch))
                    total, terms = self._weighted_terms(props, batch, result, state, trainer)
                if total is None:
                    continue
                scaled = total / k if k > 1 else total
                (self.scaler.scale(scaled) if self.scaler is not None else scaled).backward()
            for name, term in (("total", total), *terms.items()):
                t = term.detach()
                sums[name] = t if name not in sums else sums[name] + t
        assert result is not None
        if not sums:
            return batch, result, {}
        if self.scaler is not None:
            self.scaler.unscale_(self.optimizer)
        norm = self._clip_and_check(props)
        names = list(sums)
        parts = [sums[n].float() for n in names] + ([norm.reshape(())] if norm is not None else [])
        floats = torch.stack(parts).tolist()  # one synchronisation for every number
        losses = {n: v / k for n, v in zip(names, floats, strict=False)}
        grads_bad = norm is not None and floats[-1] != 0
        if grads_bad:
            self._grad_check.reset()
        if not all(_finite(v) for v in losses.values()) or (grads_bad and self.scaler is None):
            # (with a GradScaler inf gradients are expected now and then: it skips the update)
            raise NonFiniteValues(losses, grads_bad)
        self._update(losses)
        return batch, result, losses

    def _run_plain(
        self, state: Any, next_batch: Callable[[], Any], trainer: Any
    ) -> tuple[Any, Result, dict[str, float]]:
        """:meth:`run` for one micro-batch in full precision without DDP (the common case),
        kept free of the context managers and accumulators the general path needs: on a small
        model the trainer's own Python time per step is most of its overhead."""
        batch = next_batch()
        if self._on_device:
            batch = to_device(batch, self.device)
        result = as_result(self.forward(self.train_model, batch))
        total, terms = self._weighted_terms(state.props, batch, result, state, trainer)
        if total is None:
            return batch, result, {}
        total.backward()
        if self.clips or self.finite_check == "loss":
            norm = self._clip_and_check(state.props)
        else:  # nothing to clip: straight to the gradient check
            norm = self._grad_check(self.params)
        losses = {"total": total.item()}
        for name, term in terms.items():
            losses[name] = term.item()
        grads_bad = norm is not None and norm.item() != 0
        # a NaN/inf term with a non-zero weight makes the weighted total NaN/inf
        if grads_bad or not math.isfinite(losses["total"]):
            self._grad_check.reset()
            raise NonFiniteValues(losses, grads_bad)
        self._update(losses)
        return batch, result, losses

    def _update(self, losses: dict[str, float]) -> None:
        """The optimizer step (through the grad scaler with fp16), with the parameter check."""
        if self.finite_check == "params":
            self.snapshot.take_params(self.params, self.optimizer)
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        if self.finite_check == "params" and not params_finite(self.params):
            raise NonFiniteValues(losses, False, after_update=True)

    def _weighted_terms(
        self, props: dict[str, float], batch: Any, result: Result, state: Any, trainer: Any
    ) -> tuple[Tensor | None, dict[str, Tensor]]:
        total: Tensor | None = None
        terms: dict[str, Tensor] = {}
        for name, crit, kind in self.criteria:
            weight = props[name]
            if weight == 0:
                continue
            if kind == "plain":  # the common case, without a dispatch call
                term = crit(batch, result)
            else:
                term = call_criterion(crit, kind, batch, result, state, self.model, trainer)
            terms[name] = term
            total = weight * term if total is None else total + weight * term
        return total, terms

    def _clip_and_check(self, props: dict[str, float]) -> Tensor | None:
        """Clip per ``grad-clip``/``grad-clip-<group>``, then (unless ``finite_check="loss"``)
        a flag that is non-zero when a gradient is NaN/inf (clipping keeps them so: a NaN
        stays NaN, an inf norm turns the infinite entries into NaN)."""
        for params, prop in self.clips:
            limit = props[prop]
            if limit > 0:
                torch.nn.utils.clip_grad_norm_(params, limit)
        if self.finite_check == "loss":
            return None
        return self._grad_check(self.params)
