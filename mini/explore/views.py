"""The explorer's generic views, as HTML strings from a :class:`Snapshot`: the status bar, loss
curves, the schedule with a cursor, property readouts, the activity log and the panel cards.
No Gradio here (the app only places these strings), so they are testable on their own."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mini.explore.controller import PanelFailure, Snapshot
from mini.explore.history import LossHistory
from mini.explore.panel import Panel
from mini.explore.properties import PropertyInfo
from mini.explore.svg import PALETTE, Series, add_cursor, esc, legend, line_chart

STATUS_TEXT = {
    "ready": "ready",
    "running": "training",
    "paused": "paused",
    "finished": "finished",
    "stopped": "stopped",
    "failed": "failed",
}


def status_bar(snap: Snapshot, title: str) -> str:
    done = snap.step
    frac = done / max(1, snap.n_steps)
    rate = f"{snap.steps_per_second:,.0f}" if snap.status == "running" else "–"
    return (
        f'<div class="mx-status" data-status="{snap.status}">'
        f'<div class="mx-title">{esc(title)}<span class="mx-run">run {snap.run}</span></div>'
        f'<div class="mx-stat"><span class="mx-pill mx-{snap.status}">'
        f"{STATUS_TEXT[snap.status]}</span></div>"
        f'<div class="mx-stat"><label>step</label><b id="mx-step">{done:,}</b>'
        f'<span class="mx-of">/ {snap.n_steps:,}</span></div>'
        f'<div class="mx-stat"><label>phase</label><b id="mx-phase">{esc(snap.phase or "—")}</b></div>'
        f'<div class="mx-stat"><label>steps/s</label><b id="mx-rate">{rate}</b></div>'
        f'<div class="mx-progress"><i style="width:{100 * frac:.2f}%"></i></div>'
        "</div>"
    )


def error_box(snap: Snapshot) -> str:
    if not snap.error:
        return ""
    return f'<div class="mx-error" id="mx-error"><b>Error</b><pre>{esc(snap.error)}</pre></div>'


def losses_chart(history: LossHistory, snap: Snapshot) -> str:
    steps, cols = history.view(400)
    names = sorted(cols, key=lambda n: (n != "total", n))
    series = [
        Series(name, steps, cols[name], PALETTE[i % len(PALETTE)], dashed=name == "total")
        for i, name in enumerate(names)
    ]
    xlim = (0, max(snap.step, 10))  # up to the current step
    if not len(steps):
        body = '<div class="mx-empty">no steps yet: press Start</div>'
    else:
        body = line_chart(
            series, xlim=xlim, ylog=True, bands=snap.phases, label="losses", height=230
        )
    keys = legend([(s.name, s.color) for s in series]) if series else ""
    return card("Losses", body + keys, "mx-losses")


_strips: dict[
    str, tuple[object, object, object, str]
] = {}  # name → (schedule, written, phases, svg)


def schedule_chart(snap: Snapshot, infos: dict[str, PropertyInfo], original: dict[str, np.ndarray] | None) -> str:  # fmt: skip
    """One strip per property: the run's schedule (overrides included) and, dashed, the
    dopesheet's own curve where they differ; the cursor at the current step. A strip is drawn
    again only when its curves changed (the controller hands over the same arrays otherwise)."""
    rows = []
    x = snap.schedule_steps
    xlim = (0, max(snap.n_steps - 1, 1))
    size = {"width": 460, "height": 78}
    for i, (name, y) in enumerate(snap.schedule.items()):
        color = PALETTE[i % len(PALETTE)]
        cached = _strips.get(name)
        if (
            cached
            and cached[0] is snap.schedule
            and cached[1] is original
            and cached[2] == snap.phases
        ):
            chart = cached[3]
        else:
            info = infos.get(name)
            series = [Series(name, x, y, color)]
            if original is not None and name in original and not np.array_equal(original[name], y):
                series.insert(0, Series(name, x, original[name], "#9aa0a6", dashed=True))
            log = bool(info and info.log)
            lim = _range(y if original is None else np.concatenate([y, original.get(name, y)]), log)
            chart = line_chart(series, xlim=xlim, ylog=log, ylim=lim, bands=snap.phases, label=name, **size)  # fmt: skip
            _strips[name] = (snap.schedule, original, snap.phases, chart)
        chart = add_cursor(chart, snap.step, xlim=xlim, **size)
        tag = ' <span class="mx-tag">manual</span>' if name in snap.overridden else ""
        value = snap.props.get(name)
        rows.append(
            f'<div class="mx-strip"><div class="mx-strip-head"><b style="color:{color}">{esc(name)}</b>'
            f"{tag}<span>{_value(value)}</span></div>{chart}</div>"
        )
    note = '<div class="mx-hint">dashed: the dopesheet as written · solid: this run</div>'
    return card("Schedule", "".join(rows) + note, "mx-schedule")


def _range(y: np.ndarray, log: bool) -> tuple[float, float]:
    y = y[np.isfinite(y)]
    if log:
        y = y[y > 0]
    if not len(y):
        return (0.1, 1.0) if log else (0.0, 1.0)
    lo, hi = float(y.min()), float(y.max())
    if log:
        return (lo / 1.3, hi * 1.3) if hi > lo else (lo / 2, hi * 2)
    pad = 0.12 * (hi - lo) if hi > lo else max(abs(hi) * 0.1, 0.1)
    return lo - pad, hi + pad


def _value(v: float | None) -> str:
    if v is None:
        return ""
    return f"{v:.3g}" if 1e-3 <= abs(v) < 1e4 or v == 0 else f"{v:.2e}"


def readout(name: str, snap: Snapshot, log: bool = False) -> str:
    """The line above a property's slider: its value now and who is in charge."""
    value = snap.props.get(name)
    if name in snap.returning:
        who = '<span class="mx-tag mx-tag-back">→ schedule</span>'
    elif name in snap.overridden:
        who = '<span class="mx-tag">manual</span>'
    else:
        who = '<span class="mx-tag mx-tag-auto">schedule</span>'
    scale = '<span class="mx-scale">log₁₀ slider</span>' if log else ""
    return (
        f'<div class="mx-readout"><b>{esc(name)}</b>{scale}'
        f'<span class="mx-val">{_value(value)}</span>{who}</div>'
    )


def notes(snap: Snapshot, last: int = 8) -> str:
    items = list(snap.notes)[-last:][::-1]
    if not items:
        return card(
            "Activity",
            '<div class="mx-empty">moves, actions, saves and edits appear here</div>',
            "mx-notes",
        )
    body = "".join(f"<li>{esc(n)}</li>" for n in items)
    return card("Activity", f"<ul>{body}</ul>", "mx-notes")


def panel_cards(panels: Sequence[Panel], data: Sequence[object], version: str = "") -> str:
    cards = []
    for panel, d in zip(panels, data, strict=True):
        if isinstance(d, PanelFailure):
            body = f'<div class="mx-error"><pre>{esc(d.message)}</pre></div>'
        else:
            try:
                body = panel.render(d)
            except Exception as e:  # a broken view must not break the page
                body = f'<div class="mx-error"><pre>{esc(type(e).__name__)}: {esc(e)}</pre></div>'
        cards.append(card(panel.title, body))
    return f'<div class="mx-panels" data-v="{esc(version)}">' + "".join(cards) + "</div>"


def main_column(
    panels: Sequence[Panel], history: LossHistory, snap: Snapshot, infos: dict[str, PropertyInfo]
) -> str:
    """The page's main column: the model panels, then losses and activity beside the schedule."""
    return (
        panel_cards(panels, snap.panels, f"{snap.run}.{snap.version}")
        + '<div class="mx-lower"><div class="mx-stack">'
        + losses_chart(history, snap)
        + notes(snap)
        + "</div>"
        + schedule_chart(snap, infos, snap.written)
        + "</div>"
    )


def card(title: str, body: str, extra: str = "") -> str:
    return f'<section class="mx-card {extra}"><h3>{esc(title)}</h3>{body}</section>'
