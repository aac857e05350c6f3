"""The header of a dopesheet: which column is STEP, PHASE, ACTION, and each property's spec.

A property header is ``name[:space[:interpolator]]``; every problem in it is located at its
column, with did-you-mean for misspelt spaces and interpolators.
"""

from __future__ import annotations

from dataclasses import dataclass

from mini.temporal.errors import ProblemCollector
from mini.temporal.gate_rows import GATE
from mini.temporal.grammar import did_you_mean
from mini.temporal.interpolators import interpolator_names
from mini.temporal.spec import ACTION, PHASE, RESERVED, SPACES, STEP, PropSpec


@dataclass(frozen=True, slots=True)
class Columns:
    """Where things are in the header (0-based indices) and how wide it is."""

    width: int
    step: int
    phase: int | None
    action: int | None
    props: tuple[tuple[int, PropSpec], ...]
    gate: int | None = None  # the GATE column (docs/gates.md)

    def number(self, name: str) -> int | None:
        """The 1-based CSV column of ``STEP``/``PHASE``/``ACTION`` or a property name."""
        index = {STEP: self.step, PHASE: self.phase, ACTION: self.action, GATE: self.gate}.get(name)
        if index is None:
            index = next((i for i, spec in self.props if spec.name == name), None)
        return None if index is None else index + 1


def parse_header(header: list[str], problems: ProblemCollector) -> Columns | None:
    """The header's columns, or ``None`` when there is no STEP column (nothing can be read)."""
    reserved: dict[str, int] = {}
    props: list[tuple[int, PropSpec]] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(header):
        name = raw.strip()
        col = i + 1
        if name in RESERVED or name == GATE:
            if name in reserved:
                problems.add(1, col, f"{name} appears twice", f"keep one {name} column", name)
            else:
                reserved[name] = i
            continue
        if not name:
            problems.add(
                1,
                col,
                f"column {col} has no name",
                "name it 'prop[:space[:interpolator]]' or delete it",
            )
            continue
        if name.upper() in (*RESERVED, GATE):
            problems.add(
                1,
                col,
                f"{name!r} looks like the reserved column {name.upper()!r}",
                f"write it in capitals: {name.upper()}",
                name,
            )
            continue
        spec = _read_prop_header(name, col, seen, problems)
        if spec is not None:
            props.append((i, spec))
    if STEP not in reserved:
        problems.add(1, None, *_no_step_column(header))
        return None
    return Columns(
        len(header), reserved[STEP], reserved.get(PHASE), reserved.get(ACTION), tuple(props),
        reserved.get(GATE),
    )  # fmt: skip


def _read_prop_header(
    name: str, col: int, seen: dict[str, int], problems: ProblemCollector
) -> PropSpec | None:
    parts = [p.strip() for p in name.split(":")]
    if len(parts) > 3:
        problems.add(1, col, "too many ':' in the header", "use name[:space[:interpolator]]", name)
        return None
    base = parts[0]
    space = (parts[1] if len(parts) > 1 else "") or "linear"
    interp = (parts[2] if len(parts) > 2 else "") or "minjerk"
    ok = True
    if not base:
        problems.add(1, col, "the property has no name before ':'", "write e.g. 'lr:log'", name)
        ok = False
    if space not in SPACES:
        problems.add(
            1,
            col,
            f"unknown space {space!r}{did_you_mean(space, list(SPACES))}",
            f"use one of: {', '.join(SPACES)}",
            name,
            space,
        )
        ok = False
    names = interpolator_names()
    if interp not in names:
        problems.add(
            1,
            col,
            f"unknown interpolator {interp!r}{did_you_mean(interp, names)}",
            f"use one of: {', '.join(names)} (or register one)",
            name,
            interp,
        )
        ok = False
    if base in seen:
        problems.add(
            1,
            col,
            f"property {base!r} is already defined in column {seen[base]}",
            "give each property one column",
            name,
        )
        ok = False
    if base:
        seen.setdefault(base, col)
    return PropSpec(base, space, interp) if ok else None  # type: ignore[arg-type]


def _no_step_column(header: list[str]) -> tuple[str, str]:
    """Message and fix for a header without STEP, with a hint for the likely cause."""
    if len(header) == 1 and STEP in header[0].upper():
        for sep, what in (("\t", "tabs"), (";", "semicolons")):
            if sep in header[0]:
                return (
                    f"there is no STEP column: the header is the single column {header[0]!r}, "
                    f"so the file looks separated by {what}, not commas",
                    "save it comma-separated (in a spreadsheet: Save as > CSV, comma-delimited)",
                )
    near = [h.strip() for h in header if h.strip().upper() == STEP]
    if near:
        return "there is no STEP column", f"rename {near[0]!r} to 'STEP'"
    return "there is no STEP column", "add a first column 'STEP' with the step of each row"
