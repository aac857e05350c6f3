"""What an edit to a dopesheet changed in the steps a run has already trained.

When a run resumes with an edited dopesheet, edits after the resume step apply, but edits at or
before it cannot: those steps already ran. :func:`past_edits` names them so the user can be
told, by CSV line, which of their edits did not take effect.
"""

from __future__ import annotations

from mini.temporal.dopesheet import Dopesheet


def past_edits(old: Dopesheet, new: Dopesheet, step: int) -> list[str]:
    """Edits from ``old`` to ``new`` that change steps ``0..step``, in step order.

    A row at or before ``step`` that was added, removed or changed is described by its line in
    the file it is in (``"line 5 (step 300)"``, ``"lines 3,4 (step 5)"``; a removed row by its
    line in the old file, ``"line 7 (step 900, removed)"``). A property whose header changed
    space or interpolator, and which has a segment starting before ``step``, is described as
    ``"line 1 (column 'lr:log' → 'lr:log:linear')"``.

    Args:
        old: the dopesheet the run trained on.
        new: the edited one.
        step: the last step trained.
    """
    out: list[str] = []
    for name, spec in new.specs.items():
        before = old.specs.get(name)
        if before is None or before == spec:
            continue
        if _moves_before(old, name, step) or _moves_before(new, name, step):
            out.append(f"line 1 (column {before.header!r} → {spec.header!r})")
    old_rows = {r.step: r for r in old.rows if r.step <= step}
    new_rows = {r.step: r for r in new.rows if r.step <= step}
    for s in sorted(old_rows.keys() | new_rows.keys()):
        a, b = old_rows.get(s), new_rows.get(s)
        if a is not None and b is not None and a.same_content(b):
            continue
        lines = (b or a).lines  # type: ignore[union-attr]
        label = "line" if len(lines) == 1 else "lines"
        where = ",".join(map(str, lines)) or "?"
        out.append(f"{label} {where} (step {s}{', removed' if b is None else ''})")
    return out


def _moves_before(ds: Dopesheet, name: str, step: int) -> bool:
    """Whether ``name`` has a segment between two keys that starts before ``step``."""
    keys = ds.keyframes(name)
    return len(keys) > 1 and keys[0][0] < step
