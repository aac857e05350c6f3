"""``python -m mini.temporal``: check, show, plot and realize dopesheets from the shell."""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from rich.console import Console
from rich.table import Table

from mini.temporal.dopesheet import Dopesheet
from mini.temporal.errors import DopesheetError, DopesheetWarning, Problem


def _load(path: str, steps: int | None) -> Dopesheet:
    ds = Dopesheet.from_csv(path)
    return ds.scaled(steps) if steps else ds


def cmd_check(args: argparse.Namespace, out: Console) -> int:
    problems = []
    for path in args.files:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", DopesheetWarning)
            try:
                ds = Dopesheet.from_csv(path)
            except DopesheetError as e:
                problems += e.problems
                continue
            except OSError as e:
                problems.append(
                    Problem(str(path), None, None, f"cannot read the file: {e.strerror or e}",
                            "check the path")
                )  # fmt: skip
                continue
        for w in caught:
            out.print(f"warning: {w.message}", markup=False, highlight=False)
        phases = ", ".join(p.name for p in ds.phases if p.name) or "no phases"
        out.print(
            f"ok: {path}: {ds.n_steps:,} steps, {len(ds.props)} properties, {phases}",
            markup=False, highlight=False,
        )  # fmt: skip
    for p in problems:
        out.print(str(p), markup=False, highlight=False)
    if problems:
        files = len({p.file for p in problems})
        out.print(
            f"{len(problems)} problem{'s' * (len(problems) > 1)} in {files} file{'s' * (files > 1)}",
            markup=False, highlight=False,
        )  # fmt: skip
        return 1
    return 0


def cmd_show(args: argparse.Namespace, out: Console) -> int:
    ds = _load(args.file, args.steps)
    table = Table(title=f"{ds.source}: {ds.n_steps:,} steps", title_justify="left")
    table.add_column("line", style="dim", justify="right")
    table.add_column("STEP", justify="right", style="bold")
    table.add_column("PHASE", style="magenta")
    table.add_column("ACTION", style="yellow")
    for spec in ds.props.values():
        table.add_column(spec.header, justify="right")
    for r in ds.rows:
        table.add_row(
            ",".join(map(str, r.lines)), f"{r.step:,}", r.phase or "", ", ".join(r.actions),
            *(f"{r.values[n]:g}" if n in r.values else "" for n in ds.props),
        )  # fmt: skip
    out.print(table)
    for ph in ds.phases:
        out.print(f"  phase {ph.name or '(unnamed)'}: steps {ph.start:,}–{ph.end:,} ({len(ph):,})")
    return 0


def cmd_plot(args: argparse.Namespace, out: Console) -> int:
    from mini.temporal.plot import plot_timeline

    fig = plot_timeline(_load(args.file, args.steps))
    fig.savefig(args.output, dpi=args.dpi)
    out.print(f"wrote {args.output}")
    return 0


def cmd_realize(args: argparse.Namespace, out: Console) -> int:
    from mini.temporal.realize import realize

    df = realize(_load(args.file, args.steps))
    df.to_csv(args.output, index=False, float_format="%.10g")
    out.print(f"wrote {args.output}: {len(df):,} rows × {df.shape[1]} columns")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mini.temporal", description="Check, show, plot and realize dopesheets."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("check", help="validate files; exit 1 listing every problem")
    p.add_argument("files", nargs="+")
    p.set_defaults(run=cmd_check)
    for name, fn, helptext in (
        ("show", cmd_show, "print the resolved keyframe table"),
        ("plot", cmd_plot, "plot the schedule to a PNG"),
        ("realize", cmd_realize, "write every step's values to a CSV"),
    ):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("file")
        p.add_argument("--steps", type=int, default=None, help="rescale to this many steps first")
        if name in ("plot", "realize"):
            p.add_argument("-o", "--output", type=Path, required=True)
        if name == "plot":
            p.add_argument("--dpi", type=int, default=120)
        p.set_defaults(run=fn)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200)
    try:
        return args.run(args, out)
    except DopesheetError as e:
        for p in e.problems:
            out.print(str(p), markup=False, highlight=False)
        return 1
    except OSError as e:
        out.print(f"error: {e}", markup=False, highlight=False)
        return 1


if __name__ == "__main__":
    sys.exit(main())
