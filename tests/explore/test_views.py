"""The explorer's pieces without a browser: slider ranges, loss history, SVG charts, page views."""

from __future__ import annotations

import itertools
import math
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mini.explore import property_infos
from mini.explore.history import LossHistory
from mini.explore.svg import Points, Series, line_chart, scatter_chart
from mini.temporal import Dopesheet


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # well-formed XML, or this raises


def test_slider_ranges_cover_the_keys_with_headroom():
    ds = Dopesheet.from_text(
        "STEP,lr:log,w,bias,k,z::step-end\n0,3e-3,0.1,-1,1,0\n50,,,,1,2\n99,2e-5,0.9,1,,\n"
    )
    info = property_infos(ds)
    assert info["lr"].log and (info["lr"].lo, info["lr"].hi) == (1e-6, 1e-1)
    assert info["lr"].slider_range == (-6.0, -1.0) and info["lr"].from_slider(-3.0) == 1e-3
    assert info["w"].lo == 0.0 and info["w"].hi >= 0.9 + 0.25 * 0.8 - 1e-12  # never below 0
    assert info["bias"].lo <= -1.5 and info["bias"].hi >= 1.5
    assert (info["k"].lo, info["k"].hi) == (0.0, 2.0)  # constant: 0 … twice its value
    assert info["z"].discrete and not info["w"].discrete
    for i in info.values():  # every key is in range; on a linear slider, a position it can take
        lo, hi = i.slider_range
        for _, v in ds.keyframes(i.name):
            pos = i.to_slider(v)
            assert lo <= pos <= hi
            grid = round((pos - lo) / i.slider_step) * i.slider_step + lo
            assert i.log or abs(grid - pos) < 1e-9


@given(st.lists(st.tuples(st.booleans(), st.booleans()), min_size=1, max_size=80))
def test_loss_history_read_between_appends_equals_the_whole_history(ops):
    """Readers convert only the new steps: what they get equals converting everything."""
    h = LossHistory()
    for step, (late_term, look) in enumerate(ops):
        losses = {"total": float(step)}
        if late_term or "reg" in h.columns:  # a term that appears mid-run
            losses["reg"] = step / 2
        h.append(step, losses)
        if look:
            steps, cols = h.view(points=10_000)
            assert np.array_equal(steps, np.arange(step + 1))
            for name, col in h.columns.items():
                assert np.array_equal(cols[name], np.asarray(col), equal_nan=True), name
            assert not steps.flags.writeable  # views of the cache: readers cannot corrupt it


def test_loss_history_is_thinned_to_bucket_means_and_keeps_missing_terms_as_nan():
    h = LossHistory()
    for step in range(1000):
        losses = {"total": float(step)}
        if step >= 500:
            losses["reg"] = 1.0
        h.append(step, losses)
    steps, cols = h.view(points=10)
    assert len(steps) == 10 and steps[-1] == 999
    assert cols["total"][0] == pytest.approx(np.mean(range(100)))
    assert math.isnan(cols["reg"][0]) and cols["reg"][-1] == 1.0
    steps, cols = h.view(points=2000)
    assert len(steps) == 1000 and np.isnan(cols["reg"][:500]).all()


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.one_of(st.floats(-1e6, 1e6), st.just(math.nan)), min_size=1, max_size=60),
    st.booleans(),
)
def test_charts_are_well_formed_whatever_the_data(values, log):
    y = np.array(values)
    x = np.arange(len(y), dtype=float)
    svg = line_chart([Series("a", x, y, "#123456")], xlim=(0, len(y)), ylog=log, cursor=3, bands=[("A & B", 0, 5)])  # fmt: skip
    root = parse(svg)
    assert root.tag.endswith("svg")
    assert "A &amp; B" in svg  # names are escaped
    pts = np.stack([y, y[::-1]], axis=1)
    parse(scatter_chart([Points(pts[:, 0], pts[:, 1], "#000", hollow=True)], xlim=(-1, 1), ylim=(-1, 1)))  # fmt: skip


def test_a_scatter_draws_one_circle_per_finite_point_inside_a_clip():
    x = np.array([0.0, 1.0, np.nan, 2.0])
    svg = scatter_chart(
        [Points(x, x, ["#f00", "#0f0", "#00f", "#000"]), Points(x[:1], x[:1], "#111", hollow=True)],
        xlim=(0, 2), ylim=(0, 2), rings=(1.0,),
    )  # fmt: skip
    root = parse(svg)
    circles = [e for e in root.iter() if e.tag.endswith("circle")]
    assert len(circles) == 4  # the NaN point is left out
    filled = {c.get("fill") for c in circles[:3]}
    assert filled == {"#f00", "#0f0", "#000"}  # distinct colours: each circle its own fill
    ring = [g for g in root.iter() if g.tag.endswith("}g") and g.get("fill") == "white"]
    assert ring and ring[0][0].get("stroke") == "#111"  # hollow: a ring in the point's colour
    many = scatter_chart([Points(np.zeros(40), np.zeros(40), ["#abc", "#def"] * 20)], xlim=(0, 1), ylim=(0, 1))  # fmt: skip
    assert many.count("<g") == 1 + 2  # the clip group, then one group per colour
    assert any(e.tag.endswith("ellipse") for e in root.iter())
    assert any(e.tag.endswith("clipPath") for e in root.iter())


def test_png_encodes_the_pixels_exactly():
    import struct
    import zlib

    from mini.explore.svg import png

    gray = np.random.default_rng(0).random((5, 7))
    data = png(gray)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    w, h = struct.unpack(">II", data[16:24])
    idat = data.index(b"IDAT")
    length = struct.unpack(">I", data[idat - 4 : idat])[0]
    rows = np.frombuffer(zlib.decompress(data[idat + 4 : idat + 4 + length]), np.uint8)
    pixels = rows.reshape(h, w + 1)[:, 1:]
    assert (w, h) == (7, 5) and np.array_equal(pixels, np.round((1 - gray) * 255))


def test_bake_error_finds_the_largest_deviation_and_where():
    from mini.explore.snapshot import bake_error
    from mini.temporal import Timeline
    from mini.temporal.bake import bake

    tl = Timeline(Dopesheet.from_text("STEP,w,v\n0,0,1\n600,2,1\n999,2,1\n"))
    for _ in range(200):
        tl.step()
    tl.set("v", 3.0, 50)  # v holds still: exact
    tl.set("w", -1.0, 100)  # w is moving: exact with dense keys, approximated within a tolerance
    assert all(e.max_abs == 0.0 for e in bake_error(tl, bake(tl)).values())
    baked = bake(tl, tolerance=1e-3)
    errors = bake_error(tl, baked)
    diff = np.abs(Timeline(baked).values()["w"] - tl.values()["w"])
    assert errors["v"].max_abs == 0.0
    assert errors["w"].max_abs == diff.max() > 0 and errors["w"].step == int(diff.argmax())


def test_a_heatmap_draws_every_cell_darker_for_larger_values():
    from mini.explore.heatmap import heatmap, ramp

    m = np.array([[0.0, 0.25, 1.0], [0.5, 0.75, np.nan]])
    framed = np.array([[False, False, True], [False, True, False]])
    svg = heatmap(m, ["a<b", "c"], ["x", "y", "z"], row_marks=["#123456", None], outline=framed,
                  breaks=[1], column_notes=["1", "2", "0"], notes_label="n", scale_label="P")  # fmt: skip
    root = parse(svg)
    ns = "{http://www.w3.org/2000/svg}"
    cells = [r for r in root.iter(f"{ns}rect") if r.find(f"{ns}title") is not None]
    assert len(cells) == 6
    fills = {c.find(f"{ns}title").text: c.get("fill") for c in cells}
    lut = ramp()
    assert fills["a<b → x: 0.000"] == lut[0] and fills["a<b → z: 1.000"] == lut[-1]
    assert fills["c → x: 0.500"] == lut[round(0.5 * (len(lut) - 1))]

    def luminance(hex_colour: str) -> float:
        r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    order = ["a<b → x: 0.000", "a<b → y: 0.250", "c → x: 0.500", "c → y: 0.750", "a<b → z: 1.000"]
    lum = [luminance(fills[k]) for k in order]
    assert all(x > y for x, y in itertools.pairwise(lum))  # darker as values grow
    framed_rects = [r for r in root.iter(f"{ns}rect") if r.get("stroke") == "#f59e0b"]
    assert len(framed_rects) == 2
    assert len([r for r in root.iter(f"{ns}rect") if r.get("fill") == "#123456"]) == 1
    assert len(list(root.iter(f"{ns}line"))) == 1  # one break
    assert "a&lt;b" in svg  # names are escaped
    with pytest.raises(ValueError, match="2×2 names for a 2×3 matrix"):
        heatmap(m, ["a", "b"], ["x", "y"])
    big = heatmap(np.zeros((50, 41)), [str(i) for i in range(50)], [str(j) for j in range(41)])
    assert "<title>" not in big  # no tooltips beyond 2,000 cells
