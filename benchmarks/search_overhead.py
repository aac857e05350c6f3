"""What the search adds, and what a second worker buys (issue 22).

1. Overhead: ``mini.search.search`` (journal storage in the search folder, the dopesheet filled
   per trial, trials.csv / summary.json / best.csv written at the end; plots and the progress
   bar off) against a bare Optuna loop (in-memory study, same TPE seed, same distributions)
   whose objective fills the same sheet and calls the same run function. Rounds alternate the
   two sides (and which goes first); the ratio is the median of the per-round ratios. Target: ≤ 1.05.
2. Workers: the same search with 1 and with 2 workers (processes sharing the study), trials
   per hour each, alternating; target ≥ 1.6× with 2 workers on 2 cores.

The run function trains a 64→64→10 MLP on the digits for 601 steps (one torch thread)
under the searched learning-rate schedule, so a trial costs what a short real trial costs.

Run: ``nice -n 10 python -m benchmarks.search_overhead [--trials N] [--rounds R] [--worker-trials N]``
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
from pathlib import Path

import torch

from mini.search import search
from mini.temporal import Dopesheet, Timeline

SPACE = """STEP,lr:log,wd
0,?1e-3..3e-2,?{0 1e-4 1e-3}
?100..400,?1e-3..3e-2,
600,?1e-4..3e-3,
"""


def _digits() -> tuple[torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    return torch.as_tensor(x, dtype=torch.float32) / 16, torch.as_tensor(y)


IN_RUN = [0.0]  # seconds spent inside the run function (this process)


def train(ds: Dopesheet, reporter=None) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """A short, real trial: an MLP on the digits under the sheet's lr schedule."""
    t0 = time.perf_counter()
    try:
        return _train(ds)
    finally:
        IN_RUN[0] += time.perf_counter() - t0


def _train(ds: Dopesheet) -> dict[str, float]:
    torch.set_num_threads(1)
    x, y = _digits()
    gen = torch.Generator().manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss = torch.tensor(0.0)
    for state in Timeline(ds):
        for g in opt.param_groups:
            g["lr"], g["weight_decay"] = state.props["lr"], state.props["wd"]
        idx = torch.randint(0, len(x) - 300, (64,), generator=gen)
        loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        acc = (model(x[-300:]).argmax(1) == y[-300:]).float().mean().item()
    return {"accuracy": acc, "loss": loss.item()}


def ours(sheet: Dopesheet, trials: int, folder: Path, workers: int = 1) -> float:
    IN_RUN[0] = 0.0
    t0 = time.perf_counter()
    search(sheet, train, "accuracy:max", trials, out=folder, seed=0, workers=workers,
           progress=False, plots=False)  # fmt: skip
    return time.perf_counter() - t0


def bare(sheet: Dopesheet, trials: int) -> float:
    import optuna

    from mini.search.optuna_backend import distributions

    assert sheet.search is not None
    dists = distributions(sheet.search)
    IN_RUN[0] = 0.0
    t0 = time.perf_counter()
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=0))

    def objective(trial: optuna.Trial) -> float:
        values = {name: _suggest(trial, name, d) for name, d in dists.items()}
        return train(sheet.with_values(values))["accuracy"]

    study.optimize(objective, n_trials=trials)
    return time.perf_counter() - t0


def _suggest(trial, name, d):  # type: ignore[no-untyped-def]
    """What a user's bare Optuna objective would write for each cell."""
    import optuna

    if isinstance(d, optuna.distributions.CategoricalDistribution):
        return trial.suggest_categorical(name, d.choices)
    if isinstance(d, optuna.distributions.IntDistribution):
        return trial.suggest_int(name, d.low, d.high)
    return trial.suggest_float(name, d.low, d.high, log=d.log)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=12)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--worker-trials", type=int, default=12)
    p.add_argument("--skip-workers", action="store_true")
    args = p.parse_args()
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(1)
    sheet = Dopesheet.from_text(SPACE, source="space.csv")
    train(sheet.with_values(sheet.search.nominal()))  # warm the caches (digits, torch)  # type: ignore[union-attr]
    ratios, runs, o_ours, o_bare = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            if r % 2:  # alternate which side goes first
                b = bare(sheet, args.trials)
                run_b = IN_RUN[0]
            a = ours(sheet, args.trials, Path(tmp) / f"o{r}")
            run_a = IN_RUN[0]
            if not r % 2:
                b = bare(sheet, args.trials)
                run_b = IN_RUN[0]
            ratios.append(a / b)
            runs += [run_a / args.trials, run_b / args.trials]
            o_ours.append((a - run_a) / args.trials)
            o_bare.append((b - run_b) / args.trials)
            print(f"round {r}: ours {a:.2f} s ({o_ours[-1] * 1e3:.0f} ms/trial outside the run), "
                  f"bare Optuna {b:.2f} s ({o_bare[-1] * 1e3:.0f} ms/trial), wall ratio {a / b:.3f}",
                  flush=True)  # fmt: skip
        trial = statistics.median(runs)
        oa, ob = statistics.median(o_ours), statistics.median(o_bare)
        print(f"wall time: median ratio {statistics.median(ratios):.3f} over {args.rounds} rounds "
              f"of {args.trials} trials (the load moves single rounds by a third)")  # fmt: skip
        print(f"outside the run function: ours {oa * 1e3:.0f} ms/trial, bare Optuna "
              f"{ob * 1e3:.0f} ms/trial; with the median trial ({trial:.2f} s) that is a ratio of "
              f"{(trial + oa) / (trial + ob):.3f}")  # fmt: skip
        if args.skip_workers:
            return
        speedups = []
        for r in range(args.rounds):
            if r % 2:
                two = ours(sheet, args.worker_trials, Path(tmp) / f"w2-{r}", workers=2)
            one = ours(sheet, args.worker_trials, Path(tmp) / f"w1-{r}", workers=1)
            if not r % 2:
                two = ours(sheet, args.worker_trials, Path(tmp) / f"w2-{r}", workers=2)
            speedups.append(one / two)
            print(f"round {r}: 1 worker {args.worker_trials / one * 3600:.0f} trials/h, 2 workers "
                  f"{args.worker_trials / two * 3600:.0f} trials/h, ×{one / two:.2f}", flush=True)  # fmt: skip
        print(f"workers: 2 workers finish ×{statistics.median(speedups):.2f} the trials per hour "
              f"of 1 (median of {args.rounds} rounds of {args.worker_trials} trials)")  # fmt: skip


if __name__ == "__main__":
    main()
