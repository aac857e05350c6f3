"""The categorical tokenizer under the trainer: the dopesheet drives the assignment, resume is
exact, and a checkpoint alone gives tokens."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from mini.temporal import Dopesheet, Timeline
from mini.training import load_checkpoint
from vq.tokenizer.run import build
from vq.tokenizer.synthetic import synthetic_table
from vq.tokenizer.tokens import load_tokenizer, save_tokens

SCHEDULE = Path(__file__).parents[2] / "schedules" / "categorical-vq.csv"


def make_run(mode: str = "learnable", **kw):
    table = synthetic_table(n_samples=300, group_sizes=(3, 3), distractors=1, seed=1)
    return build(table, mode, max_categories=3, latent_dim=2, levels=2, codes=8, hidden=8,
                 batch_size=64, eval_every=10, frame_every=5, **kw)  # fmt: skip


def timeline(steps: int = 60) -> Timeline:
    return Timeline(Dopesheet.from_csv(SCHEDULE).scaled(steps))


def test_the_temperature_column_reaches_the_assignment_every_step() -> None:
    run = make_run()
    trainer = run.trainer(timeline(), progress=False, metrics_every=None)
    seen: list[tuple[float, float, float]] = []

    def check(event) -> None:
        a = run.model.assignment
        seen.append((event.state.props["assign-temperature"], a.temperature, run.model.leak_noise))
        assert run.model.leak_noise == event.state.props["assign-noise"]

    trainer.on("step-metrics", check)
    trainer.fit()
    assert len(seen) == 60
    assert all(prop == used for prop, used, _ in seen)
    temps = [t for t, _, _ in seen]
    assert temps[0] == 1.0 and temps[-1] == pytest.approx(0.1) and len(set(temps)) > 20


def test_the_assignment_param_group_follows_lr_assign() -> None:
    run = make_run()
    trainer = run.trainer(timeline(), progress=False, metrics_every=None)
    groups = {g["name"]: g for g in trainer.optimizer.param_groups}
    assert groups["assign"]["params"] == [run.model.assignment.logits]
    lrs: list[tuple[float, float, float, float]] = []
    trainer.on("step-metrics", lambda e: lrs.append((
        groups["assign"]["lr"], e.state.props["lr-assign"], groups["model"]["lr"], e.state.props["lr"],
    )))  # fmt: skip
    trainer.fit()
    assert all(a == pa and m == pm for a, pa, m, pm in lrs)
    assert lrs[0][0] != lrs[0][2]  # the two groups really have different rates


def test_harden_action_makes_the_assignment_hard_and_the_best_checkpoint_follows(
    tmp_path: Path,
) -> None:
    run = make_run()
    trainer = run.trainer(timeline(), out_dir=tmp_path, progress=False)
    hard_steps = []
    trainer.on("step-metrics", lambda e: run.model.assignment.hard and hard_steps.append(e.step))
    trainer.fit()
    harden = [s for s, a in trainer.timeline.dopesheet.actions if a == "harden"]
    assert hard_steps[0] == harden[0]
    # val_score is recorded only for hard states, so best.pt is a tokenizer
    assert trainer.best is not None and trainer.best["step"] >= harden[0]
    assert load_checkpoint(tmp_path / "checkpoints" / "best.pt")["model"][
        "assignment.hardened"
    ].item()


def test_static_mode_drops_the_assignment_columns() -> None:
    run = make_run("static")
    trainer = run.trainer(timeline(), progress=False, metrics_every=None)
    props = trainer.timeline.dopesheet.specs
    assert not any(p.startswith("assign-") or p.endswith("-assign") for p in props)
    assert [g["name"] for g in trainer.optimizer.param_groups] == ["model"]
    trainer.fit()
    assert run.model.assignment.hard


def test_resume_is_bit_identical_to_an_uninterrupted_learnable_run(tmp_path: Path) -> None:
    full = make_run()
    full.trainer(timeline(), out_dir=tmp_path / "full", progress=False, seed=0).fit()

    part = make_run()
    trainer = part.trainer(timeline(), out_dir=tmp_path / "part", progress=False,
                           checkpoint_every=25, seed=0)  # fmt: skip
    trainer.fit()
    mid = tmp_path / "part" / "checkpoints" / "step-0000025.pt"
    resumed = make_run()
    resumed.trainer(timeline(), out_dir=tmp_path / "resumed", progress=False, seed=5).fit(
        resume=mid
    )

    a, b = full.model.state_dict(), resumed.model.state_dict()
    assert a.keys() == b.keys()
    for key in a:  # tensors bit for bit; extra states (the quantizers' counters) equal
        same = torch.equal(a[key], b[key]) if isinstance(a[key], torch.Tensor) else a[key] == b[key]
        assert same, key
    assert resumed.evaluator.history == full.evaluator.history
    assert resumed.frames.steps == full.frames.steps


def test_encode_from_a_checkpoint_round_trips(tmp_path: Path) -> None:
    run = make_run()
    run.trainer(timeline(), out_dir=tmp_path, progress=False).fit()
    tok = load_tokenizer(tmp_path / "checkpoints")  # the checkpoint alone: no training data
    table = run.split.table
    codes = tok.encode(table)
    assert codes.shape == (len(table.values), tok.model.n_categories, 2)
    assert sum(len(v) for v in tok.categories().values()) == len(table.features)
    # decode(tokens) is the model's reconstruction, in the table's units
    run.model.assignment.hard = True
    pruned, _ = run.model.pruned()
    pruned.eval()
    with torch.no_grad():
        x = tok.normalise(table.values)
        expected = pruned(x).outputs.double() * tok.spec.std + tok.spec.mean
    np.testing.assert_allclose(tok.decode(codes), expected.numpy(), rtol=1e-5, atol=1e-5)
    path = save_tokens(tmp_path / "tokens.npz", tok, codes)
    with np.load(path) as npz:
        assert np.array_equal(npz["tokens"], codes)
        assert list(npz["features"]) == table.features
        assert len(npz["categories"]) == tok.model.n_categories
