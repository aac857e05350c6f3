from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from ex_color.data import ColorCube, DynamicWeightedRandomBatchSampler, arange_cyclic, vibrancy
from ex_color.handlers import DataFraction, PhasePlotter, fraction_levels
from mini.training.result import Result

from .conftest import make_event


@pytest.fixture
def cube() -> ColorCube:
    return ColorCube.from_hsv(arange_cyclic(30 / 360), np.linspace(0, 1, 5), np.linspace(0, 1, 5))


@pytest.fixture(params=["precomputed", "plain"])
def setter(cube, request) -> DataFraction:
    sampler = DynamicWeightedRandomBatchSampler(cube.bias, 64, 10, seed=0)
    max_table = 2**20 if request.param == "precomputed" else 0
    setter = DataFraction(sampler, vibrancy(cube), max_table=max_table)
    assert (setter._levels is not None) == (request.param == "precomputed")
    return setter


def test_fraction_levels_key_points():
    assert fraction_levels(0.0) == (pytest.approx(0.99), 0.0)
    assert fraction_levels(0.5) == (0.0, 0.0)
    assert fraction_levels(1.0) == (0.0, 1.0)
    assert fraction_levels(0.25) == (pytest.approx(0.495), 0.0)
    assert fraction_levels(0.75) == (0.0, pytest.approx(0.5))
    assert fraction_levels(-1) == fraction_levels(0)
    assert fraction_levels(2) == fraction_levels(1)


def test_fraction_zero_draws_only_the_most_vibrant(setter, cube):
    setter(0.0)
    p = setter.sampler.probabilities.reshape(cube.shape).numpy()
    vib = vibrancy(cube)
    assert (p[vib < 0.99] == 0).all()
    assert (p[vib >= 0.99] > 0).all()
    assert p.sum() == pytest.approx(1.0)
    drawn = torch.cat(list(setter.sampler)).numpy()
    assert (vib.reshape(-1)[drawn] >= 0.99).all()


def test_fraction_half_uses_vibrancy_as_is(setter, cube):
    setter(0.5)
    torch.testing.assert_close(setter.weights(0.5), torch.from_numpy(vibrancy(cube).ravel()))
    expected = cube.bias * vibrancy(cube)
    np.testing.assert_allclose(
        setter.sampler.probabilities.numpy(), (expected / expected.sum()).ravel(), atol=1e-12
    )


def test_fraction_one_is_uniform_apart_from_bias(setter, cube):
    setter(1.0)
    assert (setter.weights(1.0) == 1).all()
    np.testing.assert_allclose(
        setter.sampler.probabilities.numpy(), (cube.bias / cube.bias.sum()).ravel(), atol=1e-12
    )


def test_fraction_widens_monotonically(setter, cube):
    """More fraction, more of the cube: the share of dull colours never shrinks."""
    dull = (vibrancy(cube) < 0.5).ravel()
    shares = []
    for f in np.linspace(0, 1, 11):
        setter(float(f))
        shares.append(setter.sampler.probabilities.numpy()[dull].sum())
    assert shares[0] == 0
    assert all(b >= a - 1e-12 for a, b in itertools.pairwise(shares))
    assert shares[-1] > 0.1


def test_fraction_setter_skips_unchanged_values(setter, monkeypatch):
    calls = []
    original = setter.sampler.set_cumulative
    monkeypatch.setattr(setter.sampler, "set_cumulative", lambda c: (calls.append(1), original(c)))
    setter(0.3)
    setter(0.3)
    setter(0.3)
    assert len(calls) == 1  # nothing recomputed while the value holds
    setter(0.31)
    assert len(calls) == 2


def test_fraction_setter_reapplies_after_the_sampler_changed(setter):
    setter(0.0)
    expected = setter.sampler.probabilities
    setter.sampler.weights = np.ones(setter.sampler.n_cells)  # e.g. a checkpoint restored
    setter(0.0)
    assert torch.equal(setter.sampler.probabilities, expected)


@given(st.floats(0, 1))
def test_precomputed_update_matches_the_plain_formula(fraction):
    cube = ColorCube.from_hsv(arange_cyclic(30 / 360), np.linspace(0, 1, 5), np.linspace(0, 1, 5))
    fast = DataFraction(DynamicWeightedRandomBatchSampler(cube.bias, 8, 1), vibrancy(cube))
    plain = DynamicWeightedRandomBatchSampler(cube.bias, 8, 1)
    fast(fraction)
    plain.weights = fast.weights(fraction)
    p = fast.sampler.probabilities
    torch.testing.assert_close(p, plain.probabilities, atol=1e-13, rtol=0)
    assert (p >= 0).all()  # the cumulative distribution is exactly monotone
    assert (p[plain.probabilities == 0] == 0).all()  # excluded cells stay exactly excluded


def test_fraction_setter_checks_focus(setter):
    with pytest.raises(ValueError, match="cells"):
        DataFraction(setter.sampler, np.ones(3))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        DataFraction(setter.sampler, np.full(setter.sampler.n_cells, 2.0))


# -- PhasePlotter ----------------------------------------------------------------------------------
def phase_end(phase: str, step: int, n: int = 20, batch=None):
    torch.manual_seed(step)
    colors = torch.rand(n, 3)
    z = torch.randn(n, 4)
    event = make_event(
        "phase-end", None, step=step, phase=phase, validation=Result(colors, z), batch=batch
    )
    return event, z


def test_phase_plotter_keeps_each_phase():
    colors = torch.rand(20, 3)
    plotter = PhasePlotter(colors={"A": colors})
    event, z = phase_end("A", 99)
    plotter(event)
    event, _ = phase_end("B", 199, batch=(torch.rand(20, 3),))
    plotter(event)
    assert [(s.phase, s.step) for s in plotter.history] == [("A", 99), ("B", 199)]
    np.testing.assert_allclose(plotter.history[0].colors, colors.numpy())
    np.testing.assert_allclose(plotter.history[0].latents, z.numpy())
    np.testing.assert_allclose(plotter.history[1].colors, event.batch[0].numpy())


def test_phase_plotter_needs_matching_colours():
    plotter = PhasePlotter()
    event, _ = phase_end("A", 1)
    with pytest.raises(ValueError, match="colours"):
        plotter(event)
    plotter = PhasePlotter(colors={"A": torch.rand(5, 3)})
    with pytest.raises(ValueError, match="5 colours for 20"):
        plotter(event)


def test_phase_plotter_writes_a_png(tmp_path):
    plotter = PhasePlotter(dim_pairs=[(0, 1), (2, 3), (0, 9)])
    for i, phase in enumerate(["A", "B", "C"]):
        event, _ = phase_end(phase, 100 * (i + 1), batch=torch.rand(20, 3))
        plotter(event)
    fig = plotter.plot()
    assert len(fig.axes) == 3 * 2  # (0, 9) is dropped: the latents have 4 dims
    # The unit circle is on every panel.
    assert all(any(p.get_radius() == 1 for p in ax.patches) for ax in fig.axes)
    out = plotter.save(tmp_path / "sub" / "phases.png")
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 10_000
    assert [p.name for p in out.parent.iterdir()] == ["phases.png"]  # no temp file left


def test_phase_plotter_empty_plot_and_state_round_trip(tmp_path):
    plotter = PhasePlotter()
    assert plotter.save(tmp_path / "empty.png").stat().st_size > 0
    event, _ = phase_end("A", 5, batch=torch.rand(20, 3))
    plotter(event)
    restored = PhasePlotter()
    restored.load_state_dict(plotter.state_dict())
    assert [(s.phase, s.step) for s in restored.history] == [("A", 5)]
    np.testing.assert_array_equal(restored.history[0].latents, plotter.history[0].latents)
