"""The GATE column: phases that wait for a metric (``until``) or move on at one (``when``).

A gate cell is read by a small recursive-descent parser (never ``eval``)::

    gate      := 'until' cond opts | 'when' cond opts
    opts      := ('max' INT | 'min' INT | 'blend' INT)*      until: max required; when: min, blend
    cond      := conj ('or' conj)*
    conj      := atom ('and' atom)*
    atom      := '(' cond ')' | NAME '(' ')' | NAME test
    test      := OP NUMBER | 'plateau' INT ['delta' NUMBER] ['max' | 'min']
               | 'stable' INT ['delta' NUMBER]

``NAME '(' ')'`` is a custom condition registered from Python. Conditions are evaluated by
:class:`mini.temporal.conditions.ConditionState`.

>>> gate = parse_gate("until loss-recon < 1e-3 and usage stable 100 max 2000")
>>> gate.kind, gate.max_hold, gate.metrics
('until', 2000, ['loss-recon', 'usage'])
>>> print(gate)
until loss-recon < 0.001 and usage stable 100 delta 0.0 max 2000
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal, Union

KEYWORDS = frozenset(
    {"until", "when", "and", "or", "plateau", "stable", "delta", "max", "min", "blend"}
)
OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
MAX_WINDOW = 10**12
_TOKEN = re.compile(
    r"\s*(?:(?P<num>[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(?![A-Za-z_])"
    r"|(?P<op><=|>=|<|>)|(?P<paren>[()])|(?P<name>[A-Za-z_][A-Za-z0-9_\-./:]*)|(?P<bad>\S))"
)


class GateSyntaxError(Exception):
    """A gate cell that cannot be read: ``message`` says what (with the character), ``fix`` how."""

    def __init__(self, message: str, fix: str, position: int):
        super().__init__(message)
        self.message, self.fix, self.position = message, fix, position


# -- the condition tree ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Compare:
    metric: str
    op: str
    value: float

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.value!r}"


@dataclass(frozen=True, slots=True)
class Plateau:
    """No improvement by more than ``delta`` for ``steps`` steps (``mode``: which way is better)."""

    metric: str
    steps: int
    delta: float = 0.0
    mode: Literal["min", "max"] = "min"

    def __str__(self) -> str:
        return f"{self.metric} plateau {self.steps} delta {self.delta!r} {self.mode}"


@dataclass(frozen=True, slots=True)
class Stable:
    """Every value logged over the last ``steps`` steps lies within ``delta`` of the others."""

    metric: str
    steps: int
    delta: float = 0.0

    def __str__(self) -> str:
        return f"{self.metric} stable {self.steps} delta {self.delta!r}"


@dataclass(frozen=True, slots=True)
class Custom:
    """A condition written in Python, registered under ``name`` (``name()`` in a cell)."""

    name: str

    def __str__(self) -> str:
        return f"{self.name}()"


@dataclass(frozen=True, slots=True)
class All:
    parts: tuple[Condition, ...]

    def __str__(self) -> str:
        return " and ".join(_wrap(p) for p in self.parts)


@dataclass(frozen=True, slots=True)
class Any_:
    parts: tuple[Condition, ...]

    def __str__(self) -> str:
        return " or ".join(_wrap(p) for p in self.parts)


Condition = Union[Compare, Plateau, Stable, Custom, All, Any_]  # noqa: UP007


def _wrap(c: Condition) -> str:
    return f"({c})" if isinstance(c, All | Any_) else str(c)


@dataclass(frozen=True, slots=True)
class Gate:
    """One GATE cell: ``kind`` ``until`` (hold the row until ``condition``, at most ``max_hold``
    steps, at least ``min_hold``) or ``when`` (move on to the row once ``condition`` holds, at
    least ``min_hold`` steps after the previous row; blend over ``blend`` steps).

    Attributes:
        kind: ``until`` or ``when``.
        condition: the parsed condition.
        max_hold: ``until``: the most steps to hold.
        min_hold: the fewest steps before it may open.
        blend: ``when``: steps to blend over.
    """

    kind: Literal["until", "when"]
    condition: Condition
    max_hold: int | None = None
    min_hold: int = 0
    blend: int = 0

    def __str__(self) -> str:
        text = f"{self.kind} {self.condition}"
        if self.max_hold is not None:
            text += f" max {self.max_hold}"
        if self.min_hold:
            text += f" min {self.min_hold}"
        if self.blend:
            text += f" blend {self.blend}"
        return text

    @property
    def metrics(self) -> list[str]:
        """The metric names the condition reads, in order of appearance."""
        return list(dict.fromkeys(n.metric for n in walk(self.condition) if hasattr(n, "metric")))

    @property
    def customs(self) -> list[str]:
        return [n.name for n in walk(self.condition) if isinstance(n, Custom)]


def walk(c: Condition) -> Iterator[Condition]:
    """Every node of a condition, depth first (the order windows are numbered in)."""
    yield c
    if isinstance(c, All | Any_):
        for p in c.parts:
            yield from walk(p)


# -- parsing --------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str
    text: str
    pos: int


def _tokens(text: str) -> list[_Tok]:
    out = []
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup
        if kind is None:
            continue
        tok = _Tok(kind, m.group(kind), m.start(kind))
        if kind == "bad":
            raise GateSyntaxError(
                f"unexpected {tok.text!r} at character {tok.pos + 1}",
                "conditions use metric names, numbers, < <= > >=, plateau, stable, and/or and ()",
                tok.pos,
            )
        out.append(tok)
    return out


EXAMPLE = "e.g. 'until loss-recon < 1e-3 max 2000' or 'when val-total plateau 200 delta 1e-3'"


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.toks = _tokens(text)
        self.i = 0

    def peek(self, k: int = 0) -> _Tok | None:
        j = self.i + k
        return self.toks[j] if j < len(self.toks) else None

    def is_word(self, word: str, k: int = 0) -> bool:
        t = self.peek(k)
        return t is not None and t.kind == "name" and t.text.lower() == word

    def fail(self, what: str, fix: str, tok: _Tok | None = None) -> GateSyntaxError:
        tok = tok or self.peek()
        if tok is None:
            return GateSyntaxError(f"{what}, but the cell ends", fix, len(self.text))
        return GateSyntaxError(f"{what}, got {tok.text!r} at character {tok.pos + 1}", fix, tok.pos)

    def take(self) -> _Tok:
        tok = self.peek()
        assert tok is not None
        self.i += 1
        return tok

    def number(self, what: str) -> float:
        tok = self.peek()
        if tok is None or tok.kind != "num":
            raise self.fail(f"expected {what} (a number)", f"write a number, {EXAMPLE}")
        value = float(self.take().text)
        if not math.isfinite(value):
            raise self.fail(f"{what} must be finite", "write a finite number", tok)
        return value

    def whole(self, what: str) -> int:
        tok = self.peek()
        value = self.number(what)
        if value != int(value) or not 1 <= value <= MAX_WINDOW:
            raise self.fail(
                f"{what} must be a whole number of steps from 1 to {MAX_WINDOW:.0e}",
                "write a whole number such as 500",
                tok,
            )
        return int(value)

    def gate(self) -> Gate:
        tok = self.peek()
        if not (self.is_word("until") or self.is_word("when")):
            raise self.fail("a gate starts with 'until' or 'when'", EXAMPLE, tok)
        kind = self.take().text.lower()
        cond = self.condition()
        opts: dict[str, int] = {}
        while self.peek() is not None:
            t = self.peek()
            assert t is not None
            word = t.text.lower() if t.kind == "name" else ""
            allowed = ("max", "min") if kind == "until" else ("min", "blend")
            if word not in allowed:
                raise self.fail(
                    f"expected {' or '.join(repr(a) for a in allowed)} or the end of the gate",
                    f"'{kind}' takes {', '.join(a + ' N' for a in allowed)}"
                    + (
                        "; join conditions with 'and'/'or'"
                        if t.kind == "name" and word not in KEYWORDS
                        else ""
                    ),
                )
            if word in opts:
                raise self.fail(f"{word!r} given twice", f"keep one '{word} N'", t)
            self.take()
            opts[word] = self.whole(f"'{word}'") if word != "blend" else self.blend()
        if kind == "until" and "max" not in opts:
            raise GateSyntaxError(
                "an 'until' gate needs 'max N' (the most steps to hold, so the run ends)",
                f"add e.g. ' max 2000': '{self.text.strip()} max 2000'",
                len(self.text),
            )
        max_hold, min_hold = opts.get("max"), opts.get("min", 0)
        if max_hold is not None and min_hold > max_hold:
            raise GateSyntaxError(
                f"'min {min_hold}' is more than 'max {max_hold}'",
                "make min at most max",
                len(self.text),
            )
        return Gate(kind, cond, max_hold, min_hold, opts.get("blend", 0))  # type: ignore[arg-type]

    def blend(self) -> int:
        tok = self.peek()
        value = self.number("'blend'")
        if value != int(value) or not 0 <= value <= MAX_WINDOW:
            raise self.fail("'blend' must be a whole number of steps >= 0", "e.g. blend 200", tok)
        return int(value)

    def condition(self) -> Condition:
        parts = [self.conjunction()]
        while self.is_word("or"):
            self.take()
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else Any_(tuple(parts))

    def conjunction(self) -> Condition:
        parts = [self.atom()]
        while self.is_word("and"):
            self.take()
            parts.append(self.atom())
        return parts[0] if len(parts) == 1 else All(tuple(parts))

    def atom(self) -> Condition:
        tok = self.peek()
        if tok is not None and tok.kind == "paren" and tok.text == "(":
            self.take()
            inner = self.condition()
            close = self.peek()
            if close is None or close.text != ")":
                raise self.fail("expected ')'", f"close the '(' at character {tok.pos + 1}")
            self.take()
            return inner
        if tok is None or tok.kind != "name":
            raise self.fail("expected a metric name", f"write a condition, {EXAMPLE}")
        if tok.text.lower() in KEYWORDS:
            raise self.fail(
                "expected a metric name", f"{tok.text!r} is a keyword; name the metric first"
            )
        name = self.take().text
        nxt = self.peek()
        if nxt is not None and nxt.text == "(":
            self.take()
            if self.peek() is None or self.peek().text != ")":  # type: ignore[union-attr]
                raise self.fail("expected ')'", f"a custom condition is written '{name}()'")
            self.take()
            return Custom(name)
        if nxt is not None and nxt.kind == "op":
            self.take()
            return Compare(name, nxt.text, self.number(f"the value after {nxt.text!r}"))
        if self.is_word("plateau"):
            self.take()
            steps, delta = self.whole("the plateau's steps"), self.delta()
            mode: Literal["min", "max"] = "min"
            if (self.is_word("max") or self.is_word("min")) and not _is_num(self.peek(1)):
                mode = self.take().text.lower()  # type: ignore[assignment]
            return Plateau(name, steps, delta, mode)
        if self.is_word("stable"):
            self.take()
            return Stable(name, self.whole("the stable window's steps"), self.delta())
        raise self.fail(
            f"expected <, <=, >, >=, 'plateau' or 'stable' after the metric {name!r}",
            f"e.g. '{name} < 0.01', '{name} plateau 200' or '{name} stable 100 delta 0.01'",
        )

    def delta(self) -> float:
        if not self.is_word("delta"):
            return 0.0
        self.take()
        tok = self.peek()
        value = self.number("the delta")
        if value < 0:
            raise self.fail("the delta must be >= 0", "e.g. delta 1e-3", tok)
        return value


def _is_num(tok: _Tok | None) -> bool:
    return tok is not None and tok.kind == "num"


def parse_gate(text: str) -> Gate:
    """Parse one GATE cell. Raises :class:`GateSyntaxError` (with the character position).

    Args:
        text: the GATE cell.
    """
    parser = _Parser(text)
    gate = parser.gate()
    if parser.peek() is not None:  # pragma: no cover - gate() consumes to the end
        raise parser.fail("unexpected text after the gate", "remove it")
    return gate


def parse_condition(text: str) -> Condition:
    """Parse a bare condition (``loss < 0.1 and usage stable 100``), e.g. for Python callers.

    Args:
        text: the condition.
    """
    parser = _Parser(text)
    cond = parser.condition()
    if parser.peek() is not None:
        raise parser.fail("unexpected text after the condition", "join conditions with and/or")
    return cond
