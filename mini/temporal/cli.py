"""``python -m mini.temporal``: check, show, plot and realize dopesheets from the shell.

``-o -`` writes to stdout (the CSV for ``realize``, PNG bytes for ``plot``); files are written
atomically. A user mistake is one clear line (``file:line:column: ... (fix: ...)`` or
``error: ...``) and exit status 1, never a traceback; so is a schedule too big for memory
(:class:`~mini.temporal.ScheduleTooLargeError`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import warnings
from pathlib import Path
from typing import IO

from rich.console import Console
from rich.table import Table

from mini.atomic import atomic_write
from mini.temporal.check import check_csv
from mini.temporal.dopesheet import Dopesheet
from mini.temporal.errors import MAX_PROBLEMS, DopesheetError, DopesheetWarning, Problem
from mini.temporal.gate_rows import describe_gate
from mini.temporal.memory_guard import ScheduleTooLargeError
from mini.temporal.sizes import MEMORY_SHARE, fits_in_memory, human_bytes, memory_nbytes
from mini.temporal.spec import STEP, Row
from mini.temporal.timeline import Timeline

REALIZE_CHUNK = 1_000_000
"""Steps realized and written at a time by ``realize``, so any length that fits on disk works."""

PLOT_RESCALE = 100_000
"""The ``--steps`` suggested when a schedule is too long to plot whole."""


class UsageError(Exception):
    """A mistake on the command line or in what it asks for: printed as ``error: ...``."""


def positive_int(text: str) -> int:
    """argparse type: a whole number >= 1 (the flag's name comes from argparse's message)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {value}")
    return value


def _say(console: Console, text: str) -> None:
    console.print(text, markup=False, highlight=False)


def _load(args: argparse.Namespace) -> Dopesheet:
    try:
        ds = Dopesheet.from_csv(
            args.file, steps_per_epoch=args.steps_per_epoch, total_steps=args.total_steps
        )
    except OSError as e:
        raise UsageError(f"cannot read {args.file}: {e.strerror or e}") from None
    return ds.scaled(args.steps) if args.steps else ds


def _too_big(n_steps: int, nbytes: int) -> str:
    total = memory_nbytes() or 0
    return (
        f"realizing all {n_steps:,} steps at once takes {human_bytes(nbytes)}, more than "
        f"{MEMORY_SHARE:.0%} of this machine's {human_bytes(total)} of memory"
    )


def cmd_check(args: argparse.Namespace, out: Console, err: Console) -> int:
    problems: list[Problem] = []
    total = 0
    files: set[str] = set()
    for path in args.files:
        try:  # check_csv returns its warnings in the summary instead of issuing them
            summary = check_csv(
                path, steps_per_epoch=args.steps_per_epoch, total_steps=args.total_steps
            )
        except DopesheetError as e:
            problems += e.problems
            total += e.total
            files.add(str(path))
            continue
        except OSError as e:
            reason = f"cannot read the file: {e.strerror or e}"
            problems.append(Problem(str(path), None, None, reason, "check the path"))
            total += 1
            files.add(str(path))
            continue
        for message in summary.warnings:
            _say(out, f"warning: {message}")
        if not fits_in_memory(summary.realized_nbytes):
            lines = ",".join(map(str, summary.last_lines))
            _say(
                out,
                f"warning: {path}:{lines}: {_too_big(summary.n_steps, summary.realized_nbytes)}; "
                "training steps through it and `realize -o` writes it in chunks, but `plot` and "
                "realize(ds) in Python need it whole (is the last step a typo? to plot, rescale "
                f"with --steps {PLOT_RESCALE})",
            )
        for g in summary.gates:
            what = describe_gate(g, summary.n_steps - 1)
            _say(out, f"gate: {path}:{g.line}: step {g.step:,}: {what}")
        phases = ", ".join(summary.phase_names) or "no phases"
        if summary.n_phases > len(summary.phase_names):
            phases += f", … ({summary.n_phases:,} phases)"
        searched = (
            f", {len(summary.search)} search cells ({', '.join(summary.search)}), read at their "
            "nominal values"
            if summary.search
            else ""
        )
        _say(
            out,
            f"ok: {path}: {summary.n_steps:,} steps, {len(summary.specs)} properties, {phases}"
            + searched,
        )
    for p in problems:
        _say(out, str(p))
    if total:
        if total > len(problems):
            _say(
                out,
                f"… and {total - len(problems):,} more problems (the first {MAX_PROBLEMS} of "
                "each file are shown)",
            )
        n = len(files)
        _say(out, f"{total:,} problem{'s' * (total > 1)} in {n} file{'s' * (n > 1)}")
        return 1
    return 0


def cmd_show(args: argparse.Namespace, out: Console, err: Console) -> int:
    ds = _load(args)
    table = Table(title=f"{ds.source}: {ds.n_steps:,} steps", title_justify="left")
    table.add_column("line", style="dim", justify="right")
    table.add_column("STEP", justify="right", style="bold")
    table.add_column("PHASE", style="magenta")
    table.add_column("ACTION", style="yellow")
    for spec in ds.specs.values():
        table.add_column(spec.header, justify="right")
    gates = {g.step: g.text for g in ds.gates}
    if gates:
        table.add_column("GATE", style="cyan")
    searched = {(p.line, p.prop): p for p in ds.search or ()}
    for r in ds.rows:
        cells = [_key_text(r, n, searched) for n in ds.specs]
        cells += [gates.get(r.step, "")] if gates else []
        step = _key_text(r, STEP, searched) or f"{r.step:,}"
        table.add_row(
            ",".join(map(str, r.lines)), step, r.phase or "", ", ".join(r.actions), *cells
        )
    out.print(table)
    for p in ds.search or ():
        out.print(f"  search {p.name}: {p.text} (nominal {p.nominal:g})")
    for ph in ds.phases:
        out.print(f"  phase {ph.name or '(unnamed)'}: steps {ph.start:,}–{ph.end:,} ({len(ph):,})")
    for g in ds.gates:
        out.print(f"  gate at step {g.step:,} (line {g.line}): {describe_gate(g, ds.last_step)}")
    return 0


def _key_text(r: Row, name: str, searched: dict | None = None) -> str:
    """A key as ``show`` prints it: ``0.003``, ``0.003 linear``, ``1e-05|0.001 cosine``; a
    search cell as ``?1e-4..1e-2 → 0.001`` (its range, then its nominal value)."""
    for line in r.lines if searched else ():
        if (p := searched.get((line, name))) is not None:  # type: ignore[union-attr]
            nominal = f"{r.step:,}" if name == STEP else f"{p.nominal:g}"
            return f"{p.text}{p.suffix} → {nominal}"
    if name not in r.values:
        return ""
    text = f"{r.values[name]:g}"
    if name in r.arrivals:
        text = f"{r.arrivals[name]:g}|{text}"
    return f"{text} {r.curves[name]}" if name in r.curves else text


def plot_format(output: str) -> str:
    """The image format for ``output`` (its suffix; PNG for ``-`` or no suffix), checked
    against the formats matplotlib can write."""
    from matplotlib.backend_bases import FigureCanvasBase

    suffix = "" if output == "-" else Path(output).suffix.lstrip(".").lower()
    fmt = suffix or "png"
    supported = FigureCanvasBase.get_supported_filetypes()
    if fmt not in supported:
        raise UsageError(
            f"-o {output}: matplotlib cannot write {fmt!r} images "
            f"(fix: use one of the formats matplotlib supports: {', '.join(sorted(supported))})"
        )
    return fmt


def cmd_plot(args: argparse.Namespace, out: Console, err: Console) -> int:
    fmt = plot_format(args.output)
    ds = _load(args)
    if not fits_in_memory(ds.realized_nbytes):
        raise UsageError(
            f"{ds.source}: cannot plot: {_too_big(ds.n_steps, ds.realized_nbytes)} "
            f"(fix: rescale it for the plot with --steps {PLOT_RESCALE})"
        )
    from mini.temporal.plot import plot_timeline

    try:
        fig = plot_timeline(ds)
        if args.output == "-":
            fig.savefig(sys.stdout.buffer, format=fmt, dpi=args.dpi)
            sys.stdout.buffer.flush()
        else:
            with atomic_write(args.output, "wb") as f:
                fig.savefig(f, format=fmt, dpi=args.dpi)
    except MemoryError:
        raise UsageError(
            f"{ds.source}: out of memory plotting {ds.n_steps:,} steps "
            f"(fix: rescale it for the plot with --steps {PLOT_RESCALE})"
        ) from None
    _say(err if args.output == "-" else out, f"wrote {args.output}")
    return 0


def write_realized(timeline: Timeline, f: IO[str], chunk: int | None = None) -> int:
    """Write every step of ``timeline`` as CSV to ``f``, ``chunk`` steps at a time (default
    :data:`REALIZE_CHUNK`; memory stays bounded whatever the length). Returns the number of
    columns."""
    from mini.temporal.realize import realize

    chunk = chunk or REALIZE_CHUNK
    n = len(timeline)
    columns = 0
    for start in range(0, n, chunk):
        df = realize(timeline, start, min(n, start + chunk))
        df.to_csv(f, header=start == 0, index=False, float_format="%.10g", lineterminator="\n")
        columns = df.shape[1]
    return columns


def cmd_realize(args: argparse.Namespace, out: Console, err: Console) -> int:
    ds = _load(args)
    if ds.gates:
        _say(
            err,
            f"note: {ds.source} has {len(ds.gates)} gate(s): this is its nominal schedule (no gate "
            "holds or moves on); a run writes the schedule it followed to as-run.csv",
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DopesheetWarning)  # said above, once
        timeline = Timeline(ds)
    if args.output == "-":
        columns = write_realized(timeline, sys.stdout)
        sys.stdout.flush()
    else:
        _check_disk(Path(args.output), ds)
        with atomic_write(args.output, "w") as f:
            columns = write_realized(timeline, f)
    _say(
        err if args.output == "-" else out,
        f"wrote {args.output}: {ds.n_steps:,} rows × {columns} columns",
    )
    return 0


def _check_disk(path: Path, ds: Dopesheet) -> None:
    """Refuse at once when even the shortest possible CSV of the run cannot fit on the disk."""
    folder = path.parent if str(path.parent) else Path(".")
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    free = shutil.disk_usage(folder).free
    at_least = ds.n_steps * (2 + 2 * len(ds.specs) + 3)  # a digit and a comma per cell
    if at_least > free:
        raise UsageError(
            f"-o {path}: {ds.n_steps:,} steps take at least {human_bytes(at_least)} as CSV, but "
            f"only {human_bytes(free)} is free there (fix: rescale with --steps N, or write "
            "elsewhere)"
        )


def cmd_from_pbt(args: argparse.Namespace, out: Console, err: Console) -> int:
    """A Ray Tune PBT policy log as a dopesheet (the reading lives in mini.temporal.pbt_policy)."""
    from mini.temporal.pbt_policy import PolicyError, policy_dopesheet, read_policy

    try:
        policy = read_policy(args.file)
        ds = policy_dopesheet(
            policy, steps_per_iteration=args.steps_per_iteration, transition=args.transition,
            blend=args.blend, log=tuple(args.log), last_iteration=args.iterations,
            source=str(args.file),
        )  # fmt: skip
    except OSError as e:
        raise UsageError(f"cannot read {args.file}: {e.strerror or e}") from None
    except PolicyError as e:
        raise UsageError(str(e)) from None
    if args.output == "-":
        ds.as_df().to_csv(sys.stdout, index=False)
    else:
        ds.to_csv(args.output)
    changes = len(policy.changes)
    _say(err if args.output == "-" else out, f"wrote {args.output}: {changes} exploit steps, "
         f"{len(ds.specs)} properties, {ds.n_steps:,} steps ({args.transition})")  # fmt: skip
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mini.temporal",
        description="Check, show, plot and realize dopesheets (format: docs/format.md).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    units = argparse.ArgumentParser(add_help=False)
    units.add_argument(
        "--steps-per-epoch", type=positive_int, metavar="N", help="what 1ep means in STEP cells"
    )
    units.add_argument(
        "--total-steps", type=positive_int, metavar="N", help="the run length that % is a share of"
    )
    p = sub.add_parser(
        "check", parents=[units], help="validate files; exit 1 listing every problem"
    )
    p.add_argument("files", nargs="+")
    p.set_defaults(run=cmd_check)
    for name, fn, helptext in (
        ("show", cmd_show, "print the resolved keyframe table"),
        ("plot", cmd_plot, "plot the schedule (PNG, SVG, PDF, ... by the suffix of -o)"),
        ("realize", cmd_realize, "write every step's values as CSV"),
    ):
        p = sub.add_parser(name, parents=[units], help=helptext)
        p.add_argument("file")
        p.add_argument("--steps", type=positive_int, metavar="N", help="rescale to N steps first")
        if name in ("plot", "realize"):
            p.add_argument(
                "-o", "--output", required=True, metavar="FILE", help="output file, - for stdout"
            )
        if name == "plot":
            p.add_argument("--dpi", type=positive_int, default=120)
        p.set_defaults(run=fn)
    p = sub.add_parser(
        "from-pbt", help="turn a Ray Tune PBT policy log (pbt_policy_*.txt) into a dopesheet"
    )
    p.add_argument("file", help="a pbt_policy_<trial>.txt that Tune wrote")
    p.add_argument(
        "-o", "--output", required=True, metavar="FILE", help="dopesheet CSV, - for stdout"
    )
    p.add_argument(
        "--steps-per-iteration", type=positive_int, default=1, metavar="N",
        help="training steps per Tune iteration (a report): keys land at iteration × N",
    )  # fmt: skip
    p.add_argument(
        "--transition", choices=("hold", "smooth"), default="hold",
        help="hold: the value changes at the exploit step, as Tune replays it; smooth: a "
        "minimum-jerk move over --blend steps",
    )  # fmt: skip
    p.add_argument("--blend", type=positive_int, default=None, metavar="N", help="smooth: steps")
    p.add_argument("--log", action="append", default=[], metavar="KEY", help="log-space key")
    p.add_argument("--iterations", type=positive_int, default=None, help="end the run there")
    p.set_defaults(run=cmd_from_pbt)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200)
    err = Console(stderr=True, soft_wrap=True, width=None if sys.stderr.isatty() else 200)
    try:
        return args.run(args, out, err)
    except DopesheetError as e:
        for p in e.problems:
            _say(err, str(p))
        if e.total > len(e.problems):
            _say(err, f"… and {e.total - len(e.problems):,} more problems")
        return 1
    except BrokenPipeError:  # e.g. `realize -o - | head`: the reader has all it wants
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except UsageError as e:
        _say(err, f"error: {e}")
        return 1
    except ScheduleTooLargeError as e:  # more values at once than this machine's memory holds
        _say(err, f"error: {args.file}: {e}")
        return 1
    except OSError as e:  # includes mini.atomic.OutputError ("no space left on device writing X")
        where = f" ({e.filename})" if e.filename and str(e.filename) not in str(e.strerror) else ""
        _say(err, f"error: {e.strerror or e}{where}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
