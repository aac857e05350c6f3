"""Every problem the dopesheet parser reports, with a bad input that triggers it.

``docs/format.md`` lists them; its tables are generated from these cases by running the parser
(``python -m tests.temporal.error_examples`` prints them) and ``test_format_doc.py`` checks the
page still matches, so the documented messages are the real ones.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

from mini.temporal import Dopesheet, DopesheetError


@dataclass(frozen=True)
class Case:
    stage: str
    data: bytes  # the file, as bytes
    options: dict[str, Any] = field(default_factory=dict)  # steps_per_epoch / total_steps
    pick: str = ""  # which of several problems to show (a substring of its message)


def _c(stage: str, text: str, pick: str = "", **options: Any) -> Case:
    return Case(stage, text.encode(), options, pick)


FILE, HEADER, CELLS, STEPS, MERGE = (
    "The file",
    "The header",
    "Cells",
    "Placing relative steps",
    "Rows on one step",
)

CASES = [
    _c(FILE, ""),
    _c(FILE, ",,\n"),
    Case(FILE, b"STEP,PHASE,x\n0,Warm,1\n5,Caf\xe9,2\n"),
    _c(FILE, 'STEP,PHASE,x\n0,A,1\n5,"B,2\n7,,3\n'),
    _c(FILE, 'STEP,PHASE,x\n0,"A"B,1\n'),
    _c(FILE, "STEP,x\n"),
    _c(HEADER, "PHASE,x\nA,1\n"),
    _c(HEADER, "step,x\n0,1\n", pick="no STEP"),
    _c(HEADER, "STEP;PHASE;x\n0;A;1\n"),
    _c(HEADER, "STEP,STEP,x\n0,0,1\n"),
    _c(HEADER, "STEP,,x\n0,,1\n"),
    _c(HEADER, "STEP,Phase,x\n0,A,1\n"),
    _c(HEADER, "STEP,lr:log:linear:x\n0,1\n"),
    _c(HEADER, "STEP,:log\n0,1\n"),
    _c(HEADER, "STEP,lr:lin\n0,1\n"),
    _c(HEADER, "STEP,lr:log:minjrk\n0,1\n"),
    _c(HEADER, "STEP,lr,lr:log\n0,1,1\n"),
    _c(CELLS, "STEP,x\n0,1,2\n"),
    _c(CELLS, "STEP,x\n0,1\n,2\n"),
    _c(CELLS, "STEP,x\n0,1\nabc,2\n"),
    _c(CELLS, "STEP,x\n0,1\n2e13,2\n"),
    _c(CELLS, "STEP,x\n0,1\n1.5,2\n"),
    _c(CELLS, "STEP,x\n0,1\n+1.5,2\n10,3\n"),
    _c(CELLS, "STEP,x\n0,1\n+2e-1,2\n10,3\n"),
    _c(CELLS, "STEP,x\n0,1\n1e-99,2\n"),
    _c(CELLS, "STEP,x\n0,1\n2ep,2\n"),
    _c(CELLS, "STEP,x\n0,1\n50%,2\n"),
    _c(CELLS, "STEP,x\n0,1\n+10%,2\n", total_steps=100),
    _c(CELLS, "STEP,x\n0,1\n120%,2\n", total_steps=100),
    _c(CELLS, "STEP,x\n0,abc\n"),
    _c(CELLS, "STEP,x\n0,inf\n"),
    _c(CELLS, "STEP,lr:log\n0,0\n"),
    _c(CELLS, "STEP,x\n0,0\n10,1 lineer\n"),
    _c(CELLS, "STEP,x\n0,0\n10,linear 1\n"),
    _c(CELLS, "STEP,x\n0,0\n10,1 linear 2\n"),
    _c(CELLS, "STEP,x\n0,0\n10,1|2|3\n"),
    _c(CELLS, "STEP,x\n0,0\n10,|1\n"),
    _c(CELLS, "STEP,x\n0,0\n10,abc|1\n"),
    _c(CELLS, "STEP,x\n0,0\n10,1|abc\n"),
    _c(CELLS, "STEP,lr:log\n0,1\n10,0|1\n"),
    _c(CELLS, "STEP,lr:log\n0,1\n10,1|-1\n"),
    _c(CELLS, "STEP,z::step-end\n0,0\n10,1|2\n"),
    _c(STEPS, "STEP,x\n+5,1\n10,2\n"),
    _c(STEPS, "STEP,x\n0,1\n-5,2\n"),
    _c(STEPS, "STEP,x\n10,1\n5,2\n"),
    _c(STEPS, "STEP,x\n-20,1\n10,2\n"),
    _c(STEPS, "STEP,x\n0,1\n+20,2\n10,3\n"),
    _c(STEPS, "STEP,x\n5,1\n-30,2\n30,3\n"),
    _c(MERGE, "STEP,PHASE,x\n0,A,1\n0,B,\n"),
    _c(MERGE, "STEP,x\n0,1\n+0.5,2\n-5,3\n10,4\n"),
]


def shown(case: Case) -> str:
    """The one problem a case documents, as ``check`` prints it."""
    try:
        Dopesheet.from_csv(_named(case.data), **case.options)
    except DopesheetError as e:
        problems = [p for p in e.problems if case.pick in p.message]
        assert problems, (case, e)
        return str(problems[0])
    raise AssertionError(f"no problem for {case}")


def _named(data: bytes) -> io.BytesIO:
    f = io.BytesIO(data)
    f.name = "bad.csv"
    return f


def _input(case: Case) -> str:
    text = case.data.decode("latin-1")
    for raw, shown_as in (("\\", "\\\\"), ("\t", "\\t"), ("\r", "\\r"), ("|", "\\|")):
        text = text.replace(raw, shown_as)
    text = "".join(c if c.isascii() else f"\\x{ord(c):02x}" for c in text)
    text = text.removesuffix("\n").replace("\n", "⏎")
    options = ", ".join(f"{k}={v}" for k, v in case.options.items())
    return (f"`{text}`" if text else "(empty)") + (f" with `{options}`" if options else "")


def example_tables() -> str:
    """The markdown tables of docs/format.md's error section."""
    out: list[str] = []
    stage = None
    for case in CASES:
        if case.stage != stage:
            stage = case.stage
            out += [
                "",
                f"**{stage}**",
                "",
                "| bad file (`⏎` = new line) | what is reported |",
                "|---|---|",
            ]
        message = shown(case).replace("|", "\\|")
        assert "`" not in message
        out.append(f"| {_input(case)} | `{message}` |")
    return "\n".join(out[1:]) + "\n"


if __name__ == "__main__":
    print(example_tables(), end="")
