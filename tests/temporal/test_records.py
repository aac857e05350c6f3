"""The timeline's value types (State, Phase, PropSpec, Row, Interpolator) are hand-written
records, not ``@dataclass`` classes (that costs ~1 ms a class at import); they must behave as the
frozen dataclasses they replaced: each is compared here with that dataclass, rebuilt from the old
definition."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import pickle
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mini.temporal import MINJERK, Interpolator, Phase, PropSpec, State
from mini.temporal.spec import Row

F = dataclasses.field
# the old definitions: name, fields (name, annotation, field), slots
OLD: dict[type, tuple[list[tuple[str, str, Any]], bool]] = {
    PropSpec: (
        [
            ("name", "str", F()),
            ("space", "Space", F(default="linear")),
            ("interpolator", "str", F(default="minjerk")),
        ],
        True,
    ),
    Phase: ([("name", "str | None", F()), ("start", "int", F()), ("end", "int", F())], True),
    Row: (
        [
            ("step", "int", F()),
            ("phase", "str | None", F(default=None)),
            ("actions", "tuple[str, ...]", F(default=())),
            ("values", "dict[str, float]", F(default_factory=dict)),
            ("lines", "tuple[int, ...]", F(default=())),
            ("curves", "dict[str, str]", F(default_factory=dict)),
            ("arrivals", "dict[str, float]", F(default_factory=dict)),
        ],
        True,
    ),
    State: (
        [
            ("step", "int", F()),
            ("phase", "str | None", F()),
            ("props", "dict[str, float]", F()),
            ("actions", "tuple[str, ...]", F()),
            ("is_phase_start", "bool", F()),
            ("is_phase_end", "bool", F()),
            ("schedule_step", "int | None", F(default=None)),
        ],
        True,
    ),
    Interpolator: (
        [
            ("name", "str", F()),
            ("shape", "Shape", F()),
            ("velocity", "Shape | None", F(default=None)),
            ("acceleration", "Shape | None", F(default=None)),
            ("jumps", "bool", F(default=False)),
        ],
        False,
    ),
}
EXAMPLES: dict[type, tuple[Any, ...]] = {
    PropSpec: ("lr", "log", "cosine"),
    Phase: ("warm-up", 0, 99),
    Row: (10, "main", ("anchor",), {"lr": 0.1}, (3, 4), {"lr": "linear"}, {"lr": 0.2}),
    State: (5, "main", {"lr": 0.1}, ("anchor",), True, False, 7),
    Interpolator: ("sq", np.square, None, np.abs, True),
}
HASHABLE = (PropSpec, Phase, Interpolator)  # State and Row hold dicts: unhashable, as before


def old(cls: type) -> type:
    """The frozen dataclass ``cls`` used to be (same name, fields, defaults and options)."""
    spec, slots = OLD[cls]
    fields = [(n, t, copy.copy(f)) for n, t, f in spec]
    return dataclasses.make_dataclass(cls.__name__, fields, frozen=True, slots=slots)


def pair(cls: type, args: tuple[Any, ...]) -> tuple[Any, Any]:
    return cls(*args), old(cls)(*args)


@pytest.mark.parametrize("cls", list(OLD), ids=lambda c: c.__name__)
def test_repr_eq_hash_and_signature_match_the_dataclass(cls: type) -> None:
    new, ref = pair(cls, EXAMPLES[cls])
    assert repr(new) == repr(ref)
    assert new == cls(*EXAMPLES[cls]) and new != ref  # another class is never equal
    assert new.__eq__((1, 2)) is NotImplemented
    changed = cls(EXAMPLES[cls][0] * 2, *EXAMPLES[cls][1:])
    assert new != changed
    if cls in HASHABLE:
        assert hash(new) == hash(ref) and len({new, cls(*EXAMPLES[cls])}) == 1
    else:
        with pytest.raises(TypeError, match="unhashable"):
            hash(new)
    assert list(inspect.signature(cls).parameters) == list(inspect.signature(old(cls)).parameters)
    assert cls.__match_args__ == old(cls).__match_args__


@pytest.mark.parametrize("cls", list(OLD), ids=lambda c: c.__name__)
def test_the_dataclasses_module_sees_the_same_dataclass(cls: type) -> None:
    new, ref = pair(cls, EXAMPLES[cls])
    assert dataclasses.is_dataclass(cls) and dataclasses.is_dataclass(new)
    described = [(f.name, f.type, f.default, f.default_factory) for f in dataclasses.fields(cls)]
    assert described == [
        (f.name, f.type, f.default, f.default_factory) for f in dataclasses.fields(ref)
    ]
    assert dataclasses.fields(new) == dataclasses.fields(cls)
    assert cls.__dataclass_params__.frozen and cls.__dataclass_params__.eq
    assert dataclasses.asdict(new) == dataclasses.asdict(ref)
    assert dataclasses.astuple(new) == dataclasses.astuple(ref)
    name = dataclasses.fields(cls)[0].name
    moved = dataclasses.replace(new, **{name: EXAMPLES[cls][1]})
    assert type(moved) is cls and getattr(moved, name) == EXAMPLES[cls][1]
    assert moved == cls(EXAMPLES[cls][1], *EXAMPLES[cls][1:])


@pytest.mark.parametrize("cls", list(OLD), ids=lambda c: c.__name__)
def test_frozen_like_the_dataclass(cls: type) -> None:
    new, ref = pair(cls, EXAMPLES[cls])
    name = dataclasses.fields(cls)[0].name
    for obj in (new, ref):
        with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field"):
            setattr(obj, name, 1)
        with pytest.raises(dataclasses.FrozenInstanceError, match="cannot delete field"):
            delattr(obj, name)
    assert hasattr(new, "__dict__") == hasattr(ref, "__dict__")  # slots where there were slots


@pytest.mark.parametrize("cls", list(OLD), ids=lambda c: c.__name__)
def test_pickles_and_copies_and_reads_the_dataclass_state(cls: type) -> None:
    args = EXAMPLES[cls] if cls is not Interpolator else ("lin", np.ones_like)
    new, ref = pair(cls, args)
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        assert pickle.loads(pickle.dumps(new, protocol)) == new
    assert copy.copy(new) == new and copy.deepcopy(new) == new
    if cls is not Interpolator:
        assert copy.deepcopy(new).__getstate__() == ref.__getstate__()
    # a pickle written by the dataclass version holds this state: it still loads
    fresh = cls.__new__(cls)
    state = ref.__getstate__() if cls is not Interpolator else dict(vars(ref))
    fresh.__setstate__(state)
    assert fresh == new


def test_match_and_defaults() -> None:
    match State(3, "a", {}, (), False, True):
        case State(step, phase, schedule_step=None):
            assert (step, phase) == (3, "a")
        case _:
            pytest.fail("State did not match positionally")
    a, b = Row(0), Row(0)
    assert a.values == {} and a.values is not b.values  # a new dict each, as default_factory
    assert PropSpec("x") == PropSpec("x", "linear", "minjerk")
    assert get_minjerk() == MINJERK


def get_minjerk() -> Interpolator:
    from mini.temporal import get_interpolator

    return get_interpolator("minjerk")


def test_a_dataclass_may_extend_a_record() -> None:
    @dataclasses.dataclass(frozen=True)
    class Tagged(Phase):
        tag: str = ""

    t = Tagged("a", 0, 3, tag="x")
    assert (t.name, t.end, t.tag) == ("a", 3, "x") and len(t) == 4
    assert [f.name for f in dataclasses.fields(Tagged)] == ["name", "start", "end", "tag"]
    assert repr(t).endswith("Tagged(name='a', start=0, end=3, tag='x')")
    assert t != Phase("a", 0, 3) and t == Tagged("a", 0, 3, "x") != Tagged("a", 0, 3, "y")
    fresh = Tagged.__new__(Tagged)
    fresh.__setstate__(copy.deepcopy(t.__getstate__()))  # how pickle and copy restore it
    assert fresh == t and copy.copy(t) == t


@given(st.integers(), st.text(max_size=5) | st.none(), st.integers(), st.integers())
def test_phase_equality_and_hash_follow_the_fields(
    a: int, name: str | None, s: int, e: int
) -> None:
    p, q = Phase(name, s, e), Phase(name, s, e + (a != 0))
    assert (p == q) == (a == 0) and (hash(p) == hash(q)) >= (a == 0)
    assert hash(p) == hash((name, s, e))
