"""The SVG builders draw exactly the finite points they are given (they format whole runs and
groups at once, so the per-point bookkeeping is checked here against the plain definition)."""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from mini.explore.svg import Frame, Points, _points, polyline

values = st.lists(
    st.one_of(st.floats(-1e3, 1e3), st.just(float("nan")), st.just(float("inf"))),
    min_size=0,
    max_size=60,
)


def _frame() -> Frame:
    return Frame(400, 200, xlim=(-1e3, 1e3), ylim=(-1e3, 1e3))


@settings(max_examples=200, deadline=None)
@given(values, st.data())
def test_polyline_is_one_run_per_stretch_of_finite_points(xs: list[float], data) -> None:
    ys = data.draw(st.lists(st.floats(-1e3, 1e3), min_size=len(xs), max_size=len(xs)))
    frame = _frame()
    d = re.search(r'd="([^"]*)"', polyline(frame, np.array(xs), np.array(ys), "#000")).group(1)
    px, py = frame.px(np.array(xs)), frame.py(np.array(ys))
    expected, run = [], []
    for a, b in zip(px, py, strict=True):
        if np.isfinite(a) and np.isfinite(b):
            run.append((a, b))
        elif run:
            expected.append(run)
            run = []
    if run:
        expected.append(run)
    drawn = [
        [tuple(map(float, p.split(","))) for p in re.findall(r"[ML](-?[\d.]+,-?[\d.]+)", r)]
        for r in re.findall(r"M[^M]*", d)
    ]
    assert [len(r) for r in drawn] == [len(r) for r in expected]
    for got, want in zip(drawn, expected, strict=True):
        np.testing.assert_allclose(got, want, atol=0.051)
    assert all(r.strip().startswith("M") and r.count("M") == 1 for r in re.findall(r"M[^M]*", d))


@settings(max_examples=200, deadline=None)
@given(values, st.data(), st.sampled_from(["one", "few", "each"]))
def test_points_draws_each_finite_point_once_in_its_colour(
    xs: list[float], data, kind: str
) -> None:
    ys = data.draw(st.lists(st.floats(-1e3, 1e3), min_size=len(xs), max_size=len(xs)))
    palette = {"one": ["#111"], "few": ["#a00", "#0a0"], "each": [f"#{i:03x}" for i in range(64)]}
    color = "#111" if kind == "one" else [palette[kind][i % len(palette[kind])] for i in range(len(xs))]  # fmt: skip
    frame = _frame()
    out = _points(frame, Points(np.array(xs), np.array(ys), color, radius=2.0))
    px, py = frame.px(np.array(xs)), frame.py(np.array(ys))
    colors = [color] * len(xs) if isinstance(color, str) else color
    want = Counter(
        (round(float(a), 1), round(float(b), 1), c)
        for a, b, c in zip(px, py, colors, strict=True)
        if np.isfinite(a) and np.isfinite(b)
    )
    got: Counter = Counter()
    for group in re.finditer(r"<g([^>]*)>(.*?)</g>", out):
        group_fill = re.search(r'fill="([^"]*)"', group.group(1))
        for circle in re.finditer(r"<circle ([^>]*)/>", group.group(2)):
            attrs = dict(re.findall(r'(\w+)="([^"]*)"', circle.group(1)))
            fill = attrs.get("fill", group_fill.group(1) if group_fill else None)
            got[(float(attrs["cx"]), float(attrs["cy"]), fill)] += 1
            assert attrs["r"] == "2.0"
    assert sum(got.values()) == sum(want.values())
    for (x, y, c), n in want.items():
        close = sum(m for (gx, gy, gc), m in got.items() if gc == c and abs(gx - x) <= 0.051 and abs(gy - y) <= 0.051)  # fmt: skip
        assert close >= n
