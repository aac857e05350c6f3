"""Our dopesheet-driven VQ vs vector-quantize-pytorch's ``VectorQuantize``, side by side.

Same encoder/decoder (the digits MLPs of :func:`vq.digits_vqvae`, identically initialised), same
data and batch order (scikit-learn's 8×8 digits), same Adam and learning-rate curve (the
dopesheet's ``lr`` column; it is not a quantizer setting), same number of steps and threads.
Contenders:

- ``vqp defaults``: ``VectorQuantize(dim, codebook_size)`` at its default settings;
- ``vqp dead-code expiry``: the same with ``threshold_ema_dead_code=2`` (its README's value);
- ``ours + dopesheet``: :class:`vq.VectorQuantizer` with ``schedules/vq-curriculum.csv``
  driving temperature, EMA decay, quantization blend, commitment weight and ``refresh``.

Training is interleaved in chunks of ``--chunk`` steps (round robin, the order rotating every
chunk), so machine load hits every contender alike. Reported per contender: utilization (codes
chosen at least once by nearest-code assignment over the training set, eval mode),
perplexity of that assignment, reconstruction quality (1 − MSE/variance on the validation set,
eval mode) and training steps/s, with the ratio of steps/s to ``vqp defaults``. Our loop sets
the schedule's values itself (what :class:`mini.training.Trainer` bindings do) so that steps/s
compares quantizers; ``--trainer`` adds a row for our whole :class:`~mini.training.Trainer`
pipeline (health monitor and metrics log included), run after the others, not interleaved.

Needs the optional extra ``bench`` (``pip install -e '.[bench]'``: vector-quantize-pytorch).

    python -m benchmarks.vq_vs_vector_quantize_pytorch [--latent-dim 16] [--codes 256]
           [--steps N] [--threads 1] [--seed 0] [--chunk 50] [--trainer]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mini.temporal import Dopesheet, Timeline
from vq import Batches, VectorQuantizer, load_digits_split, reconstruction_quality
from vq.metrics import code_counts, perplexity
from vq.models import mlp

SCHEDULE = Path(__file__).resolve().parent.parent / "schedules" / "vq-curriculum.csv"
HIDDEN = (256, 128)


@dataclass(eq=False)
class Contender:
    """One model being trained: ``step(x, step_index)`` trains on a batch, ``quantize(z)``
    returns ``(quantized, codes)`` in eval mode."""

    name: str
    encoder: nn.Module
    decoder: nn.Module
    quantizer: nn.Module
    step: Callable[[Tensor, int], None]
    quantize: Callable[[Tensor], tuple[Tensor, Tensor]]
    seconds: float = 0.0
    steps: int = 0
    results: dict[str, float] = field(default_factory=dict)

    def modules(self) -> list[nn.Module]:
        return [self.encoder, self.quantizer, self.decoder]


def _autoencoder(dim: int, seed: int) -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(seed)
    return mlp([64, *HIDDEN, dim]), mlp([dim, *reversed(HIDDEN), 64])


def _adam(*modules: nn.Module) -> torch.optim.Adam:
    params = [p for m in modules for p in m.parameters() if p.requires_grad]
    return torch.optim.Adam(params, lr=1e-3)


def theirs(name: str, dim: int, codes: int, lrs: list[float], seed: int, **kw) -> Contender:
    from vector_quantize_pytorch import VectorQuantize

    enc, dec = _autoencoder(dim, seed)
    torch.manual_seed(seed + 1)
    vq = VectorQuantize(dim=dim, codebook_size=codes, **kw)
    opt = _adam(enc, vq, dec)

    def step(x: Tensor, i: int) -> None:
        for g in opt.param_groups:
            g["lr"] = lrs[i]
        quantized, _, vq_loss = vq(enc(x))
        loss = F.mse_loss(dec(quantized), x) + vq_loss.sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def quantize(z: Tensor) -> tuple[Tensor, Tensor]:
        quantized, codes_, _ = vq(z)
        return quantized, codes_

    return Contender(name, enc, dec, vq, step, quantize)


def ours(name: str, dim: int, codes: int, timeline: Timeline, seed: int) -> Contender:
    enc, dec = _autoencoder(dim, seed)
    torch.manual_seed(seed + 1)
    vq = VectorQuantizer(dim, codes)
    opt = _adam(enc, vq, dec)
    states = list(timeline)

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
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def quantize(z: Tensor) -> tuple[Tensor, Tensor]:
        out = vq(z)
        return out.quantized, out.codes

    return Contender(name, enc, dec, vq, step, quantize)


@torch.no_grad()
def evaluate(c: Contender, train: Tensor, val: Tensor, codes: int) -> dict[str, float]:
    for m in c.modules():
        m.eval()
    try:
        _, train_codes = c.quantize(c.encoder(train))
        counts = code_counts(train_codes, codes)
        quantized, _ = c.quantize(c.encoder(val))
        quality = reconstruction_quality(val, c.decoder(quantized))
    finally:
        for m in c.modules():
            m.train()
    return {
        "utilization": float((counts > 0).float().mean()),
        "perplexity": perplexity(counts),
        "recon_quality": quality,
    }


def trainer_row(dim: int, codes: int, ds: Dopesheet, seed: int, data) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Our whole pipeline: the example's experiment on the real Trainer (health monitor every
    50 steps with validation, metrics.jsonl in memory, refresh handler)."""
    from vq.experiment import build, make_optimizer

    exp = build(dim, codes, 1, seed=seed)
    trainer = exp.trainer(ds, make_optimizer(exp.model), progress=False, seed=seed)
    result = trainer.fit()
    model = exp.model
    model.eval()
    with torch.no_grad():
        counts = code_counts(model(data.train).extras["codes"], codes)
        quality = reconstruction_quality(data.val, model(data.val).outputs)
    return {
        "utilization": float((counts > 0).float().mean()),
        "perplexity": perplexity(counts),
        "recon_quality": quality,
        "steps_per_second": result.steps_per_second,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--schedule", type=Path, default=SCHEDULE)
    p.add_argument("--latent-dim", type=int, default=16)
    p.add_argument("--codes", type=int, default=256)
    p.add_argument("--steps", type=int, default=None, help="rescale the schedule to N steps")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--chunk", type=int, default=50, help="steps per contender per turn")
    p.add_argument("--expiry-threshold", type=float, default=2.0)
    p.add_argument("--trainer", action="store_true", help="also time our whole Trainer run")
    args = p.parse_args(argv)
    try:
        import vector_quantize_pytorch  # noqa: F401
    except ImportError:
        print(
            "vector-quantize-pytorch is not installed: it is the optional extra 'bench' "
            "(pip install -e '.[bench]'); nothing to compare against.",
            file=sys.stderr,
        )
        return 0
    torch.set_num_threads(args.threads)
    ds = Dopesheet.from_csv(args.schedule)
    if args.steps:
        ds = ds.scaled(args.steps)
    timeline = Timeline(ds)
    n = len(timeline)
    lrs = [s.props["lr"] for s in Timeline(ds)]
    data = load_digits_split(seed=args.seed)
    dim, k = args.latent_dim, args.codes
    contenders = [
        theirs("vqp defaults", dim, k, lrs, args.seed),
        theirs(
            f"vqp dead-code expiry ({args.expiry_threshold:g})",
            dim,
            k,
            lrs,
            args.seed,
            threshold_ema_dead_code=args.expiry_threshold,
        ),
        ours("ours + dopesheet", dim, k, timeline, args.seed),
    ]
    streams = {
        c.name: iter(Batches(data.train, data.train_labels, args.batch_size, seed=args.seed))
        for c in contenders
    }
    print(
        f"{dim}-D latent, {k} codes, {n:,} steps of {args.batch_size}, {args.threads} thread(s), "
        f"seed {args.seed}, chunks of {args.chunk} steps interleaved; schedule {ds.source}"
    )
    for turn, start in enumerate(range(0, n, args.chunk)):
        stop = min(n, start + args.chunk)
        order = contenders[turn % 3 :] + contenders[: turn % 3]
        for c in order:
            batches = [next(streams[c.name])[0] for _ in range(start, stop)]
            t = time.perf_counter()
            for i, x in zip(range(start, stop), batches, strict=True):
                c.step(x, i)
            c.seconds += time.perf_counter() - t
            c.steps += stop - start
    rows = []
    for c in contenders:
        c.results = evaluate(c, data.train, data.val, k)
        c.results["steps_per_second"] = c.steps / c.seconds
        rows.append((c.name, c.results))
    if args.trainer:
        rows.append(("ours, whole Trainer run*", trainer_row(dim, k, ds, args.seed, data)))
    base = contenders[0].results["steps_per_second"]
    header = f"{'':32s} {'utilization':>11s} {'perplexity':>10s} {'recon q.':>8s} "
    print(header + f"{'steps/s':>8s} {'× vqp':>6s}")
    for name, r in rows:
        print(
            f"{name:32s} {r['utilization']:11.3f} {r['perplexity']:10.1f} "
            f"{r['recon_quality']:8.3f} {r['steps_per_second']:8.0f} "
            f"{r['steps_per_second'] / base:6.2f}"
        )
    if args.trainer:
        print("* run alone after the others (not interleaved): includes the Trainer's logging.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
