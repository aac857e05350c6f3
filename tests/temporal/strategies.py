"""Hypothesis strategies: random valid dopesheets, and CSV-ish junk for the parser."""

from __future__ import annotations

from hypothesis import strategies as st

from mini.temporal import Dopesheet
from mini.temporal.curves import with_key_curves

INTERPS = ("minjerk", "linear", "step-end", "cosine")


@st.composite
def dopesheet_text(draw, max_step: int = 300) -> str:
    """A valid dopesheet CSV with 1–4 properties, phases and actions, absolute steps only."""
    n_props = draw(st.integers(1, 4))
    specs = []
    for i in range(n_props):
        space = draw(st.sampled_from(("linear", "log")))
        interp = draw(st.sampled_from(INTERPS))
        specs.append((f"p{i}", space, interp))
    last = draw(st.integers(0, max_step))
    steps = sorted(draw(st.sets(st.integers(0, last), min_size=1, max_size=8)) | {last})
    cells: dict[int, list[str]] = {s: [""] * n_props for s in steps}
    for j, (_, space, _) in enumerate(specs):
        keyed = draw(st.lists(st.sampled_from(steps), min_size=1, max_size=len(steps), unique=True))
        for s in keyed:
            if space == "log":
                v = draw(st.floats(1e-4, 1e4))
            else:
                v = draw(st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False))
            cells[s][j] = repr(v)
    phases = {s: draw(st.sampled_from(("", "", "A", "B", "C"))) for s in steps}
    actions = {s: draw(st.sampled_from(("", "", "go", "go;stop"))) for s in steps}
    header = ["STEP", "PHASE", "ACTION"] + [
        name if (space, interp) == ("linear", "minjerk") else f"{name}:{space}:{interp}"
        for name, space, interp in specs
    ]
    lines = [",".join(header)]
    for s in steps:
        lines.append(",".join([str(s), phases[s], actions[s], *cells[s]]))
    return "\n".join(lines) + "\n"


@st.composite
def dopesheets(draw, max_step: int = 300) -> Dopesheet:
    """A valid dopesheet whose keys may name their own interpolator (``3e-3 linear``) and may be
    jump keys (the curve arrives at another value and jumps to the key's at its step)."""
    ds = Dopesheet.from_text(draw(dopesheet_text(max_step)))
    curves: dict[tuple[int, str], str] = {}
    arrivals: dict[tuple[int, str], float] = {}
    for name, spec in ds.props.items():
        for step, _ in ds.keyframes(name)[1:]:
            if draw(st.booleans()):
                curves[step, name] = draw(st.sampled_from(INTERPS))
            if draw(st.integers(0, 3)) == 0:
                log = spec.space == "log"
                arrivals[step, name] = draw(st.floats(1e-4, 1e4) if log else st.floats(-1e3, 1e3))
    return with_key_curves(ds, curves, arrivals)


# Text that looks like a dopesheet often enough to reach the deep parts of the parser.
_cell = st.one_of(
    st.sampled_from(["", "0", "+0.5", "-0.5", "+10", "-10", "1e-3", "-1", "3000", "nan", "inf",
                     "1.5", "+1.5", "abc", '"a,b"', "0.0", "+0", "1e99999", "\ufeff", "\x00"]),
    st.text(max_size=6),
)  # fmt: skip
_header_cell = st.one_of(
    st.sampled_from(["STEP", "PHASE", "ACTION", "lr", "lr:log", "x::step", "x:lin", "a:b:c:d",
                     "", "step", "w:log:linear", "q::nope"]),
    st.text(max_size=8),
)  # fmt: skip


@st.composite
def csvish_text(draw) -> str:
    header = draw(st.lists(_header_cell, min_size=0, max_size=6))
    rows = draw(st.lists(st.lists(_cell, min_size=0, max_size=7), max_size=8))
    sep = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    return sep.join([",".join(header)] + [",".join(r) for r in rows])
