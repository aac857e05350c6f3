from __future__ import annotations

import torch

from ex_color.model import ColorMLP
from mini.training.result import Result


def test_color_mlp_shapes_and_range():
    torch.manual_seed(0)
    model = ColorMLP()
    x = torch.rand(32, 3)
    res = model(x)
    assert isinstance(res, Result)
    assert res.outputs.shape == (32, 3)
    assert res.latents.shape == (32, 4)
    assert ((res.outputs > 0) & (res.outputs < 1)).all()
    # 3→16→4→16→3 with biases.
    assert sum(p.numel() for p in model.parameters()) == 64 + 68 + 80 + 51


def test_color_mlp_bottleneck_and_normalize():
    torch.manual_seed(0)
    model = ColorMLP(bottleneck=3, normalize=True)
    res = model(torch.rand(10, 3))
    assert res.latents.shape == (10, 3)
    torch.testing.assert_close(res.latents.norm(dim=-1), torch.ones(10), atol=1e-5, rtol=0)
    plain = ColorMLP(bottleneck=3)
    plain.load_state_dict(model.state_dict())
    z = plain(torch.rand(10, 3)).latents
    assert not torch.allclose(z.norm(dim=-1), torch.ones(10), atol=1e-3)


def test_color_mlp_decoder_sees_the_latents():
    torch.manual_seed(0)
    model = ColorMLP()
    x = torch.rand(5, 3)
    res = model(x)
    torch.testing.assert_close(model.decoder(res.latents), res.outputs)
