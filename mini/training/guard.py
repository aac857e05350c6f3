"""The non-finite guard: stop at the first NaN/inf and keep the state from before that step.

Every step the trainer takes a cheap snapshot before anything of the step runs: the torch RNG
state (CPU, and CUDA once initialised), the data iterators' positions, and copies of the model's
buffers (running statistics and EMA
codebooks change during the forward pass; parameters and optimizer state only change in
``optimizer.step()``, which a failing step never reaches). When the loss or a gradient is not
finite, the fault checkpoint is built from that snapshot, so resuming from it replays the failing
step exactly — same batch, same random numbers — after you change what caused it.

numpy's and Python's global RNGs are not snapshot (reading numpy's state costs ~100 µs, a tenth
of a small model's step): the trainer draws from torch only, and so do the examples' samplers;
a step that draws from numpy/python and then fails resumes with those generators already moved.

``check="params"`` also checks the parameters after each update and, to keep the fault state
exact in that case, copies the parameters before each update (costs one copy of the weights a
step; the default ``"grads"`` costs a norm of the gradients).
"""

from __future__ import annotations

import copy
from typing import Any, Literal

import torch
from torch import Tensor, nn

EXTRA_STATE = "_extra_state"  # torch's state_dict key for get_extra_state()
FiniteCheck = Literal["loss", "grads", "params"]
FINITE_CHECKS: tuple[FiniteCheck, ...] = ("loss", "grads", "params")


class NonFiniteLossError(RuntimeError):
    """A loss, gradient or parameter became NaN/inf. ``checkpoint`` holds the state from before
    the failing step (resuming from it replays that step exactly)."""

    def __init__(self, message: str, step: int, phase: str | None, terms: list[str], checkpoint):
        super().__init__(message)
        self.step, self.phase, self.terms, self.checkpoint = step, phase, terms, checkpoint


class PreStepSnapshot:
    """What a step may change before its optimizer update, captured at its start."""

    def __init__(self, model: nn.Module, check: FiniteCheck):
        if check not in FINITE_CHECKS:
            raise ValueError(f"check must be one of {FINITE_CHECKS}, got {check!r}")
        self.model = model
        self.check = check
        self._buffer_names = [name for name, _ in model.named_buffers()]
        self._live: list[Tensor] = [b for _, b in model.named_buffers()]
        self._copies: list[Tensor] = []
        # modules with Python-side state saved through torch's get/set_extra_state protocol
        self._extra = [
            (prefix, m) for prefix, m in model.named_modules()
            if type(m).get_extra_state is not nn.Module.get_extra_state
        ]  # fmt: skip
        self._extra_state: dict[str, Any] = {}
        self._params: list[Tensor] = []
        self._optimizer: Any = None
        self.rng: tuple[Any, ...] | None = None
        self.data: tuple[int, tuple[Any, ...] | None] | None = None

    def take(self, data_state: tuple[int, tuple[Any, ...] | None]) -> None:
        """At the start of a step: ``data_state`` is the drawn iterator's
        (``PhaseIterators.cycle_state``)."""
        cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
        self.rng = (torch.get_rng_state(), None, None, cuda)  # numpy/python: see the module doc
        self.data = data_state
        if self._live:
            named = list(self.model.named_buffers())
            live = [b for _, b in named]
            if list(map(id, live)) != list(map(id, self._live)):  # a module replaced a buffer
                self._buffer_names, self._live, self._copies = [n for n, _ in named], live, []
            if self._copies:
                torch._foreach_copy_(self._copies, [b.detach() for b in live])
            else:
                self._copies = [b.detach().clone() for b in live]
        if self._extra:
            self._extra_state = {p: copy.deepcopy(m.get_extra_state()) for p, m in self._extra}

    def take_params(self, params: list[Tensor], optimizer: torch.optim.Optimizer) -> None:
        """Before ``optimizer.step()`` (``check="params"`` only): weights and optimizer state."""
        if not self._params:
            self._params = [p.detach().clone() for p in params]
        else:
            torch._foreach_copy_(self._params, [p.detach() for p in params])
        self._optimizer = _clone(optimizer.state_dict())

    def optimizer_state(self, optimizer: torch.optim.Optimizer, after_update: bool) -> Any:
        """The optimizer's state dict as it was at the start of the step."""
        if after_update and self._optimizer is not None:
            return self._optimizer
        return _clone(optimizer.state_dict())

    def model_state(self, params: list[Tensor], after_update: bool) -> dict[str, Tensor]:
        """The model's state dict as it was at the start of the step."""
        state = {k: _clone(v) for k, v in self.model.state_dict().items()}
        state.update(zip(self._buffer_names, (c.clone() for c in self._copies), strict=False))
        for prefix, extra in self._extra_state.items():
            state[f"{prefix}.{EXTRA_STATE}" if prefix else EXTRA_STATE] = extra
        if after_update and self._params:
            index = {id(p): i for i, p in enumerate(params)}
            for name, p in self.model.named_parameters():
                i = index.get(id(p))
                if i is not None:
                    state[name] = self._params[i].clone()
        return state


def _clone(obj: Any) -> Any:
    if isinstance(obj, Tensor):
        return obj.detach().clone()
    if isinstance(obj, dict):
        return {k: _clone(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(_clone(v) for v in obj)
    return obj


class GradCheck:
    """Whether any gradient is NaN/inf, in one fused op: the check a ``GradScaler`` runs before
    each update (``_amp_foreach_non_finite_check_and_unscale_`` with a scale of exactly 1, so
    the gradients are unchanged). ~2 µs a step on CPU, a fifth of a concatenate-and-reduce.
    Returns a tensor (non-zero when a gradient is not finite) so the caller reads it in the
    same synchronisation as the losses."""

    def __init__(self) -> None:
        self._found: Tensor | None = None
        self._one: Tensor | None = None
        self._fused: bool | None = None  # decided on the first call (devices, sparsity)

    def __call__(self, params: list[Tensor]) -> Tensor | None:
        grads = [p.grad for p in params if p.grad is not None]
        if not grads:
            return None
        if self._fused is None:
            device = grads[0].device
            self._fused = all(g.device == device and not g.is_sparse for g in grads)
            self._found = torch.zeros(1, device=device)
            self._one = torch.ones(1, device=device)
        if not self._fused:  # mixed devices or sparse gradients: the generic check
            biggest = grad_max(params)
            return None if biggest is None else (~torch.isfinite(biggest)).float()
        assert self._found is not None
        # Only ever set on a fault, after which the step raises: reset() clears it then, so the
        # hot path needs no zero_() of its own.
        torch._amp_foreach_non_finite_check_and_unscale_(grads, self._found, self._one)
        return self._found

    def reset(self) -> None:
        if self._found is not None:
            self._found.zero_()


def grad_max(params: list[Tensor]) -> Tensor | None:
    """The largest |gradient| (a tensor, not synchronised; ``None`` without gradients): finite
    exactly when every gradient is. (A 2-norm would overflow for large but finite gradients.)
    One concatenation and one reduction: the cheapest form for the many small tensors of the
    models here (~a third of ``_foreach_norm``'s cost)."""
    grads = [p.grad.reshape(-1) for p in params if p.grad is not None]
    if not grads:
        return None
    return torch.cat(grads).abs().max()


def params_finite(params: list[Tensor]) -> bool:
    norms = torch._foreach_norm([p.detach() for p in params], float("inf"))
    return bool(torch.isfinite(torch.stack(norms)).all())


def non_finite_error(
    state: Any, losses: dict[str, float], grads: bool, after_update: bool, path: Any
) -> NonFiniteLossError:
    """The error for a step whose loss, gradients or updated parameters were not finite, naming
    the step, the phase, the culprit and where the state from before the step was saved."""
    bad = [k for k, v in losses.items() if k != "total" and not _finite(v)]
    listing = ", ".join(f"{k}={v:.3g}" for k, v in losses.items())
    if bad:
        where = ", ".join(f"term {k!r} = {losses[k]} (weight {state.props[k]:g})" for k in bad)
    elif not _finite(losses.get("total", 0.0)):
        where = f"the weighted sum (terms: {listing})"
    elif grads:
        where = f"the gradients (the loss was finite: {listing})"
    else:
        where = "the parameters after the optimizer step (learning rate too high?)"
    saved = (
        f"The state from before this step is saved in {path}; resuming from it replays this "
        "step exactly."
        if path
        else "No checkpoint written (no out_dir)."
    )
    terms = bad or (["total"] if not _finite(losses.get("total", 0.0)) else ["gradients"])
    return NonFiniteLossError(
        f"non-finite values at step {state.step} in phase {state.phase!r}: {where}. {saved}",
        state.step, state.phase, terms, path,
    )  # fmt: skip


def _finite(v: float) -> bool:
    return v == v and v not in (float("inf"), float("-inf"))
