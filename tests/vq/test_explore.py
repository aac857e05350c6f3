"""The VQ explorer panels: what they capture from a training model, and that capturing through
the explorer leaves the run untouched."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import torch

from mini.explore import Controller, PanelFailure
from mini.temporal import Dopesheet, Timeline
from vq.residual import quantizer_levels
from vq.train.experiment import build, make_optimizer
from vq.viz import explore as vq_explore

SHEET = "STEP,PHASE,lr:log,recon,vq-blend,temperature:log,commitment\n0,A,2e-3,1,1,1e-4,0.25\n199,,,,,,\n"


def test_a_code_is_dead_under_one_percent_of_the_assignments():
    counts = torch.tensor([500.0, 400.0, 95.0, 4.0, 1.0, 0.0] + [0.0] * 10)
    assert (
        vq_explore.active_codes(counts).tolist() == [True, True, True, False, False] + [False] * 11
    )
    assert not vq_explore.active_codes(torch.zeros(16)).any()  # nothing counted yet: all hollow
    uniform = torch.ones(256)  # a quarter of the uniform share for books of more than 25 codes
    assert vq_explore.active_codes(uniform).all()


def test_panels_show_a_training_model_without_changing_the_run():
    exp = build(seed=0)
    panels = vq_explore.panels(exp.model, exp.data.val, exp.data.val_labels, probe=200)
    assert [p.title for p in panels][:2] == ["level 0 codebook", "level 1 codebook"]
    made = []

    def make():
        e = build(seed=0, refresh=False)
        made.append(e)
        return e.trainer(Timeline(Dopesheet.from_text(SHEET)), make_optimizer(e.model), progress=False, seed=0)  # fmt: skip

    c = Controller(make, panels, capture_every=0.0)  # capture after every step
    c.start()
    c._thread.join(120)
    snap = c.snapshot()
    assert snap.status == "finished"
    assert not any(isinstance(d, PanelFailure) for d in snap.panels)
    level0, _level1, recon, health = snap.panels
    assert level0.points.shape == (200, 2) and level0.codes.shape == (16, 2)
    usage = quantizer_levels(made[0].model.quantizer)[0].usage_counts()
    assert level0.active.tolist() == vq_explore.active_codes(usage).tolist()
    assert np.allclose(level0.codes, quantizer_levels(made[0].model.quantizer)[0].codebook.numpy())
    assert recon.shape == (16, 8, 8) and recon.min() >= 0 and recon.max() <= 1
    assert [h.codes for h in health] == [16, 16] and health[0].active == level0.active.sum()
    for panel, data in zip(panels, snap.panels, strict=True):
        html = panel.render(data)
        ET.fromstring(f"<div>{html}</div>")  # well-formed
    assert made[0].model.training  # the capture put it back in training mode

    # the same run without the page: identical weights (captures draw no random numbers
    # and count no code usage)
    e = build(seed=0, refresh=False)
    e.trainer(Timeline(Dopesheet.from_text(SHEET)), make_optimizer(e.model), progress=False, seed=0).fit()  # fmt: skip
    for a, b in zip(
        made[0].model.state_dict().values(), e.model.state_dict().values(), strict=True
    ):  # tensors bit for bit; the quantizers' counters (extra state) equal
        assert torch.equal(a, b) if isinstance(a, torch.Tensor) else a == b


def test_wide_latents_are_drawn_on_their_principal_axes():
    exp = build(latent_dim=6, codes=8, levels=1, seed=0)
    panel = vq_explore.panels(exp.model, exp.data.val, exp.data.val_labels, probe=100)[0]

    class T:
        model = exp.model
        current_step = 0

    with torch.no_grad():
        view = panel.capture(T())
    assert view.projected and view.points.shape == (100, 2) and view.codes.shape == (8, 2)
    assert "principal axes" in panel.render(view)
