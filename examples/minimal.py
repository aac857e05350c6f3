"""Your own model, your own dopesheet: a complete dopesheet-driven run in ~20 lines."""

import sys

import torch
from torch.nn import functional as F

from mini.temporal import Dopesheet
from mini.training import PhaseData, Trainer

SCHEDULE = Dopesheet.from_text(
    "STEP,PHASE,lr:log,fit,smooth\n0,warm-up,1e-3,1,0\n100,main,1e-2,,1e-4\n600,,1e-4,,0\n",
    source="minimal.csv",
)


def main(out_dir: str | None = None) -> float:
    torch.manual_seed(0)
    x = torch.linspace(-3, 3, 512).unsqueeze(1)
    y = torch.sin(2 * x)
    model = torch.nn.Sequential(torch.nn.Linear(1, 64), torch.nn.Tanh(), torch.nn.Linear(64, 1))
    loader = torch.utils.data.DataLoader(list(zip(x, y, strict=True)), batch_size=64, shuffle=True)
    criteria = {  # the dopesheet column of the same name is each term's weight
        "fit": lambda batch, result: F.mse_loss(result.outputs, batch[1]),
        "smooth": lambda batch, result: sum(p.pow(2).sum() for p in model.parameters()),
    }
    trainer = Trainer(
        model, torch.optim.Adam(model.parameters()), SCHEDULE, PhaseData(loader, val=(x, y)),
        criteria, out_dir=out_dir,
    )  # fmt: skip
    trainer.fit()
    _, val = trainer.validate()
    print(f"validation mse: {val['fit']:.4f}")
    return val["fit"]


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
