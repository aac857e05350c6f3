"""The VQ curriculum's pieces, built in one call so that the runnable example stays short.

``build()`` returns the digits VQ autoencoder, its data, the criteria (named like the
dopesheet's properties) and the codebook handlers; :meth:`VQExperiment.trainer` wires them into
a :class:`~mini.training.Trainer`. ``summarize()`` computes the figures of ``summary.json``,
``without_actions()`` strips actions (``refresh``) from a dopesheet for an ablation run, and
``codebook_probe()`` is the :class:`~mini.training.LatentRecorder` function behind the video.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from mini.temporal import Dopesheet, Timeline
from mini.training import PhaseData, Trainer
from vq.criteria import recon_mse, vq_term
from vq.data import Batches, Digits, load_digits_split
from vq.health import HealthMonitor, RefreshHandler, quantizer_levels
from vq.metrics import effective_rank, reconstruction_quality
from vq.models import VQAutoencoder, digits_vqvae
from vq.wiring import bind_quantizer


@dataclass(eq=False)
class VQExperiment:
    """Everything a VQ-curriculum run wires into a trainer.

    ``criteria`` is keyed by dopesheet property (``recon``, ``commitment``); ``refresh`` re-seeds
    dead codes on the dopesheet's ``refresh`` actions (``None``: never); ``monitor`` records
    codebook health every ``monitor.every`` steps into ``metrics.jsonl``.
    """

    model: VQAutoencoder
    data: Digits
    batches: Batches
    criteria: dict[str, Callable[..., Tensor]]
    monitor: HealthMonitor
    refresh: RefreshHandler | None

    def trainer(
        self, schedule: Timeline | Dopesheet, optimizer: torch.optim.Optimizer | None = None, **kw
    ) -> Trainer:
        """A :class:`Trainer` running this experiment on ``schedule`` (``kw`` go to the trainer:
        ``out_dir``, ``checkpoint_every``, ``progress``, ...). Health alarms start once the
        decoder sees only quantized latents (:func:`quantized_from`): while quantization is
        blended in, a rising validation loss is the expected price, not an alarm."""
        opt = optimizer or make_optimizer(self.model)
        val = (self.data.val, self.data.val_labels)
        trainer = Trainer(
            self.model, opt, schedule, PhaseData(self.batches, val), self.criteria, **kw
        )
        bind_quantizer(trainer, self.model)
        self.monitor.start_step = quantized_from(trainer.timeline.dopesheet)
        trainer.add(self.monitor)
        if self.refresh is not None:
            trainer.add(self.refresh)
        return trainer


def build(
    latent_dim: int = 2,
    codes: int = 16,
    levels: int = 2,
    *,
    seed: int = 0,
    batch_size: int = 256,
    hidden: Sequence[int] = (256, 128),
    health_every: int = 50,
    health_patience: int = 5,
    refresh: bool = True,
    **quantizer_kwargs: Any,
) -> VQExperiment:
    """The digits VQ autoencoder (``levels`` residual levels of ``codes`` codes on a
    ``latent_dim`` latent, initialised from ``seed``), its data and handlers.

    The health monitor validates every ``health_every`` steps and warns after
    ``health_patience`` rises in a row: with 3 (the monitor's default) the default curriculum
    warns three times while its commitment ramp nudges the validation loss up by ~5%, which
    is the expected price of quantization, not a fault."""
    data = load_digits_split(seed=seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = digits_vqvae(latent_dim, codes, levels, hidden=hidden, **quantizer_kwargs)
    val = (data.val, data.val_labels)
    return VQExperiment(
        model=model,
        data=data,
        batches=Batches(data.train, data.train_labels, batch_size, seed=seed),
        criteria={"recon": recon_mse, "commitment": vq_term("commitment")},
        monitor=HealthMonitor(
            model.quantizer,
            every=health_every,
            patience=health_patience,
            validation=val,
            seed=seed,
        ),
        refresh=RefreshHandler(model.quantizer) if refresh else None,
    )


def quantized_from(dopesheet: Dopesheet) -> int:
    """The first step at which the ``vq-blend`` property reaches 1 (0 without the column):
    a property holds its first key's value before it and moves monotonically between keys, so
    that is the step of its first key at or above 1."""
    if "vq-blend" not in dopesheet.specs:
        return 0
    keys = dopesheet.keyframes("vq-blend")
    reached = [i for i, (_, value) in enumerate(keys) if value >= 1.0]
    if not reached:
        return dopesheet.last_step + 1
    return 0 if reached[0] == 0 else keys[reached[0]][0]


def make_optimizer(model: nn.Module, lr: float = 1e-3) -> torch.optim.Adam:
    """Adam over the trainable parameters (the EMA codebooks are buffers). ``fused`` does each
    update in one kernel, as in the colour example; the trainer sets ``lr`` every step."""
    params = [p for p in model.parameters() if p.requires_grad]
    return torch.optim.Adam(params, lr=lr, fused=True)


def without_actions(dopesheet: Dopesheet, names: Iterable[str]) -> Dopesheet:
    """The same dopesheet with the actions ``names`` removed (e.g. ``{"refresh"}`` for the
    ablation run): every property key and phase stays where it was."""
    drop = set(names)
    d = dopesheet.to_dict()
    for row in d["rows"]:
        row["actions"] = [a for a in row["actions"] if a not in drop]
    d["source"] = f"{dopesheet.source} (without {', '.join(sorted(drop))})"
    return Dopesheet.from_dict(d)


@torch.no_grad()
def summarize(model: VQAutoencoder, data: Digits) -> dict[str, Any]:
    """The figures of ``summary.json``.

    ``levels``: per level, its codes and the active codes and perplexity over the quantizer's
    usage window (the last ``window`` training steps, as the health monitor sees them);
    ``utilization``: active/codes averaged over levels; ``recon_quality`` (1 − MSE/variance)
    and ``effective_rank`` of the pre-quantization latents on the validation digits, in eval
    mode (nearest codes).
    """
    was_training = model.training
    model.eval()
    try:
        result = model(data.val)
        levels = []
        for q in quantizer_levels(model.quantizer):
            h = q.health()
            levels.append({"codes": h.codes, "active": h.active, "perplexity": h.perplexity})
        return {
            "levels": levels,
            "utilization": sum(lv["active"] / lv["codes"] for lv in levels) / len(levels),
            "recon_quality": reconstruction_quality(data.val, result.outputs),
            "effective_rank": effective_rank(result.latents),
        }
    finally:
        model.train(was_training)


def codebook_probe(model: VQAutoencoder, probe: Tensor) -> dict[str, Tensor]:
    """What a video frame needs (a :class:`~mini.training.LatentRecorder` ``fn``, called in
    eval mode, so the quantizer neither learns nor counts usage here): the probe's encoder
    outputs ``latents`` and nearest ``codes`` ``(P, levels)``; per level ``i`` its codebook
    ``codebook/i`` and ``active/i`` (1 where the code was used in the usage window, else 0) —
    before the first training step no code has been used, so every code starts hollow."""
    z = model.encoder(probe)
    codes = model.quantizer(z).codes
    out = {"latents": z, "codes": codes.reshape(len(probe), -1)}
    for i, q in enumerate(quantizer_levels(model.quantizer)):
        out[f"codebook/{i}"] = q.codebook
        out[f"active/{i}"] = (q.usage_counts() >= q.dead_threshold).float()
    return out
