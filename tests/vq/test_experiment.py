"""vq.train.experiment: the example's wiring, the refresh ablation, summary figures, the video probe."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from mini.temporal import Dopesheet, Timeline
from vq import ResidualVQ, quantizer_levels, reconstruction_quality, topographic_correlation
from vq.metrics import codebook_orthogonality
from vq.train.experiment import build, codebook_probe, quantized_from, summarize, without_actions

SCHEDULES = Path(__file__).parents[2] / "schedules"

SHEET = """STEP,PHASE,ACTION,lr:log,recon,vq-blend,temperature:log,commitment,ema-decay
0,Warm-up,snapshot,2e-3,1,0,1.0,0,0.9
20,Soft,refresh;snapshot,,,1,,0.25,
30,,refresh,,,,,,
40,Hard,refresh,,,,1e-4,,0.99
59,,,2e-4,,,,,
"""


def test_without_actions_drops_only_the_named_actions() -> None:
    ds = Dopesheet.from_text(SHEET)
    out = without_actions(ds, {"refresh"})
    assert out.actions == [(0, "snapshot"), (20, "snapshot")]
    assert [(p.name, p.start, p.end) for p in out.phases] == [
        (p.name, p.start, p.end) for p in ds.phases
    ]
    assert out.specs == ds.specs and out.n_steps == ds.n_steps
    for prop in ds.specs:
        assert out.keyframes(prop) == ds.keyframes(prop)
    assert "without refresh" in out.source
    assert [s.actions for s in Timeline(out)] == [
        tuple(a for a in s.actions if a != "refresh") for s in Timeline(ds)
    ]


def test_without_actions_of_a_missing_action_changes_nothing() -> None:
    ds = Dopesheet.from_text(SHEET)
    assert without_actions(ds, {"no-such-action"}) == ds


def _run(tmp_path: Path, refresh: bool, schedule: str = SHEET) -> tuple:
    exp = build(2, 8, 2, hidden=(16,), batch_size=32, health_every=10, refresh=refresh)
    ds = Dopesheet.from_text(schedule)
    if not refresh:
        ds = without_actions(ds, {"refresh"})
    trainer = exp.trainer(ds, out_dir=tmp_path, progress=False, seed=0)
    trainer.fit()
    records = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    return exp, trainer, records


def test_trainer_binds_the_quantizer_and_refreshes_on_the_actions(tmp_path: Path) -> None:
    exp, _, records = _run(tmp_path, refresh=True)
    assert exp.model.blend == 1.0 and exp.model.quantizer.temperature == pytest.approx(1e-4)
    assert exp.model.quantizer.decay == pytest.approx(0.99)
    refreshed = [r["step"] for r in records if "vq/refreshed" in r.get("extras", {})]
    assert refreshed == [20, 30, 40]
    health = [r["step"] for r in records if "vq/l1/active" in r.get("extras", {})]
    phase_ends = [19, 39, 59]  # measured at every phase end too, so the last step always is
    assert health == sorted({*range(0, 60, 10), *phase_ends})
    assert all("vq/train/l1/active" in r["extras"] for r in records if r["step"] in health)
    assert exp.monitor.start_step == 20  # alarms once the decoder sees quantized latents only


def test_without_refresh_no_refresh_event_reaches_the_run(tmp_path: Path) -> None:
    exp, trainer, records = _run(tmp_path, refresh=False)
    assert exp.refresh is None
    assert not trainer.bus.has("action:refresh")
    assert all("vq/refreshed" not in r.get("extras", {}) for r in records)


def test_summarize_plain_keys_are_held_out_and_train_keys_the_usage_window() -> None:
    exp = build(2, 8, 2, hidden=(16,))
    model, data = exp.model, exp.data
    model.train()
    for _ in range(5):
        model(data.train[:64])
    s = summarize(model, data)
    assert model.training  # restored
    levels = quantizer_levels(model.quantizer)
    model.eval()
    with torch.no_grad():
        result = model(data.val)
    held_out_codes = result.extras["codes"]
    for i, lv in enumerate(s["levels"]):
        used = torch.unique(held_out_codes[:, i])
        assert (lv["codes"], lv["active"], lv["dead"]) == (8, len(used), 8 - len(used))
        assert lv["orthogonality"] == pytest.approx(
            codebook_orthogonality(levels[i].codebook[used])
        )
    assert s["utilization"] == pytest.approx(sum(lv["active"] for lv in s["levels"]) / 16)
    assert s["orthogonality"] == max(lv["orthogonality"] for lv in s["levels"])
    assert [lv["active"] for lv in s["train_levels"]] == [q.health().active for q in levels]
    assert s["train_utilization"] == pytest.approx(
        sum(lv["active"] for lv in s["train_levels"]) / 16
    )
    assert s["recon_quality"] == pytest.approx(reconstruction_quality(data.val, result.outputs))
    assert s["topographic_correlation"] == pytest.approx(
        topographic_correlation(data.val, result.latents, sample=len(data.val))
    )
    assert 0.0 <= s["cross_level_orthogonality"] <= 1.0
    assert 1.0 <= s["effective_rank"] <= 2.0


def test_codebook_probe_returns_latents_codebooks_and_active_masks() -> None:
    exp = build(2, 8, 2, hidden=(16,))
    model = exp.model
    assert isinstance(model.quantizer, ResidualVQ)
    probe = exp.data.val[:50]
    model.eval()  # as the LatentRecorder calls it
    before = codebook_probe(model, probe)
    assert before["latents"].shape == (50, 2)
    assert torch.equal(before["codes"], model.quantizer(before["latents"]).codes)
    assert before["codes"].shape == (50, 2)
    assert before["codebook/0"].shape == before["codebook/1"].shape == (8, 2)
    assert before["active/0"].sum() == 0  # nothing used before training
    model.train()
    with torch.no_grad():
        model(exp.data.train[:200])
    model.eval()
    after = codebook_probe(model, probe)
    assert torch.equal(after["codes"], model.quantizer(model.encoder(probe)).codes)
    for i, q in enumerate(quantizer_levels(model.quantizer)):
        expected = (q.usage_counts() >= q.dead_threshold).float()
        assert torch.equal(after[f"active/{i}"], expected)
        assert torch.equal(after[f"codebook/{i}"], q.codebook)
    assert after["active/0"].sum() > 0


def test_shipped_hard_codes_schedule_keeps_codes_hard_throughout() -> None:
    """The ablation schedule: the curriculum's phases, blend, commitment and refreshes, with the
    temperature at the quantizer's hard threshold from step 0 (no soft-code phase)."""
    hard = Dopesheet.from_csv(SCHEDULES / "vq-hard-codes.csv")
    soft = Dopesheet.from_csv(SCHEDULES / "vq-curriculum.csv")
    assert set(hard.specs) == set(soft.specs) and hard.n_steps == soft.n_steps
    assert [s for s, a in hard.actions if a == "refresh"] == [
        s for s, a in soft.actions if a == "refresh"
    ]
    threshold = quantizer_levels(build(2, 4, 1, hidden=(4,)).model.quantizer)[0].hard_below
    assert all(v <= threshold for _, v in hard.keyframes("temperature"))
    for prop in ("vq-blend", "commitment", "lr"):
        assert hard.keyframes(prop) == soft.keyframes(prop)


@pytest.mark.parametrize(
    ("blend", "expected"),
    [("0,,1,,", 30), ("1,,0,,1", 0), ("0,,0.5,,", 60), ("0,0,,0.5,1", 59)],
)
def test_quantized_from_is_the_first_key_at_full_blend(blend: str, expected: int) -> None:
    rows = SHEET.splitlines()
    values = blend.split(",")
    for k, v in enumerate(values):
        cells = rows[k + 1].split(",")
        cells[5] = v
        rows[k + 1] = ",".join(cells)
    ds = Dopesheet.from_text("\n".join(rows) + "\n")
    assert quantized_from(ds) == expected
    no_blend = Dopesheet.from_text("STEP,lr\n0,1\n9,2\n")
    assert quantized_from(no_blend) == 0
