"""Live-explorer panels for the categorical tokenizer (see :mod:`mini.explore.panel`).

- :class:`AssignmentPanel`: the feature × category assignment — ``softmax(logits / T)``, the
  soft probabilities that sharpen as ``assign-temperature`` falls — as a heatmap, feature
  names on the rows (with their planted group, ``g2`` or ``noise``, and rows ordered by it,
  when the data has one), categories on the columns with the number of features each owns.
  Once hardened, the cells the model uses (each feature's argmax) are framed.
- :class:`AssignmentCurvesPanel`: the temperature and the ``assign_*`` figures (overlap,
  imbalance, near-hard fraction) over steps: the run's evaluator records (every
  ``--eval-every`` steps, the ``metrics.jsonl`` extras) and the model now.
- :class:`UtilizationPanel`: per category and level, the fraction of codes in use: on the
  validation rows as the evaluator last measured them, or, before any evaluation (or without
  an evaluator), over the quantizers' training window (the last 100 training batches).

Captures only read the model and the evaluator's records (no forward pass, no random
numbers, no usage counted), so an explored run trains exactly like a headless one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from torch import Tensor

from mini.explore.heatmap import heatmap
from mini.explore.svg import PALETTE, Series, esc, legend, line_chart
from vq.tokenizer.assignment import assignment_imbalance, assignment_overlap, near_hard_fraction
from vq.tokenizer.run import CategoricalRun, Evaluator, category_names
from vq.tokenizer.video import feature_labels

__all__ = [
    "AssignmentCurvesPanel",
    "AssignmentPanel",
    "UtilizationPanel",
    "find_evaluator",
    "panels",
]

NOISE_MARK = "#cbd5e1"
NEAR_HARD = 0.9  # vq.tokenizer.assignment.near_hard_fraction's threshold
TEMPERATURE = "assign-temperature"


def find_evaluator(trainer: Any) -> Evaluator | None:
    """The run's :class:`~vq.tokenizer.run.Evaluator`, found among the trainer's handlers
    (``None`` for a trainer without one)."""
    for handler in trainer.bus.handlers():
        owner = getattr(handler, "__self__", None)
        if isinstance(owner, Evaluator):
            return owner
    return None


def _numpy(t: Tensor) -> np.ndarray:
    return t.detach().cpu().double().numpy().copy()


# -- the assignment matrix ---------------------------------------------------------------------
@dataclass(frozen=True)
class AssignmentView:
    matrix: np.ndarray  # (F, K) softmax(logits / T); a fixed assignment's one-hot matrix
    owner: np.ndarray  # (F,) each feature's category (argmax)
    temperature: float
    hard: bool  # the model uses the one-hot of ``owner``
    learnable: bool


class AssignmentPanel:
    """The feature × category assignment as a heatmap (one capture: an ``F × K`` copy)."""

    title = "feature × category assignment"

    def __init__(self, features: list[str], groups: np.ndarray | None = None, note: str = ""):
        self.labels = feature_labels(features, groups)
        n = len(features)
        if groups is None:
            self.order, self.marks, self.breaks = np.arange(n), None, ()
        else:  # rows by planted group (distractors last), so recovered groups show as blocks
            g = np.asarray(groups)
            self.order = np.argsort(np.where(g < 0, g.max() + 1, g), kind="stable")
            ordered = g[self.order]
            self.marks = [NOISE_MARK if x < 0 else PALETTE[int(x) % len(PALETTE)] for x in ordered]
            self.breaks = tuple(int(i) for i in np.nonzero(np.diff(ordered))[0] + 1)
        self.note = note

    def capture(self, trainer: Any) -> AssignmentView:
        a = trainer.model.assignment
        return AssignmentView(
            _numpy(a.soft()), a.categories().cpu().numpy().copy(), float(a.temperature),
            bool(a.hard), bool(a.learnable),
        )  # fmt: skip

    def render(self, v: AssignmentView) -> str:
        f, k = v.matrix.shape
        owned = np.bincount(v.owner, minlength=k)
        rows = [self.labels[i] for i in self.order]
        framed = None
        if v.hard and v.learnable:
            framed = np.zeros((f, k), dtype=bool)
            framed[np.arange(f), v.owner[self.order]] = True
        chart = heatmap(
            v.matrix[self.order], rows, category_names(k), row_marks=self.marks, outline=framed,
            breaks=self.breaks, column_notes=[str(n) for n in owned], notes_label="features",
            scale_label="P(category | feature)", label=self.title,
        )  # fmt: skip
        if not v.learnable:
            what = "fixed (static mode): each feature in one category"
        else:
            near = int((v.matrix.max(1) >= NEAR_HARD).sum())
            what = (
                f"softmax(logits / T) at T = {v.temperature:.3g} · {near}/{f} features "
                f"near-hard (≥ {NEAR_HARD})"
            )
            if v.hard:
                what += " · hardened: the model uses the framed argmax"
        order = " · rows by planted group" if self.marks is not None else ""
        note = f" · {self.note}" if self.note else ""
        sub = f'<div class="mx-sub">{esc(what)}{order}{esc(note)}</div>'
        return sub + chart


# -- temperature and the assign_* figures over steps -------------------------------------------
FIGURES = (
    ("assign_overlap", "overlap"),
    ("assign_imbalance", "imbalance"),
    ("assign_near_hard", "near-hard fraction"),
)


@dataclass(frozen=True)
class AssignmentTrace:
    steps: np.ndarray  # the evaluator's records, then the model now
    temperature: np.ndarray
    figures: dict[str, np.ndarray]  # FIGURES' keys → values at ``steps``
    step: int
    phases: tuple[tuple[str | None, int, int], ...]
    every: int | None  # the evaluator's interval (None: no evaluator)
    planned: tuple[float, float] | None  # the dopesheet's assign-temperature key range


class AssignmentCurvesPanel:
    """Temperature (log scale) and the ``assign_*`` figures up to the current step."""

    title = "assignment over steps"

    def capture(self, trainer: Any) -> AssignmentTrace:
        evaluator = find_evaluator(trainer)
        records = [h for h in evaluator.history if "assign_temperature" in h] if evaluator else []
        steps = [float(h["step"]) for h in records]
        temps = [float(h["assign_temperature"]) for h in records]
        figures = {key: [float(h[key]) for h in records] for key, _ in FIGURES}
        step = int(trainer.current_step)
        if not steps or steps[-1] < step:  # the model now (unless just evaluated)
            a = trainer.model.assignment
            used = a()  # the matrix the model uses (one-hot once hardened), as evaluated
            steps.append(float(step))
            temps.append(float(a.temperature))
            figures["assign_overlap"].append(float(assignment_overlap(used)))
            figures["assign_imbalance"].append(float(assignment_imbalance(used)))
            figures["assign_near_hard"].append(near_hard_fraction(a.soft()))
        ds = trainer.timeline.dopesheet
        phases = tuple((p.name, p.start, p.end) for p in ds.phases)
        keys = [v for _, v in ds.keyframes(TEMPERATURE)] if TEMPERATURE in ds.specs else []
        return AssignmentTrace(
            np.array(steps), np.array(temps), {k: np.array(v) for k, v in figures.items()},
            step, phases, evaluator.every if evaluator else None,
            (min(keys), max(keys)) if keys else None,
        )  # fmt: skip

    def render(self, t: AssignmentTrace) -> str:
        xlim = (0.0, float(max(t.step, 10)))
        lo, hi = t.planned or (np.inf, 0.0)  # the axis spans where the dopesheet takes it
        ylim = (min(lo, *t.temperature) / 1.15, max(hi, *t.temperature) * 1.15)
        temp = line_chart(
            [Series(TEMPERATURE, t.steps, t.temperature, PALETTE[3])],
            xlim=xlim, ylog=True, ylim=ylim, bands=t.phases, cursor=t.step, label="temperature",
            height=140,
        )  # fmt: skip
        series = [
            Series(name, t.steps, t.figures[key], PALETTE[i])
            for i, (key, name) in enumerate(FIGURES)
        ]
        figs = line_chart(
            series, xlim=xlim, ylim=(-0.03, 1.03), bands=t.phases, cursor=t.step,
            label="assignment figures", height=150,
        )  # fmt: skip
        now = " · ".join(
            [f"T {t.temperature[-1]:.3g}"]
            + [f"{name} {t.figures[key][-1]:.3f}" for key, name in FIGURES]
        )
        every = (
            f"the evaluator's records every {t.every:,} steps and the model now"
            if t.every
            else "the model now (this run has no evaluator)"
        )
        keys = legend([(s.name, s.color) for s in series])
        return (
            f'<div class="mx-sub"><b>now</b> {esc(now)}</div>'
            f'<div class="mx-sub">assign-temperature (log scale; the axis spans the '
            f"dopesheet's keys)</div>{temp}"
            f'<div class="mx-sub">overlap and imbalance of the assignment the model uses; '
            f"near-hard: features with a probability ≥ {NEAR_HARD}</div>{figs}{keys}"
            f'<div class="mx-hint">points: {esc(every)}</div>'
        )


# -- per-category codebook utilization ---------------------------------------------------------
@dataclass(frozen=True)
class UtilizationView:
    owned: tuple[int, ...]  # features each category owns (argmax)
    levels: tuple[tuple[float, ...] | None, ...]  # per category: used fraction per level
    codes: int
    source: Literal["held-out", "training window"]
    step: int | None  # the evaluation's step (held-out)
    window: int | None  # the usage window in training batches (training window)


class UtilizationPanel:
    """Per category and residual level, the fraction of its codes in use."""

    title = "codebook utilization per category"

    def capture(self, trainer: Any) -> UtilizationView:
        model = trainer.model
        k = model.n_categories
        owned = tuple(int(n) for n in np.bincount(model.assignment.categories().cpu(), minlength=k))
        codes = int(model.quantizers[0].codebook_size)
        evaluator = find_evaluator(trainer)
        record = next(
            (h for h in reversed(evaluator.history) if "utilization_levels" in h), None
        ) if evaluator else None  # fmt: skip
        if record is not None:
            held = record["utilization_levels"]
            levels = tuple(
                tuple(float(u) for u in held[name]) if name in held else None
                for name in category_names(k)
            )
            return UtilizationView(owned, levels, codes, "held-out", int(record["step"]), None)
        levels = tuple(
            tuple(float((q.usage_counts() > 0).float().mean()) for q in rvq.quantizers)
            for rvq in model.quantizers
        )
        window = int(model.quantizers[0].quantizers[0].window)
        return UtilizationView(owned, levels, codes, "training window", None, window)

    def render(self, v: UtilizationView) -> str:
        n_levels = max((len(u) for u in v.levels if u is not None), default=1)
        label_w, cell, row_h = 118, 64, 20
        width, height = label_w + n_levels * cell + 4, 18 + row_h * len(v.levels)
        parts = [
            f'<text x="{label_w + (i + 0.5) * cell:.0f}" y="11" class="mx-tick" '
            f'text-anchor="middle" font-weight="600">level {i}</text>'
            for i in range(n_levels)
        ]
        names = category_names(len(v.levels))
        for r, (name, owned, used) in enumerate(zip(names, v.owned, v.levels, strict=True)):
            y = 18 + r * row_h
            features = f"{owned} feature" + ("" if owned == 1 else "s")
            parts.append(
                f'<text x="0" y="{y + 13}" font-size="11" font-weight="600">{esc(name)}</text>'
                f'<text x="22" y="{y + 13}" class="mx-tick">{esc(features)}</text>'
            )
            if used is None:
                parts.append(
                    f'<text x="{label_w}" y="{y + 13}" class="mx-tick">owns no feature: '
                    "not evaluated (pruned at the end)</text>"
                )
                continue
            for i, u in enumerate(used):
                x = label_w + i * cell
                color = "#ef4444" if u < 0.5 else "#6366f1"
                parts.append(
                    f'<rect x="{x}" y="{y + 6}" width="{cell - 30}" height="8" rx="2" '
                    f'fill="#e2e8f0"/><rect x="{x}" y="{y + 6}" width="{(cell - 30) * u:.1f}" '
                    f'height="8" rx="2" fill="{color}"/>'
                    f'<text x="{x + cell - 4}" y="{y + 13}" class="mx-tick" text-anchor="end">'
                    f"{100 * u:.0f}%</text>"
                )
        chart = (
            f'<svg class="mx-chart" viewBox="0 0 {width} {height}" role="img" '
            f'aria-label="{esc(self.title)}" style="max-width:{round(width * 1.35)}px" '
            f'xmlns="http://www.w3.org/2000/svg">{"".join(parts)}</svg>'
        )
        if v.source == "held-out":
            where = (
                f"held-out: codes used by at least one validation row, as evaluated at step "
                f"{v.step:,}"
            )
        else:
            where = (
                f"training window: codes chosen at least once in the last {v.window:,} "
                "training batches (no held-out evaluation yet)"
            )
        return f'<div class="mx-sub">{esc(where)} · {v.codes} codes per level</div>{chart}'


def panels(run: CategoricalRun) -> list[Any]:
    """The categorical explorer's panels for runs built like ``run`` (same data and mode):
    static mode's assignment is fixed, so it has no sharpening curves."""
    table = run.split.table
    if run.mode == "static":
        note = ""
        if run.discovery is not None:
            note = f"K = {run.discovery.k} discovered"
        return [AssignmentPanel(table.features, table.groups, note), UtilizationPanel()]
    return [
        AssignmentPanel(table.features, table.groups),
        AssignmentCurvesPanel(),
        UtilizationPanel(),
    ]
