"""The flags every training script takes (:func:`script_parser`) and argparse types that turn a
bad value into a usage error naming the flag. Use them through :mod:`mini.training.script`."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

__all__ = ["int_at_least", "port_number", "script_parser"]


def int_at_least(low: int, meaning: str = "") -> Callable[[str], int]:
    """An argparse ``type``: a whole number ``>= low``; anything else is a usage error naming
    the flag (argparse adds it) and the valid range.

    Args:
        low: the smallest valid value.
        meaning: what the number is, added to the error (``"a TCP port"``).
    """

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low:
            what = f" ({meaning})" if meaning else ""
            raise argparse.ArgumentTypeError(
                f"{value} is out of range: use a number >= {low}{what}"
            )
        return value

    parse.__name__ = f"integer >= {low}"
    return parse


def port_number(text: str) -> int:
    """An argparse ``type``: a TCP port, 1–65535.

    Args:
        text: the flag's value as typed.
    """
    value = int_at_least(1, "a TCP port")(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"{value} is out of range: use a port from 1 to 65535")
    return value


port_number.__name__ = "port"


def script_parser(
    description: str, *, schedule: Path, out: str | Path, frames: int
) -> argparse.ArgumentParser:
    """A parser with the flags every run takes: ``--schedule``, ``--steps``, ``--out``,
    ``--seed``, ``--no-video``, ``--frames``, ``--resume``, ``--watch``, ``--overwrite``,
    ``--checkpoint-every``, ``--threads``, ``--onednn`` and ``--explore`` with ``--host`` and
    ``--port``. Add the script's own flags to it.

    Args:
        description: the script's one-line description (``--help``).
        schedule: the default dopesheet CSV.
        out: the folder that holds one run folder per run (``out/<name>``).
        frames: the default number of video frames.
    """
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--schedule", type=Path, default=schedule, help="dopesheet CSV")
    p.add_argument(
        "--steps",
        type=int_at_least(2),
        default=None,
        help="rescale the schedule to N steps (quick look)",
    )
    p.add_argument(
        "--out", type=Path, default=None,
        help=f"output folder (default: a new {out}/<date>-<n>/ per run, {out}/latest "
        "pointing to the newest; with --resume, the resumed run's folder)",
    )  # fmt: skip
    p.set_defaults(out_base=Path(out))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-video", action="store_true", help="skip the MP4")
    p.add_argument(
        "--frames",
        type=int_at_least(2),
        default=frames,
        help="video frames (dense early, sparse late)",
    )
    p.add_argument(
        "--resume", type=Path, default=None,
        help="checkpoint file or run folder to resume (a corrupt newest checkpoint falls back "
        "to the previous one)",
    )  # fmt: skip
    p.add_argument(
        "--watch", action="store_true",
        help="adopt saved edits of the --schedule file during the run (invalid edits are "
        "reported and ignored)",
    )  # fmt: skip
    p.add_argument(
        "--overwrite", action="store_true",
        help="replace the run in --out (only a run folder, one with run.json, and only the "
        "files runs write there; other files stay)",
    )  # fmt: skip
    p.add_argument(
        "--checkpoint-every", type=int_at_least(0), default=2000,
        help="checkpoint every N steps (0: only at phase ends and the end of the run)",
    )  # fmt: skip
    p.add_argument(
        "--threads", type=int_at_least(1), default=1,
        help="torch threads (tiny models run fastest on one; more only adds sync)",
    )  # fmt: skip
    p.add_argument(
        "--explore", action="store_true",
        help="steer the run from a local web page: Start/Pause/Reset, a slider per dopesheet "
        "property, action buttons, Save as dopesheet (needs pip install 'dopesheet[explore]')",
    )  # fmt: skip
    p.add_argument(
        "--host", default="127.0.0.1",
        help="address the --explore page listens on (default 127.0.0.1: this machine only)",
    )  # fmt: skip
    p.add_argument(
        "--port", type=port_number, default=None,
        help="port of the --explore page (default: a free one)",
    )  # fmt: skip
    p.add_argument(
        "--onednn", action="store_true",
        help="use oneDNN (mkldnn) kernels; off by default: on these tiny models its per-call "
        "setup costs more than it saves (~20%% more steps/s without it)",
    )  # fmt: skip
    return p
