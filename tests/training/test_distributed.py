"""The trainer under ``torchrun`` with 2 CPU processes (gloo): ranks stay identical, and a
2-process run with batch B/2 per rank matches the 1-process run with batch B."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("distributed_worker.py")


def launch(scenario: str, out: Path, steps: int, procs: int) -> list[dict]:
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    if procs == 1:
        cmd = [sys.executable, str(WORKER), scenario, str(out), str(steps)]
    else:
        cmd = [
            sys.executable, "-m", "torch.distributed.run", "--standalone",
            f"--nproc_per_node={procs}", str(WORKER), scenario, str(out), str(steps),
        ]  # fmt: skip
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [torch.load(out / f"rank{r}.pt", weights_only=True) for r in range(procs)]


def same_weights(a: dict, b: dict) -> bool:
    def same(x, y):  # tensors bit for bit; extra states (python counters) equal
        return torch.equal(x, y) if isinstance(x, torch.Tensor) else x == y

    return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)


@pytest.mark.slow
def test_two_processes_match_one_process_with_the_same_global_batch(tmp_path):
    one = launch("mlp", tmp_path / "one", 150, 1)[0]
    r0, r1 = launch("mlp", tmp_path / "two", 150, 2)
    assert r0["world"] == 2 and same_weights(r0["model"], r1["model"])
    assert torch.equal(r0["losses"], r1["losses"])  # averaged across ranks: one curve
    assert torch.allclose(r0["losses"], one["losses"], rtol=1e-4, atol=1e-7)
    for k, v in one["model"].items():
        assert torch.allclose(r0["model"][k], v, rtol=1e-3, atol=1e-5), k


@pytest.mark.slow
def test_a_distributed_sampler_loader_is_each_ranks_share_reshuffled_each_pass(tmp_path):
    r0, r1 = launch("sampler", tmp_path, 20, 2)  # 8 batches of 32 a pass on each rank
    assert same_weights(r0["model"], r1["model"])
    assert r0["seen"].shape == (20, 32)  # the rank's whole batch: not sliced again
    first = torch.cat([r0["seen"][:8].flatten(), r1["seen"][:8].flatten()])
    assert sorted(first.tolist()) == list(range(512))  # the two shares cover the data once
    assert not torch.equal(r0["seen"][:8], r0["seen"][8:16])  # set_epoch: a new order


@pytest.mark.slow
def test_ranks_hold_identical_weights_and_anchors(tmp_path):
    r0, r1 = launch("color", tmp_path, 240, 2)
    assert same_weights(r0["model"], r1["model"])
    assert r0["captured_at"] == r1["captured_at"] is not None
    assert torch.equal(r0["anchors"], r1["anchors"])


@pytest.mark.slow
def test_vq_codebooks_stay_identical_and_the_curve_follows_one_process(tmp_path):
    """EMA statistics summed over ranks, k-means and refresh from rank 0: codebooks (buffers)
    and weights identical on both ranks; the loss curve close to the 1-process run's (codes are
    sampled per rank while the temperature is high, so not bit-identical)."""
    one = launch("vq", tmp_path / "one", 300, 1)[0]
    r0, r1 = launch("vq", tmp_path / "two", 300, 2)
    # weights, codebooks, EMA statistics and usage windows agree; only the rings of recent
    # inputs are per rank (a refresh gathers them from every rank)
    local = [k for k in r0["model"] if k.endswith("recent_buf")]
    assert local and same_weights(
        *({k: v for k, v in r["model"].items() if k not in local} for r in (r0, r1))
    )
    assert any("codebook" in k for k in r0["model"])
    a, b = r0["losses"], one["losses"]
    assert torch.allclose(a[:20], b[:20], rtol=1e-4)  # the first steps: same batches, same init
    # after that each rank samples its own codes while the temperature is high, so the curves
    # drift apart like two seeds of one run: measured 1.9% (here) to 7.0% (CI) at most over a
    # 30-step window. Identical codebooks across ranks are checked bit for bit above; this
    # checks the 2-process run learns like the 1-process one.
    smooth = lambda x: x.unfold(0, 30, 30).mean(1)  # noqa: E731
    assert torch.allclose(smooth(a), smooth(b), rtol=0.15)


@pytest.mark.slow
def test_a_stalled_rank_ends_every_rank_with_a_message_and_exit_2(tmp_path):
    """Ranks started by hand (torchrun would kill the survivors itself): rank 1 stalls past the
    collective timeout; rank 0 times out, rank 1 then finds rank 0 gone. Both: exit 2, a message,
    no traceback."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    procs = []
    for rank in range(2):
        env = {
            **os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "RANK": str(rank),
            "LOCAL_RANK": str(rank), "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(port), "DOPESHEET_DIST_TIMEOUT": "4",
        }  # fmt: skip
        procs.append(subprocess.Popen(
            [sys.executable, str(WORKER), "stall", str(tmp_path), "40"], cwd=REPO, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        ))  # fmt: skip
    outs = [p.communicate(timeout=300) for p in procs]
    for rank, (p, (_, err)) in enumerate(zip(procs, outs, strict=True)):
        flat = " ".join(err.split())
        assert p.returncode == 2, f"rank {rank}: exit {p.returncode}\n{err[-2000:]}"
        assert "Traceback" not in err and f"rank {rank}:" in flat, err[-2000:]
