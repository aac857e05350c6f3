"""The example's flags reach what they name: --refresh-every, --relaxation, --learn, --targets;
the optimizer's named param groups and the ``lr-codebook`` column."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
import torch

from examples import vq_curriculum
from mini.temporal import Dopesheet
from vq.train.experiment import ORTHOGONALITY_COLUMN, TOPOGRAPHIC_COLUMN, build, make_optimizer

SCHEDULES = Path(__file__).parents[2] / "schedules"

SHEET = """STEP,PHASE,ACTION,lr:log,lr-codebook,recon,vq-blend,temperature:log,commitment,ema-decay
0,Warm-up,,2e-3,0,1,1,1e-4,0.25,0.99
29,,,2e-4,0,,,,,
"""


def test_refresh_every_reaches_the_refresh_handler(tmp_path: Path) -> None:
    args = vq_curriculum.arguments(["--refresh-every", "7", "--out", str(tmp_path)])
    exp = vq_curriculum.experiment(args)
    assert exp.refresh is not None and exp.refresh.every == 7
    assert exp.refresh.action == "refresh"
    only_periodic = vq_curriculum.experiment(
        vq_curriculum.arguments(["--refresh-every", "5", "--no-refresh"])
    )
    assert only_periodic.refresh is not None and only_periodic.refresh.action is None
    assert vq_curriculum.experiment(vq_curriculum.arguments(["--no-refresh"])).refresh is None


def test_refresh_every_fires_on_its_steps_in_a_run(tmp_path: Path) -> None:
    common = ["--steps", "60", "--no-video", "--batch-size", "64", "--health-every", "30"]
    vq_curriculum.main([*common, "--no-refresh", "--refresh-every", "20", "--out", str(tmp_path)])
    records = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    refreshed = [r["step"] for r in records if "vq/refreshed" in r.get("extras", {})]
    assert refreshed == [0, 20, 40]


def test_quantizer_flags_reach_every_level() -> None:
    args = vq_curriculum.arguments(
        ["--relaxation", "gumbel", "--learn", "loss", "--gradient", "rotation", "--levels", "3"]
    )
    exp = vq_curriculum.experiment(args)
    levels = list(exp.model.quantizer.quantizers)
    assert len(levels) == 3
    assert {(q.relaxation, q.learn, q.gradient) for q in levels} == {("gumbel", "loss", "rotation")}


def test_bad_relaxation_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        vq_curriculum.arguments(["--relaxation", "hard"])
    assert exit_info.value.code == 2
    assert "--relaxation" in capsys.readouterr().err


def test_targets_preset_sets_defaults_that_flags_override() -> None:
    preset = vq_curriculum.arguments(["--targets"])
    for key, value in vq_curriculum.TARGETS_CONFIG.items():
        assert getattr(preset, key) == value, key
    assert preset.schedule == SCHEDULES / "vq-targets.csv"
    overridden = vq_curriculum.arguments(["--levels", "3", "--targets", "--codes", "8"])
    assert (overridden.levels, overridden.codes) == (3, 8)
    assert overridden.latent_dim == vq_curriculum.TARGETS_CONFIG["latent_dim"]
    plain = vq_curriculum.arguments([])
    assert (plain.levels, plain.codes, plain.latent_dim) == (2, 16, 2)


def test_targets_schedule_weights_both_regularisers(tmp_path: Path) -> None:
    ds = Dopesheet.from_csv(SCHEDULES / "vq-targets.csv")
    assert {ORTHOGONALITY_COLUMN, TOPOGRAPHIC_COLUMN} <= set(ds.specs)
    weights = [v for _, v in ds.keyframes(ORTHOGONALITY_COLUMN)]
    assert weights[0] == 0 and max(weights) > 0  # off while the autoencoder warms up
    exp = build(4, 4, 2, hidden=(8,))
    trainer = exp.trainer(ds.scaled(100), progress=False)
    assert {ORTHOGONALITY_COLUMN, TOPOGRAPHIC_COLUMN} <= set(trainer.criteria)
    without = (  # a schedule without the regularisers' columns
        "STEP,lr:log,recon,vq-blend,temperature:log,commitment,ema-decay\n"
        "0,1e-3,1,1,1,0.25,0.99\n99\n"
    )
    plain = build(4, 4, 2, hidden=(8,)).trainer(Dopesheet.from_text(without), progress=False)
    assert set(plain.criteria) == {"recon", "commitment"}


def test_check_targets_compares_each_held_out_value() -> None:
    summary = {
        "recon_quality": 0.95, "utilization": 0.5, "orthogonality": 0.1,
        "topographic_correlation": 0.9,
    }  # fmt: skip
    checked = vq_curriculum.check_targets(summary)
    assert {k: v["met"] for k, v in checked.items()} == {
        "recon_quality": True, "utilization": False, "orthogonality": True,
        "topographic_correlation": True,
    }  # fmt: skip
    assert checked["orthogonality"]["target"] == "< 0.25"


# -- param groups ------------------------------------------------------------------------------
def test_optimizer_has_named_model_and_codebook_groups() -> None:
    exp = build(2, 4, 2, hidden=(8,), learn="loss")
    opt = make_optimizer(exp.model)
    groups = {g["name"]: g["params"] for g in opt.param_groups}
    assert set(groups) == {"model", "codebook"}
    codebooks = [q.codebook for q in exp.model.quantizer.quantizers]
    assert len(groups["codebook"]) == 2
    assert all(any(p is c for p in groups["codebook"]) for c in codebooks)
    n_model = sum(1 for _ in exp.model.encoder.parameters()) + sum(
        1 for _ in exp.model.decoder.parameters()
    )
    assert len(groups["model"]) == n_model
    ema = make_optimizer(build(2, 4, 2, hidden=(8,)).model)
    assert [len(g["params"]) for g in ema.param_groups if g["name"] == "codebook"] == [0]


def test_lr_codebook_drives_the_codebook_group_only(tmp_path: Path) -> None:
    """lr-codebook 0: the loss-learned codebook stays put while the encoder trains at lr."""
    exp = build(2, 4, 1, hidden=(8,), batch_size=32, learn="loss", kmeans_init=False)
    opt = make_optimizer(exp.model)
    codebook = exp.model.quantizer.codebook.detach().clone()
    encoder = [p.detach().clone() for p in exp.model.encoder.parameters()]
    trainer = exp.trainer(Dopesheet.from_text(SHEET), opt, progress=False, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # lr-codebook counts as read
        trainer.fit()
    lrs = {g["name"]: g["lr"] for g in opt.param_groups}
    assert lrs == {"model": pytest.approx(2e-4), "codebook": 0.0}
    assert torch.equal(exp.model.quantizer.codebook.detach(), codebook)
    moved = [
        not torch.equal(a, b.detach())
        for a, b in zip(encoder, exp.model.encoder.parameters(), strict=True)
    ]
    assert all(moved)
