"""Our dopesheet-driven VQ vs vector-quantize-pytorch, side by side, measured on held-out digits.

Same encoder/decoder (the digits MLPs of :func:`vq.digits_vqvae`, identically initialised), same
data and batch order (scikit-learn's 8×8 digits), same Adam (``--adam``) and learning-rate
curve (the dopesheet's ``lr`` column; it is not a quantizer setting), same number of steps and
threads.
Contenders:

- ``vqp VectorQuantize``: ``VectorQuantize(dim, codebook_size)`` at its default settings;
- ``vqp VectorQuantize, expiry``: the same with ``threshold_ema_dead_code=2`` (its README's
  value);
- ``ours VectorQuantizer``: :class:`vq.VectorQuantizer` with ``schedules/vq-curriculum.csv``
  driving temperature, EMA decay, quantization blend, commitment weight, ``refresh`` and the
  weights of :func:`vq.orthogonality_penalty` (``reg-orthogonality``) and
  :func:`vq.topographic_penalty` (``reg-topographic``) when the schedule has those columns (as
  ``python -m examples.vq_curriculum`` wires them);
- ``vqp ResidualVQ`` (``--levels`` levels, defaults) and ``ours ResidualVQ`` (the same
  schedule): the residual quantizers against each other.

Training is interleaved in chunks of ``--chunk`` steps (round robin, the order rotating every
chunk), so machine load hits every contender alike. Every quality number is measured on the
held-out validation digits in eval mode (nearest codes), with :func:`vq.heldout_metrics`'s
definitions: utilization (codes chosen by at least one held-out digit, mean over levels),
perplexity (mean over levels), reconstruction quality (1 − MSE/variance), topographic
correlation (input vs latent distances) and orthogonality (mean ``|cos|`` between the used
codes of the worst level). Training steps/s and its ratio close each
row, as a ratio to the vector-quantize-pytorch contender of the same kind (single or residual),
by wall clock and (``CPU ×``) by the training thread's CPU time, which other processes on a
loaded machine move less (one torch thread: the thread does all the work).
Our loop sets the schedule's values itself (what :class:`mini.training.Trainer` bindings
do) so that steps/s compares quantizers.

Needs the optional extra ``bench`` (``pip install -e '.[bench]'``: vector-quantize-pytorch).

    python -m benchmarks.vq_vs_vector_quantize_pytorch [--latent-dim 16] [--codes 256]
           [--levels 2] [--steps N] [--threads 1] [--seed 0] [--chunk 50] [--adam fused]

``--step-costs STEP`` trains nothing: it times one training step of every contender at
schedule step ``STEP`` on one batch (the training thread's CPU ms, medians of interleaved
rounds), beside the shared encoder and decoder with Adam and no quantizer (the floor every
contender pays) and ours without the regularisers, to show where a step goes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mini.temporal import Dopesheet, State, Timeline
from mini.training.result import Result
from vq import (
    Batches,
    ResidualVQ,
    VectorQuantizer,
    heldout_metrics,
    load_digits_split,
    orthogonality_penalty,
    topographic_penalty,
)
from vq.models import mlp

SCHEDULE = Path(__file__).resolve().parent.parent / "schedules" / "vq-curriculum.csv"
HIDDEN = (256, 128)


@dataclass(eq=False)
class Contender:
    """One model being trained: ``step(x, step_index)`` trains on a batch; ``quantize(z)``
    returns ``(quantized, codes (N, levels))`` in eval mode; ``codebooks()`` one ``(K, D)``
    tensor per level."""

    name: str
    encoder: nn.Module
    decoder: nn.Module
    quantizer: nn.Module
    step: Callable[[Tensor, int], None]
    quantize: Callable[[Tensor], tuple[Tensor, Tensor]]
    codebooks: Callable[[], list[Tensor]]
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    steps: int = 0

    def modules(self) -> list[nn.Module]:
        return [self.encoder, self.quantizer, self.decoder]


@dataclass
class Row:
    """One contender's held-out figures and training speed."""

    name: str
    utilization: float
    perplexity: float
    recon_quality: float
    topographic_correlation: float
    orthogonality: float
    steps_per_second: float
    levels: list[dict[str, float]] = field(default_factory=list)
    cpu_steps_per_second: float = 0.0


def _autoencoder(dim: int, seed: int) -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(seed)
    return mlp([64, *HIDDEN, dim]), mlp([dim, *reversed(HIDDEN), 64])


ADAM = {"fused": {"fused": True}, "foreach": {"foreach": True}, "for-loop": {"foreach": False}}
"""``--adam``: torch's Adam implementations (the same one for every contender)."""


def _adam(adam: str, *modules: nn.Module) -> torch.optim.Adam:
    params = [p for m in modules for p in m.parameters() if p.requires_grad]
    return torch.optim.Adam(params, lr=1e-3, **ADAM[adam])


def theirs(
    name: str, dim: int, codes: int, levels: int, lrs: list[float], seed: int, adam: str, **kw
) -> Contender:
    from vector_quantize_pytorch import ResidualVQ as TheirResidualVQ
    from vector_quantize_pytorch import VectorQuantize

    enc, dec = _autoencoder(dim, seed)
    torch.manual_seed(seed + 1)
    if levels == 1:
        vq = VectorQuantize(dim=dim, codebook_size=codes, **kw)
    else:
        vq = TheirResidualVQ(dim=dim, num_quantizers=levels, codebook_size=codes, **kw)
    opt = _adam(adam, enc, vq, dec)

    def step(x: Tensor, i: int) -> None:
        for g in opt.param_groups:
            g["lr"] = lrs[i]
        quantized, _, vq_loss = vq(enc(x))
        loss = F.mse_loss(dec(quantized), x) + vq_loss.sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def quantize(z: Tensor) -> tuple[Tensor, Tensor]:
        quantized, indices, _ = vq(z)
        return quantized, indices.reshape(len(z), -1)

    def codebooks() -> list[Tensor]:
        return [vq.codebook] if levels == 1 else list(vq.codebooks)

    return Contender(name, enc, dec, vq, step, quantize, codebooks)


def ours(
    name: str, dim: int, codes: int, levels: int, states: list[State], seed: int, adam: str
) -> Contender:
    enc, dec = _autoencoder(dim, seed)
    torch.manual_seed(seed + 1)
    vq = VectorQuantizer(dim, codes) if levels == 1 else ResidualVQ(levels, dim, codes)
    opt = _adam(adam, enc, vq, dec)
    regularizers = {
        "reg-orthogonality": orthogonality_penalty(vq),
        "reg-topographic": topographic_penalty(),
    }

    def step(x: Tensor, i: int) -> None:
        state = states[i]
        props = state.props
        if "refresh" in state.actions:
            vq.refresh()
        for g in opt.param_groups:
            g["lr"] = props["lr"]
        vq.temperature = props["temperature"]
        vq.decay = props["ema-decay"]
        blend, commitment = props["vq-blend"], props["commitment"]
        z = enc(x)
        out = vq(z)
        decoded_from = out.quantized if blend >= 1 else torch.lerp(z, out.quantized, blend)
        loss = props["recon"] * F.mse_loss(dec(decoded_from), x)
        if commitment > 0:
            loss = loss + commitment * out.losses["commitment"]
        for column, penalty in regularizers.items():
            weight = props.get(column, 0.0)
            if weight > 0:
                loss = loss + weight * penalty(x, Result(x, z, {"codes": out.codes}))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def quantize(z: Tensor) -> tuple[Tensor, Tensor]:
        out = vq(z)
        return out.quantized, out.codes.reshape(len(z), -1)

    def codebooks() -> list[Tensor]:
        levels_ = [vq] if isinstance(vq, VectorQuantizer) else list(vq.quantizers)
        return [q.codebook for q in levels_]

    return Contender(name, enc, dec, vq, step, quantize, codebooks)


def _as_quantizers(codebooks: list[Tensor]) -> VectorQuantizer | ResidualVQ:
    """Our quantizer objects holding a contender's codebooks, so that
    :func:`vq.heldout_metrics` measures every contender with one definition."""
    levels = []
    for cb in codebooks:
        q = VectorQuantizer(cb.shape[1], cb.shape[0], kmeans_init=False)
        with torch.no_grad():
            q.codebook.copy_(cb.detach().reshape(q.codebook.shape))
        levels.append(q)
    return levels[0] if len(levels) == 1 else ResidualVQ(levels)


@torch.no_grad()
def evaluate(c: Contender, val: Tensor) -> dict[str, object]:
    """Held-out figures of a contender (eval mode, nearest codes)."""
    for m in c.modules():
        m.eval()
    try:
        z = c.encoder(val)
        quantized, codes = c.quantize(z)
        result = Result(c.decoder(quantized), z, {"codes": codes})
        m = heldout_metrics(_as_quantizers(c.codebooks()), val, result)
    finally:
        for mod in c.modules():
            mod.train()
    return {
        "utilization": m.utilization,
        "perplexity": sum(lv.perplexity for lv in m.levels) / len(m.levels),
        "recon_quality": m.recon_quality,
        "topographic_correlation": m.topographic_correlation,
        "orthogonality": m.orthogonality,
        "levels": [{"active": lv.active, "orthogonality": lv.orthogonality} for lv in m.levels],
    }


def arguments(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--schedule", type=Path, default=SCHEDULE)
    p.add_argument("--latent-dim", type=int, default=16)
    p.add_argument("--codes", type=int, default=256)
    p.add_argument("--levels", type=int, default=2, help="levels of the two residual VQs")
    p.add_argument("--steps", type=int, default=None, help="rescale the schedule to N steps")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--chunk", type=int, default=50, help="steps per contender per turn")
    p.add_argument("--expiry-threshold", type=float, default=2.0)
    p.add_argument(
        "--step-costs",
        type=int,
        default=None,
        metavar="STEP",
        help="time one step of each contender at schedule step STEP instead of training",
    )
    p.add_argument("--rounds", type=int, default=9, help="rounds of --step-costs")
    p.add_argument(
        "--adam",
        choices=sorted(ADAM),
        default="fused",
        help="torch's Adam implementation, the same for every contender (default fused: the "
        "fastest on CPUs; the for-loop one costs every contender the same few ms a step)",
    )
    return p.parse_args(argv)


def run(args: argparse.Namespace) -> list[Row]:
    """Train every contender interleaved and measure each on the held-out digits."""
    torch.set_num_threads(args.threads)
    ds = Dopesheet.from_csv(args.schedule)
    if args.steps:
        ds = ds.scaled(args.steps)
    states = list(Timeline(ds))
    n = len(states)
    lrs = [s.props["lr"] for s in states]
    data = load_digits_split(seed=args.seed)
    dim, k, levels, seed, adam = args.latent_dim, args.codes, args.levels, args.seed, args.adam
    contenders = [
        theirs("vqp VectorQuantize", dim, k, 1, lrs, seed, adam),
        theirs(
            f"vqp VectorQuantize, expiry {args.expiry_threshold:g}",
            dim,
            k,
            1,
            lrs,
            seed,
            adam,
            threshold_ema_dead_code=args.expiry_threshold,
        ),
        ours("ours VectorQuantizer", dim, k, 1, states, seed, adam),
        theirs(f"vqp ResidualVQ ×{levels}", dim, k, levels, lrs, seed, adam),
        ours(f"ours ResidualVQ ×{levels}", dim, k, levels, states, seed, adam),
    ]
    streams = {
        c.name: iter(Batches(data.train, data.train_labels, args.batch_size, seed=seed))
        for c in contenders
    }
    print(
        f"{dim}-D latent, {k} codes (per level), {n:,} steps of {args.batch_size}, "
        f"{args.threads} thread(s), seed {seed}, chunks of {args.chunk} steps interleaved, "
        f"{adam} Adam; "
        f"schedule {ds.source}; quality on {len(data.val)} held-out digits"
    )
    for turn, start in enumerate(range(0, n, args.chunk)):
        stop = min(n, start + args.chunk)
        shift = turn % len(contenders)
        for c in contenders[shift:] + contenders[:shift]:
            batches = [next(streams[c.name])[0] for _ in range(start, stop)]
            t, cpu = time.perf_counter(), time.thread_time()
            for i, x in zip(range(start, stop), batches, strict=True):
                c.step(x, i)
            c.seconds += time.perf_counter() - t
            c.cpu_seconds += time.thread_time() - cpu
            c.steps += stop - start
    return [
        Row(
            c.name,
            **evaluate(c, data.val),  # type: ignore[arg-type]
            steps_per_second=c.steps / c.seconds,
            cpu_steps_per_second=c.steps / max(c.cpu_seconds, 1e-9),
        )
        for c in contenders
    ]


def step_costs(args: argparse.Namespace) -> dict[str, float]:
    """CPU ms of one training step of each contender at schedule step ``args.step_costs``
    (medians over ``args.rounds`` interleaved rounds of 20 steps on one batch)."""
    torch.set_num_threads(args.threads)
    states = list(Timeline(Dopesheet.from_csv(args.schedule)))
    i = min(args.step_costs, len(states) - 1)
    lrs = [s.props["lr"] for s in states]
    unregularized = [
        replace(s, props={**s.props, "reg-orthogonality": 0.0, "reg-topographic": 0.0})
        for s in states
    ]
    x = load_digits_split(seed=args.seed).train[: args.batch_size]
    dim, k, levels, seed, adam = args.latent_dim, args.codes, args.levels, args.seed, args.adam
    enc, dec = _autoencoder(dim, seed)
    opt = _adam(adam, enc, dec)

    def autoencoder_only(x: Tensor, _: int) -> None:
        loss = F.mse_loss(dec(enc(x)), x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    steps: dict[str, Callable[[Tensor, int], None]] = {
        "encoder + decoder + Adam only": autoencoder_only,
        "vqp VectorQuantize": theirs("", dim, k, 1, lrs, seed, adam).step,
        "ours VectorQuantizer": ours("", dim, k, 1, states, seed, adam).step,
        "ours VectorQuantizer, no regularisers": ours(
            "", dim, k, 1, unregularized, seed, adam
        ).step,
        f"vqp ResidualVQ ×{levels}": theirs("", dim, k, levels, lrs, seed, adam).step,
        f"ours ResidualVQ ×{levels}": ours("", dim, k, levels, states, seed, adam).step,
        f"ours ResidualVQ ×{levels}, no regularisers": ours(
            "", dim, k, levels, unregularized, seed, adam
        ).step,
    }
    for step in steps.values():
        step(x, 0)  # k-means seeding and warm-up
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(args.rounds):
        for name, step in steps.items():
            for _ in range(2):
                step(x, i)
            t = time.thread_time()
            for _ in range(20):
                step(x, i)
            times[name].append((time.thread_time() - t) / 20 * 1e3)
    return {name: statistics.median(v) for name, v in times.items()}


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    try:
        import vector_quantize_pytorch  # noqa: F401
    except ImportError:
        print(
            "vector-quantize-pytorch is not installed: it is the optional extra 'bench' "
            "(pip install -e '.[bench]'); nothing to compare against.",
            file=sys.stderr,
        )
        return 0
    if args.step_costs is not None:
        print(f"CPU ms per training step at schedule step {args.step_costs} ({args.rounds} rounds)")
        for name, ms in step_costs(args).items():
            print(f"{name:42s} {ms:6.2f}")
        return 0
    rows = run(args)
    print(
        f"{'(held-out)':34s} {'util.':>6s} {'perpl.':>7s} {'recon q.':>8s} {'topogr.':>7s} "
        f"{'orthog.':>7s} {'steps/s':>8s} {'× vqp':>6s} {'CPU ×':>6s}"
    )
    for r in rows:
        residual = "Residual" in r.name  # the baseline: the first contender of its kind
        base = next(b for b in rows if ("Residual" in b.name) == residual)
        print(
            f"{r.name:34s} {r.utilization:6.3f} {r.perplexity:7.1f} {r.recon_quality:8.3f} "
            f"{r.topographic_correlation:7.3f} {r.orthogonality:7.3f} "
            f"{r.steps_per_second:8.0f} {r.steps_per_second / base.steps_per_second:6.2f} "
            f"{r.cpu_steps_per_second / base.cpu_steps_per_second:6.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
