"""Frozen value records (``State``, ``Phase``, ``PropSpec``, ``Row``, ``Interpolator``) that act
as frozen dataclasses without ``@dataclass``'s cost at import.

``@dataclass`` compiles every method it generates from source when the class is created (about
1 ms a class on Python 3.11), which was most of what ``from mini.temporal import Timeline`` cost
after numpy. A :class:`Record` subclass names its fields and writes its ``__init__``;
:class:`Record` gives it what the frozen dataclass generated, with the same behaviour: ``repr`` text, ``==`` (same class, equal fields),
``hash`` (of the fields' tuple), ``dataclasses.FrozenInstanceError`` on assignment, pickling and
copying, ``__match_args__``.

The records are still dataclasses to :mod:`dataclasses`: ``__dataclass_fields__`` and
``__dataclass_params__`` are built on first use (by ``dataclasses.make_dataclass``, from the
class's annotations and ``__init__``'s defaults), so ``dataclasses.replace``, ``fields``,
``asdict`` and ``is_dataclass`` work on them as before, and ``import dataclasses`` happens only
then.
"""

from __future__ import annotations

import reprlib
from collections.abc import Callable
from operator import attrgetter
from typing import Any, ClassVar

_set = object.__setattr__


class _DataclassMetadata:
    """``__dataclass_fields__`` or ``__dataclass_params__`` of a :class:`Record` subclass, made on
    first read and then stored on the class (which shadows this descriptor from then on)."""

    def __init__(self, attribute: str) -> None:
        self.attribute = attribute

    def __get__(self, instance: object, owner: type) -> Any:
        # a plain subclass of a record has the record's fields, as under @dataclass
        record = next((k for k in owner.__mro__ if _is_record(k)), None)
        if record is None:  # Record itself is no dataclass
            raise AttributeError(self.attribute)
        if self.attribute not in vars(record):
            _describe_as_dataclass(record)
        return vars(record)[self.attribute]


def _is_record(cls: type) -> bool:
    return "_fields" in vars(cls) and cls is not Record


def _describe_as_dataclass(cls: type[Record]) -> None:
    """Give ``cls`` the dataclass metadata of the frozen dataclass it stands for."""
    import dataclasses
    import inspect

    annotations: dict[str, Any] = {}
    for k in reversed(cls.__mro__):
        annotations.update(vars(k).get("__annotations__", {}))
    params = inspect.signature(cls.__init__).parameters
    spec = []
    for name in cls._fields:
        default = params[name].default
        if name in cls._factories:
            f = dataclasses.field(default_factory=cls._factories[name])
        elif default is inspect.Parameter.empty:
            f = dataclasses.field()
        else:
            f = dataclasses.field(default=default)
        spec.append((name, annotations.get(name, "Any"), f))
    shadow = dataclasses.make_dataclass(
        cls.__name__, spec, init=False, repr=False, eq=True, frozen=True
    )
    type.__setattr__(cls, "__dataclass_fields__", shadow.__dataclass_fields__)
    type.__setattr__(cls, "__dataclass_params__", shadow.__dataclass_params__)


def _field_names(record: Record) -> tuple[str, ...]:
    """The fields of ``record``'s class (a dataclass that extends a record adds its own)."""
    if _is_record(type(record)):
        return record._fields
    import dataclasses

    return tuple(f.name for f in dataclasses.fields(record))


def _frozen(message: str) -> AttributeError:
    from dataclasses import FrozenInstanceError  # only when someone tries to assign

    return FrozenInstanceError(message)


class Record:
    """Base of the frozen records. A record sets ``_fields`` to its field names in order (and
    ``__slots__ = _fields`` unless its instances keep a ``__dict__``) and writes an ``__init__``
    that stores each field with ``object.__setattr__``; a subclass that sets no ``_fields`` is a
    plain subclass of its record, with the record's fields."""

    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ()
    # fields whose default is a fresh object from this factory (``__init__`` takes ``None``)
    _factories: ClassVar[dict[str, Callable[[], Any]]] = {}
    _values: ClassVar[Callable[[Any], tuple[Any, ...]]]
    __dataclass_fields__ = _DataclassMetadata("__dataclass_fields__")
    __dataclass_params__ = _DataclassMetadata("__dataclass_params__")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not _is_record(cls):
            return
        names = cls._fields
        cls.__match_args__ = names
        if len(names) == 1:
            one = attrgetter(names[0])
            cls._values = staticmethod(lambda self: (one(self),))
        else:
            cls._values = attrgetter(*names)  # a tuple of the fields, in C

    @reprlib.recursive_repr()
    def __repr__(self) -> str:
        fields = ", ".join(
            f"{n}={v!r}" for n, v in zip(self._fields, self._values(self), strict=True)
        )
        return f"{self.__class__.__qualname__}({fields})"

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return self._values(self) == other._values(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._values(self))

    def __setattr__(self, name: str, value: Any) -> None:
        raise _frozen(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise _frozen(f"cannot delete field {name!r}")

    def __getstate__(self) -> list[Any]:
        # the state a frozen slots dataclass pickles: its fields' values, in order
        return [getattr(self, name) for name in _field_names(self)]

    def __setstate__(self, state: list[Any] | dict[str, Any]) -> None:
        # also a pickle's ``__dict__`` (Interpolator was a dataclass without slots); not strict,
        # like the dataclass's own ``__setstate__``
        if isinstance(state, dict):
            items = state.items()
        else:
            items = zip(_field_names(self), state, strict=False)
        for name, value in items:
            _set(self, name, value)

    def __replace__(self, **changes: Any) -> Record:
        """A copy with ``changes`` (``copy.replace``, Python 3.13+; ``dataclasses.replace`` works
        on every version)."""
        return self.__class__(
            **{**dict(zip(self._fields, self._values(self), strict=True)), **changes}
        )
