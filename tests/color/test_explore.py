"""The colour explorer panels: the latent hue wheel and its metrics, from a training model."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import torch

from ex_color.experiment import build, make_optimizer, primaries, summarize
from ex_color.explore import HueMetricsPanel, LatentPanel
from mini.explore import Controller, PanelFailure
from mini.temporal import Dopesheet, Timeline

SCHEDULE = "schedules/color-curriculum.csv"


def test_panels_follow_the_model_and_match_the_summary(tmp_path):
    from pathlib import Path

    ds = Dopesheet.from_csv(Path(__file__).resolve().parents[2] / SCHEDULE).scaled(400)
    hue = HueMetricsPanel()
    runs = []

    def make():
        exp = build(seed=0)
        runs.append(exp)
        hue.anchor = exp.anchor
        return exp.trainer(Timeline(ds), make_optimizer(exp.model), progress=False)

    c = Controller(make, [LatentPanel(), hue], capture_every=0.0)
    c.start()
    c._thread.join(120)
    snap = c.snapshot()
    assert snap.status == "finished"
    latent, metrics = snap.panels
    assert not isinstance(latent, PanelFailure) and not isinstance(metrics, PanelFailure)
    model = runs[0].model
    with torch.no_grad():
        model.eval()
        want = model(primaries()).latents[:, :2].numpy()
    assert latent.grid.shape == (1000, 2) and np.allclose(latent.primaries, want)
    summary = summarize(model, runs[0].anchor)
    assert metrics.recon == summary["recon_mse"] and metrics.gaps == tuple(summary["hue_gaps_deg"])
    assert metrics.drift == summary["anchor_drift"] and metrics.anchored_at is not None
    for panel, data in zip(c.panels, snap.panels, strict=True):
        ET.fromstring(f"<div>{panel.render(data)}</div>")
