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
from torch import Tensor

from mini.temporal import Dopesheet, Timeline
from mini.training import PhaseData, Trainer
from vq.models import VQAutoencoder, digits_vqvae
from vq.regularizers import orthogonality_penalty, topographic_penalty
from vq.residual import quantizer_levels
from vq.train.criteria import recon_mse, vq_term
from vq.train.data import Batches, Digits, load_digits_split
from vq.train.health import HealthMonitor, RefreshHandler
from vq.train.heldout import evaluate_heldout
from vq.train.wiring import bind_quantizer

ORTHOGONALITY_COLUMN = "reg-orthogonality"
"""The dopesheet column that weights :func:`vq.orthogonality_penalty` (wired when present)."""
TOPOGRAPHIC_COLUMN = "reg-topographic"
"""The dopesheet column that weights :func:`vq.topographic_penalty` (wired when present)."""


@dataclass(eq=False)
class VQExperiment:
    """Everything a VQ-curriculum run wires into a trainer.

    ``criteria`` is keyed by dopesheet property (``recon``, ``commitment``; the trainer adds
    ``reg-orthogonality`` and ``reg-topographic`` when the dopesheet has those columns);
    ``refresh`` re-seeds dead codes on the dopesheet's ``refresh`` actions and/or every
    ``refresh.every`` steps (``None``: never); ``monitor`` records held-out and
    training-window codebook health every ``monitor.every`` steps into ``metrics.jsonl``.
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
        timeline = schedule if isinstance(schedule, Timeline) else Timeline(schedule)
        criteria = dict(self.criteria)
        if ORTHOGONALITY_COLUMN in timeline.dopesheet.specs:
            criteria[ORTHOGONALITY_COLUMN] = orthogonality_penalty(self.model.quantizer)
        if TOPOGRAPHIC_COLUMN in timeline.dopesheet.specs:
            criteria[TOPOGRAPHIC_COLUMN] = topographic_penalty()
        trainer = Trainer(self.model, opt, timeline, PhaseData(self.batches, val), criteria, **kw)
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
    refresh_every: int | None = None,
    **quantizer_kwargs: Any,
) -> VQExperiment:
    """The digits VQ autoencoder (``levels`` residual levels of ``codes`` codes on a
    ``latent_dim`` latent, initialised from ``seed``), its data and handlers.

    The health monitor validates every ``health_every`` steps and warns after
    ``health_patience`` rises in a row: with 3 (the monitor's default) the default curriculum
    warns three times while its commitment ramp nudges the validation loss up by ~5%, which
    is the expected price of quantization, not a fault. ``refresh``: re-seed dead codes on the
    dopesheet's ``refresh`` actions; ``refresh_every``: also every N steps (either alone
    works; neither → no refresh handler). ``quantizer_kwargs`` go to every
    :class:`~vq.VectorQuantizer` (``relaxation``, ``learn``, ``gradient``, ...)."""
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
        refresh=(
            RefreshHandler(
                model.quantizer, every=refresh_every, action="refresh" if refresh else None
            )
            if refresh or refresh_every
            else None
        ),
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


def make_optimizer(model: VQAutoencoder, lr: float = 1e-3) -> torch.optim.Adam:
    """Adam with two named param groups: ``model`` (encoder and decoder) and ``codebook`` (the
    quantizer's trainable parameters). The trainer sets a group named ``g`` from the
    dopesheet's ``lr-<g>`` column when it has one, else from ``lr``, so an ``lr-codebook``
    column gives the codebook its own schedule. EMA codebooks (``learn="ema"``, the default)
    are buffers updated by ``ema-decay``, not by the optimizer: their ``codebook`` group is
    empty and ``lr-codebook`` only matters with ``learn="loss"``. ``fused`` does each update in
    one kernel."""
    codebook = [p for p in model.quantizer.parameters() if p.requires_grad]
    ids = {id(p) for p in codebook}
    rest = [p for p in model.parameters() if p.requires_grad and id(p) not in ids]
    groups = [{"params": rest, "name": "model"}, {"params": codebook, "name": "codebook"}]
    return torch.optim.Adam(groups, lr=lr, fused=True)


def without_actions(dopesheet: Dopesheet, names: Iterable[str]) -> Dopesheet:
    """The same dopesheet with the actions ``names`` removed (e.g. ``{"refresh"}`` for the
    ablation run): every property key and phase stays where it was."""
    drop = set(names)
    d = dopesheet.to_dict()
    for row in d["rows"]:
        row["actions"] = [a for a in row["actions"] if a not in drop]
    d["source"] = f"{dopesheet.source} (without {', '.join(sorted(drop))})"
    return Dopesheet.from_dict(d)


def summarize(model: VQAutoencoder, data: Digits, seed: int = 0) -> dict[str, Any]:
    """The figures of ``summary.json``: held-out under plain keys, the training window under
    ``train_`` keys.

    Held-out (:mod:`vq.train.heldout`, on the validation digits, eval mode, nearest codes):
    ``levels`` (per level ``codes``, ``active``, ``dead``, ``utilization``, ``perplexity``,
    ``orthogonality``), ``utilization`` (mean over levels), ``recon_quality``,
    ``topographic_correlation``, ``orthogonality`` (worst level), ``cross_level_orthogonality``
    (residual VQ) and ``effective_rank``. Training window (the quantizer's usage counts over
    its last ``window`` training steps): ``train_levels`` (``codes``, ``active``,
    ``perplexity``) and ``train_utilization``.
    """
    _, heldout = evaluate_heldout(
        model, model.quantizer, data.val, generator=torch.Generator().manual_seed(seed)
    )
    train_levels = []
    for q in quantizer_levels(model.quantizer):
        h = q.health()
        train_levels.append({"codes": h.codes, "active": h.active, "perplexity": h.perplexity})
    return {
        **heldout.summary(),
        "train_levels": train_levels,
        "train_utilization": sum(lv["active"] / lv["codes"] for lv in train_levels)
        / len(train_levels),
    }


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
