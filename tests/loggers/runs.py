"""A small dopesheet-driven run for the logger tests, with a crash to resume from."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from mini.temporal import Dopesheet
from mini.training import PhaseData, Trainer

SHEET = Dopesheet.from_text(
    "STEP,PHASE,lr:log,fit,smooth\n0,warm,1e-3,1,0\n20,main,1e-2,,1e-4\n59,,1e-4,,0\n",
    source="sheet.csv",
)
PHASE_ENDS = (19, 59)


class Crash(RuntimeError):
    pass


def make_trainer(out_dir=None, loggers=(), crash_at: int | None = None, **kw) -> Trainer:
    torch.manual_seed(0)
    x = torch.linspace(-3, 3, 128).unsqueeze(1)
    y = torch.sin(2 * x)
    model = nn.Sequential(nn.Linear(1, 16), nn.Tanh(), nn.Linear(16, 1))
    loader = torch.utils.data.DataLoader(list(zip(x, y, strict=True)), batch_size=16, shuffle=True)
    criteria = {
        "fit": lambda batch, result: F.mse_loss(result.outputs, batch[1]),
        "smooth": lambda batch, result: sum(p.pow(2).sum() for p in model.parameters()),
    }
    trainer = Trainer(
        model, torch.optim.Adam(model.parameters()), SHEET, PhaseData(loader, val=(x, y)),
        criteria, out_dir=out_dir, progress=False, metrics_every=None, **kw,
    )  # fmt: skip
    for logger in loggers:
        trainer.add(logger)
    if crash_at is not None:

        def crash(event):
            if event.step == crash_at:
                for logger in loggers:
                    logger.flush()  # what was logged past the checkpoint is on disk
                raise Crash(f"crash at step {crash_at}")

        trainer.on("pre-step", crash)
    return trainer


def logged_steps(every: int, lo: int = 0, hi: int = 60) -> list[int]:
    """Steps a logger with ``every`` logs: multiples of ``every`` and the phase ends."""
    return sorted({s for s in range(lo, hi) if s % every == 0 or s in PHASE_ENDS})
