"""A dopesheet in other forms: the plain dict checkpoints and loggers store, its content hash,
Markdown and HTML tables for notebooks. Kept beside :mod:`mini.temporal.dopesheet` so that the
class holds the format's rules and this module only how it is written out."""

from __future__ import annotations

import contextlib
import gc
import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mini.temporal.dopesheet import Dopesheet


def plain(ds: Dopesheet) -> dict[str, Any]:
    """Plain JSON-able description (``Dopesheet.from_dict`` reads it back)."""
    return {
        "source": ds.source,
        "steps": ds.n_steps,
        "specs": {
            n: {"space": s.space, "interpolator": s.interpolator} for n, s in ds.specs.items()
        },
        "phases": [{"name": p.name, "start": p.start, "end": p.end} for p in ds.phases],
        "rows": [
            {
                "step": r.step,
                "lines": list(r.lines),
                "phase": r.phase,
                "actions": list(r.actions),
                "values": dict(r.values),
                "curves": dict(r.curves),
                "arrivals": dict(r.arrivals),
            }
            for r in ds.rows
        ],
    } | ({"gates": [g.to_dict() for g in ds.gates]} if ds.gates else {})


def content_hash(ds: Dopesheet) -> str:
    """SHA-256 of the resolved schedule (independent of file name, line numbers, layout).

    The canonical form is frozen (checkpoints store the hash): rows without curves or jump keys
    hash as they did before those existed, and sheets without gates as before gates.
    """
    canon = {
        "props": {
            n: {"space": s.space, "interpolator": s.interpolator} for n, s in ds.specs.items()
        },
        "rows": [
            {"step": r.step, "phase": r.phase, "actions": list(r.actions)}
            | {"values": dict(r.values)}
            | ({"curves": dict(r.curves)} if r.curves else {})
            | ({"arrivals": dict(r.arrivals)} if r.arrivals else {})
            for r in ds.rows
        ],
    } | ({"gates": {str(g.step): str(g.gate) for g in ds.gates}} if ds.gates else {})
    import hashlib  # here, not at the top: `from mini.temporal import Timeline` stays light
    import json

    return hashlib.sha256(json.dumps(canon, sort_keys=True).encode()).hexdigest()


def markdown(ds: Dopesheet) -> str:
    """The resolved keyframes as a Markdown table."""
    df = ds.as_df()
    cells = [[_cell(v) for v in row] for row in df.itertuples(index=False, name=None)]
    head = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in cells]
    return "\n".join(lines)


def html_table(ds: Dopesheet) -> str:
    """The resolved keyframes as an HTML table with a title (Jupyter's rich display)."""
    import html

    table = ds.as_df().to_html(index=False, na_rep="", escape=True)
    title = html.escape(ds.source)
    return f"<p><b>Dopesheet</b> <code>{title}</code>: {ds.n_steps} steps</p>{table}"


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while building rows that all survive: it would scan
    them again and again (a quarter of the time for a 50 MB sheet)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _cell(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)
