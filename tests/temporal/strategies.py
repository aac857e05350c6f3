"""Hypothesis strategies: random valid dopesheets, sheets of relative steps and units, and
CSV-ish junk for the parser."""

from __future__ import annotations

import warnings

from hypothesis import strategies as st

from mini.temporal import Dopesheet, DopesheetWarning

INTERPS = ("minjerk", "linear", "step-end", "cosine")


@st.composite
def dopesheet_text(draw, max_step: int = 300, curves: bool = False, jumps: bool = False) -> str:
    """A valid dopesheet CSV with 1–4 properties, phases and actions, absolute steps only;
    with ``curves``, some cells also name the interpolator into their key (``0.5 linear``); with
    ``jumps``, some are jump keys (``0.1|0.5``: the curve arrives at 0.1, the value is 0.5 from
    this step on), where the interpolator into the key moves (not ``step-end``)."""
    n_props = draw(st.integers(1, 4))
    specs = []
    for i in range(n_props):
        space = draw(st.sampled_from(("linear", "log")))
        interp = draw(st.sampled_from(INTERPS))
        specs.append((f"p{i}", space, interp))
    last = draw(st.integers(0, max_step))
    steps = sorted(draw(st.sets(st.integers(0, last), min_size=1, max_size=8)) | {last})
    cells: dict[int, list[str]] = {s: [""] * n_props for s in steps}

    def number(space: str) -> float:
        if space == "log":
            return draw(st.floats(1e-4, 1e4))
        return draw(st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False))

    for j, (_, space, column_interp) in enumerate(specs):
        keyed = draw(st.lists(st.sampled_from(steps), min_size=1, max_size=len(steps), unique=True))
        for s in keyed:
            cells[s][j] = repr(number(space))
            interp = column_interp
            if curves and draw(st.booleans()):
                interp = draw(st.sampled_from(INTERPS))
                cells[s][j] += " " + interp
            if jumps and interp != "step-end" and draw(st.integers(0, 3)) == 0:
                cells[s][j] = f"{number(space)!r}|{cells[s][j]}"
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
    with warnings.catch_warnings():  # a curve or a jump on a first key has no effect: a warning
        warnings.simplefilter("ignore", DopesheetWarning)
        return Dopesheet.from_text(draw(dopesheet_text(max_step, curves=True, jumps=True)))


@st.composite
def relative_steps(draw) -> tuple[list[str], int, int]:
    """STEP cells of a valid sheet mixing every step form, with ``steps_per_epoch`` and
    ``total_steps``: anchors written as steps, epochs (``3ep``, ``1.5ep``) or shares of the
    run (``40%``), and between them ``+N``, ``-N``, ``+F``, ``-F`` and ``+Kep`` rows that stay
    within their interval; ``-N`` rows before the first anchor, ``+N`` rows after the last."""
    spe = draw(st.integers(1, 40))
    per_percent = draw(st.integers(1, 20))  # total_steps - 1 = 100 * per_percent: p% is exact
    total = 100 * per_percent + 1
    anchor_steps = sorted(draw(st.lists(st.integers(0, total - 1), min_size=1, max_size=5)))
    anchors = [draw(_spellings(step, spe, per_percent)) for step in anchor_steps]
    cells: list[str] = []
    first = anchor_steps[0]
    for _ in range(draw(st.integers(0, 2))):
        cells.append(f"-{draw(st.integers(0, first))}")
    for k, (step, text) in enumerate(zip(anchor_steps, anchors, strict=True)):
        cells.append(text)
        if k + 1 == len(anchors):
            break
        gap = anchor_steps[k + 1] - step
        for _ in range(draw(st.integers(0, 4))):
            cells.append(draw(_between(gap, spe)))
    for _ in range(draw(st.integers(0, 2))):
        cells.append(f"+{draw(st.integers(0, 50))}")
    return cells, spe, total


def _spellings(step: int, spe: int, per_percent: int) -> st.SearchStrategy[str]:
    """Ways to write absolute ``step`` that mean it exactly."""
    forms = [str(step)]
    if step % spe == 0:
        forms.append(f"{step // spe}ep")
    if spe % 2 == 0 and step % (spe // 2) == 0 and step % spe:
        forms.append(f"{step / spe:.1f}ep")
    if step % per_percent == 0:
        forms.append(f"{step // per_percent}%")
    return st.sampled_from(forms)


def _between(gap: int, spe: int) -> st.SearchStrategy[str]:
    """A relative STEP cell that stays within an interval of ``gap`` steps."""
    sign = st.sampled_from("+-")
    digits = st.integers(1, 999).map(lambda k: f"{k / 1000:.3f}".rstrip("0"))
    forms = [
        st.builds(lambda s, n: f"{s}{n}", sign, st.integers(0, gap)),
        st.builds(lambda s, f: f"{s}{f.lstrip('0') if f.startswith('0.') else f}", sign, digits),
        st.builds(lambda s, f: f"{s}{f}", sign, digits),
    ]
    if spe <= gap:
        forms.append(st.builds(lambda n: f"+{n}ep", st.integers(0, gap // spe)))
    return st.one_of(forms)


# Text that looks like a dopesheet often enough to reach the deep parts of the parser.
_cell = st.one_of(
    st.sampled_from(["", "0", "+0.5", "-0.5", "+10", "-10", "1e-3", "-1", "3000", "nan", "inf",
                     "1.5", "+1.5", "abc", '"a,b"', "0.0", "+0", "1e99999", "\ufeff", "\x00",
                     "1|2", "0|1 linear", "|", "1||2", "2|1 step"]),
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
