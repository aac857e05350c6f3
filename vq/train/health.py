"""Trainer handlers that watch and repair codebooks: :class:`HealthMonitor`, :class:`RefreshHandler`.

Both take the quantizer they look after and subscribe themselves with ``attach(trainer)``.
Held-out metrics (plain ``vq/...`` names) come from :mod:`vq.train.heldout`; numbers measured on
training batches are named ``vq/train/...``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, get_args

import torch
from torch import Tensor, nn

from mini.training.criteria import batch_inputs, default_forward
from mini.training.modes import eval_mode
from mini.training.result import Result, as_result
from vq.metrics import effective_rank, reconstruction_quality, topographic_correlation
from vq.quantizer import VectorQuantizer
from vq.residual import ResidualVQ, quantizer_levels
from vq.train.criteria import recon_mse
from vq.train.heldout import HeldOutMetrics, heldout_metrics

if TYPE_CHECKING:
    from mini.training.events import Event

log = logging.getLogger(__name__)

OnAlarm = Literal["warn", "stop"]
ON_ALARM: tuple[str, ...] = get_args(OnAlarm)


def _default_forward(model: nn.Module, batch: Any) -> Result:
    return as_result(default_forward(model, batch))


class HealthMonitor:
    """Records codebook health every ``every`` steps (and at every phase end, so the run's last
    step is always measured) and raises alarms.

    Subscribe with ``attach(trainer)``. With a ``validation`` batch (the held-out split) each
    call evaluates the model on it in eval mode, without gradients, and records the held-out
    metrics of :mod:`vq.train.heldout` under plain names: per level ``i`` ``vq/l{i}/active``,
    ``/dead``, ``/utilization``, ``/perplexity``, ``/orthogonality``; ``vq/utilization``
    (mean over levels), ``vq/orthogonality`` (worst level), ``vq/cross_level_orthogonality``
    (residual VQ), ``vq/recon_quality``, ``vq/topographic``, ``vq/effective_rank`` and
    ``vq/val_loss``. Training-side numbers always go under ``vq/train/``: the usage window over
    the last ``window`` training batches (``vq/train/l{i}/active`` …, ``vq/train/utilization``)
    and, on the step's training batch, ``vq/train/recon_quality``, ``vq/train/topographic`` and
    ``vq/train/effective_rank``.

    Alarms: a level's training-window utilization under ``usage_floor`` (the codes a refresh
    can revive; a small held-out split cannot reach every code of a large codebook); the
    latents' effective rank (held-out when there is a validation batch) under ``rank_floor`` of
    the way from 1 (a line) to the latent size; the validation loss rising ``patience``
    evaluations in a row. Each alarm is logged as a warning when its condition starts (not on
    every check); with ``on_alarm="stop"`` the monitor calls ``trainer.stop(reason)`` instead.
    No alarms before ``start_step`` (e.g. while a warm-up phase runs without quantization).

    ``validation_loss(batch, result)`` defaults to the reconstruction MSE; ``forward(model,
    batch)`` to ``model(inputs)``; ``threshold``: uses for a held-out code to count as active.

    Args:
        quantizer: the quantizer to watch.
        every: measure every N steps (and at every phase end).
        usage_floor: alarm when a level's training-window utilization is below this.
        rank_floor: alarm when the latents' effective rank is below this share of the way from 1 to
            the latent size.
        patience: alarm when the validation loss rises this many evaluations in a row.
        validation: the held-out batch.
        validation_loss: ``validation_loss(batch, result)`` (default: reconstruction MSE).
        forward: ``forward(model, batch)`` (default ``model(inputs)``).
        on_alarm: ``"warn"`` or ``"stop"`` (the run).
        start_step: no alarms before this step.
        sample: rows for the topographic correlation.
        threshold: uses for a held-out code to count as active.
        seed: seeds the sampling.
    """

    def __init__(
        self,
        quantizer: VectorQuantizer | ResidualVQ,
        *,
        every: int = 50,
        usage_floor: float = 0.5,
        rank_floor: float = 0.1,
        patience: int = 3,
        validation: Any = None,
        validation_loss: Callable[[Any, Result], Tensor] = recon_mse,
        forward: Callable[[nn.Module, Any], Result] = _default_forward,
        on_alarm: OnAlarm = "warn",
        start_step: int = 0,
        sample: int = 512,
        threshold: float = 1.0,
        seed: int = 0,
    ):
        if on_alarm not in ON_ALARM:
            raise ValueError(f"on_alarm must be one of {ON_ALARM}, got {on_alarm!r}")
        if every < 1 or patience < 1:
            raise ValueError("every and patience must be >= 1")
        self.quantizer = quantizer
        self.every = every
        self.usage_floor = usage_floor
        self.rank_floor = rank_floor
        self.patience = patience
        self.validation = validation
        self.validation_loss = validation_loss
        self.forward = forward
        self.on_alarm = on_alarm
        self.start_step = start_step
        self.sample = sample
        self.threshold = threshold
        self._gen = torch.Generator().manual_seed(seed)
        self.val_losses: list[float] = []
        self.rises = 0
        self.alarms: list[tuple[int, str]] = []
        self._active: set[str] = set()
        self.last: dict[str, float] = {}
        self.heldout: HeldOutMetrics | None = None

    def attach(self, trainer: Any) -> None:
        trainer.on("step-metrics", self)  # filters to every N-th step and phase ends itself

    # -- measuring ------------------------------------------------------------------------------
    def measure(self, batch: Any = None, result: Result | None = None) -> dict[str, float]:
        """Training-side numbers (``vq/train/...``): the usage windows, plus latent metrics on
        the step's batch and result when given.

        Args:
            batch: the step's training batch.
            result: the model's output on it.
        """
        out: dict[str, float] = {}
        utils = []
        for i, q in enumerate(quantizer_levels(self.quantizer)):
            h = q.health()
            utils.append(h.utilization)
            out[f"vq/train/l{i}/active"] = h.active
            out[f"vq/train/l{i}/dead"] = h.dead
            out[f"vq/train/l{i}/utilization"] = h.utilization
            out[f"vq/train/l{i}/perplexity"] = h.perplexity
        out["vq/train/utilization"] = sum(utils) / len(utils)
        if result is not None and result.latents is not None:
            z = result.latents.detach()
            z = z.reshape(-1, z.shape[-1])
            if z.shape[0] > self.sample:
                z_sample = z[torch.randperm(z.shape[0], generator=self._gen)[: self.sample]]
            else:
                z_sample = z
            out["vq/train/effective_rank"] = effective_rank(z_sample)
            if batch is not None:
                x = batch_inputs(batch).detach()
                if x.shape[0] == z.shape[0]:
                    out["vq/train/topographic"] = topographic_correlation(
                        x, z, self.sample, generator=self._gen
                    )
                if result.outputs.shape == x.shape:
                    out["vq/train/recon_quality"] = reconstruction_quality(
                        x, result.outputs.detach()
                    )
        return out

    def evaluate(self, model: nn.Module) -> tuple[float, HeldOutMetrics | None]:
        """Validation loss and held-out metrics on the fixed batch (model in eval mode, without
        gradients, then restored); no metrics for a model whose result has neither
        ``extras["codes"]`` nor ``latents``.

        Args:
            model: the model.
        """
        with eval_mode(model):
            result = self.forward(model, self.validation)
            loss = float(self.validation_loss(self.validation, result))
            if result.latents is None and "codes" not in result.extras:
                return loss, None
            metrics = heldout_metrics(
                self.quantizer, batch_inputs(self.validation), result,
                threshold=self.threshold, sample=self.sample, generator=self._gen,
            )  # fmt: skip
        return loss, metrics

    def validate(self, model: nn.Module) -> float:
        """Validation loss on the fixed batch (model in eval mode, then restored).

        Args:
            model: the model.
        """
        return self.evaluate(model)[0]

    # -- the handler ----------------------------------------------------------------------------
    def __call__(self, event: Event) -> None:
        if event.step % self.every and not event.state.is_phase_end:
            return
        trainer = event.trainer
        metrics = self.measure(event.batch, event.result)
        if self.validation is not None:
            val, self.heldout = self.evaluate(trainer.model)
            if self.heldout is not None:
                metrics.update(self.heldout.records())
            if self.val_losses and val > self.val_losses[-1]:
                self.rises += 1
            else:
                self.rises = 0
            self.val_losses.append(val)
            metrics["vq/val_loss"] = val
        self.last = metrics
        trainer.record(**metrics)
        if event.step >= self.start_step:
            self._check(metrics, event)

    def _check(self, metrics: dict[str, float], event: Event) -> None:
        conditions: dict[str, str] = {}
        for i, _ in enumerate(quantizer_levels(self.quantizer)):
            u = metrics[f"vq/train/l{i}/utilization"]
            if u < self.usage_floor:
                conditions[f"usage/{i}"] = (
                    f"level {i} codebook utilization {u:.2f} is under the floor "
                    f"{self.usage_floor:.2f}"
                )
        erank = metrics.get("vq/effective_rank", metrics.get("vq/train/effective_rank"))
        dim = quantizer_levels(self.quantizer)[0].dim
        if erank is not None and dim > 1 and not math.isnan(erank):
            spread = (erank - 1.0) / (dim - 1.0)
            if spread < self.rank_floor:
                conditions["rank"] = (
                    f"latent effective rank {erank:.2f} of {dim} has collapsed (under "
                    f"{1 + self.rank_floor * (dim - 1):.2f})"
                )
        if self.rises >= self.patience:
            conditions["validation"] = (
                f"validation loss rose {self.rises} evaluations in a row "
                f"(now {self.val_losses[-1]:.4g})"
            )
        new = [k for k in conditions if k not in self._active]
        self._active = set(conditions)
        for key in new:
            reason = f"step {event.step}: {conditions[key]}"
            self.alarms.append((event.step, reason))
            log.warning("codebook health: %s", reason)
        if self.on_alarm == "stop" and conditions:
            event.trainer.stop("; ".join(conditions.values()))

    # -- checkpoints ----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "val_losses": list(self.val_losses),
            "rises": self.rises,
            "alarms": [list(a) for a in self.alarms],
            "active": sorted(self._active),
            "generator": self._gen.get_state().tolist(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.val_losses = [float(v) for v in state["val_losses"]]
        self.rises = int(state["rises"])
        self.alarms = [(int(s), str(r)) for s, r in state["alarms"]]
        self._active = set(state["active"])
        self._gen.set_state(torch.tensor(state["generator"], dtype=torch.uint8))


class RefreshHandler:
    """Re-seeds dead codes every ``every`` steps and/or whenever the dopesheet fires ``action``.

    ``usage_threshold``: a code used fewer times than this in its quantizer's usage window is
    dead (default: the quantizer's ``dead_threshold``). The periodic refresh waits until a
    quantizer has filled its usage window once, so codes are not judged on a step or two;
    a dopesheet action always refreshes. Records ``vq/refreshed`` (codes re-seeded, all levels).

    Args:
        quantizer: the quantizer whose dead codes to re-seed.
        every: refresh every N steps (``None``: only on the action).
        usage_threshold: uses below which a code is dead (default: the quantizer's
            ``dead_threshold``).
        action: the dopesheet action that refreshes (``None``: none).
    """

    def __init__(
        self,
        quantizer: VectorQuantizer | ResidualVQ,
        *,
        every: int | None = None,
        usage_threshold: float | None = None,
        action: str | None = "refresh",
    ):
        if every is None and action is None:
            raise ValueError("give every, action, or both")
        if every is not None and every < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        self.quantizer = quantizer
        self.every = every
        self.usage_threshold = usage_threshold
        self.action = action
        self.refreshed = 0

    def attach(self, trainer: Any) -> None:
        if self.every is not None:
            trainer.on("step-metrics", self, every=self.every)
        if self.action is not None:
            trainer.on(f"action:{self.action}", self, optional=True)  # also fired at runtime

    def refresh(self, periodic: bool = False) -> list[int]:
        """Refresh every level now; returns how many codes each level re-seeded.

        Args:
            periodic: an ``every``-steps refresh (levels whose usage window is not yet full are
                skipped).
        """
        counts = []
        for q in quantizer_levels(self.quantizer):
            if periodic and q.tracked_steps < q.window:
                counts.append(0)
                continue
            counts.append(int(q.refresh(self.usage_threshold).numel()))
        self.refreshed += sum(counts)
        return counts

    def __call__(self, event: Event) -> None:
        periodic = event.action is None
        counts = self.refresh(periodic=periodic)
        if sum(counts):
            log.info("step %d: refreshed dead codes per level %s", event.step, counts)
        event.trainer.record(**{"vq/refreshed": sum(counts)})

    def state_dict(self) -> dict[str, Any]:
        return {"refreshed": self.refreshed}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.refreshed = int(state["refreshed"])
