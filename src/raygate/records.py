"""``@record``: the classes ``@dataclass`` makes, without compiling code at import (issue 12).

Python 3.11's ``dataclasses`` writes each class's ``__init__``, ``__repr__``, ``__eq__``,
``__hash__`` and (frozen) ``__setattr__``/``__delattr__`` as source text and compiles it when
the class is defined (``dataclasses._create_fn``): ~3.5M instructions a class, a quarter of
``raygate lint``'s start-up over the ~40 classes one lint defines (docs/benchmarks.md). A
record gets the same methods as functions written here once, closed over the class's field
table, so defining one compiles nothing. Its ``__init__`` binds arguments in a loop instead of
a generated signature: building an instance costs about the same (an instance dict is filled
directly, where a frozen dataclass calls ``object.__setattr__`` per field).

Behaves as ``@dataclass`` for what raygate uses: fields are the class's own annotations in
order; a plain default or ``field(default=...)`` is also a class attribute;
``field(default_factory=..., compare=False, repr=False)``; ``frozen`` (assignment raises
``dataclasses.FrozenInstanceError``) and ``eq`` (``eq=False`` keeps identity equality);
``__hash__`` hashes the compared fields when frozen, and is ``None`` when mutable with ``eq``;
methods the class defines itself are kept; ``replace(obj, **changes)``. Not supported (a
``TypeError`` at definition says so): inherited fields, ``ClassVar``/``InitVar``, ``order``,
``__post_init__``. ``dataclasses.fields``/``asdict`` do not apply: records are for the plain
values on the lint path; everything else keeps ``@dataclass``.
"""

from __future__ import annotations

import reprlib
from dataclasses import FrozenInstanceError
from operator import itemgetter
from typing import Any, Callable, TypeVar, dataclass_transform, overload

T = TypeVar("T")
_MISSING: Any = object()


class Field:
    """What ``field(...)`` declares about one field (its default and how it compares)."""

    __slots__ = ("default", "default_factory", "compare", "repr")

    def __init__(self, default: Any, default_factory: Any, compare: bool, repr: bool) -> None:
        self.default = default
        self.default_factory = default_factory
        self.compare = compare
        self.repr = repr


def field(*, default: Any = _MISSING, default_factory: Callable[[], Any] = _MISSING,
          compare: bool = True, repr: bool = True) -> Any:
    """A field with options, as ``dataclasses.field`` (``compare=False`` also leaves it out
    of the hash)."""
    if default is not _MISSING and default_factory is not _MISSING:
        raise ValueError("cannot specify both default and default_factory")
    return Field(default, default_factory, compare, repr)


@overload
def record(cls: type[T], /) -> type[T]: ...
@overload
def record(*, frozen: bool = False, eq: bool = True) -> Callable[[type[T]], type[T]]: ...


@dataclass_transform(field_specifiers=(field,))
def record(cls: Any = None, /, *, frozen: bool = False, eq: bool = True) -> Any:
    """Make ``cls`` a record: ``@record``, ``@record(frozen=True)``, ``@record(eq=False)``."""
    if cls is None:
        return lambda c: _make(c, frozen, eq)
    return _make(cls, frozen, eq)


def replace(obj: T, /, **changes: Any) -> T:
    """A copy of record ``obj`` with ``changes`` (as ``dataclasses.replace``)."""
    values = {name: obj.__dict__[name] for name in type(obj).__record_fields__}  # type: ignore[attr-defined]
    values.update(changes)
    return type(obj)(**values)


def _make(cls: Any, frozen: bool, eq: bool) -> Any:
    if any(hasattr(base, "__record_fields__") or hasattr(base, "__dataclass_fields__")
           for base in cls.__mro__[1:]):
        raise TypeError(f"{cls.__qualname__}: records do not inherit fields")
    if "__post_init__" in cls.__dict__:
        raise TypeError(f"{cls.__qualname__}: records have no __post_init__")
    names: list[str] = []
    defaults: dict[str, Any] = {}
    factories: dict[str, Callable[[], Any]] = {}
    shown: list[str] = []
    compared: list[str] = []
    for name, annotation in cls.__dict__.get("__annotations__", {}).items():
        if str(annotation).startswith(("ClassVar", "InitVar", "typing.ClassVar", "dataclasses.InitVar")):
            raise TypeError(f"{cls.__qualname__}.{name}: records have no ClassVar/InitVar")
        value = cls.__dict__.get(name, _MISSING)
        spec = value if isinstance(value, Field) else Field(value, _MISSING, True, True)
        if spec.default is not _MISSING:
            defaults[name] = spec.default
            setattr(cls, name, spec.default)  # as dataclass: the default is a class attribute
        elif spec.default_factory is not _MISSING:
            factories[name] = spec.default_factory
            if isinstance(value, Field):
                delattr(cls, name)
        elif defaults or factories:
            raise TypeError(f"{cls.__qualname__}: non-default argument {name!r} follows "
                            "default argument")
        names.append(name)
        if spec.repr:
            shown.append(name)
        if spec.compare:
            compared.append(name)

    fields = tuple(names)
    qualname = cls.__qualname__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if len(args) > len(fields):
            raise TypeError(f"{qualname}() takes {len(fields)} positional arguments "
                            f"but {len(args)} were given")
        values = self.__dict__  # empty: a new instance of a class with no other state
        values.update(zip(fields, args))
        for name in fields[len(args):]:
            if name in kwargs:
                values[name] = kwargs.pop(name)
            elif name in defaults:
                values[name] = defaults[name]
            elif name in factories:
                values[name] = factories[name]()
            else:
                raise TypeError(f"{qualname}() missing required argument: {name!r}")
        if kwargs:
            name = next(iter(kwargs))
            why = ("got multiple values for argument" if name in fields else
                   "got an unexpected keyword argument")
            raise TypeError(f"{qualname}() {why} {name!r}")

    @reprlib.recursive_repr()
    def __repr__(self: Any) -> str:
        values = self.__dict__
        return f"{type(self).__qualname__}(" + ", ".join(
            f"{name}={values[name]!r}" for name in shown) + ")"

    def _set(name: str, method: Any) -> None:
        if name not in cls.__dict__:  # a method the class writes itself wins, as in dataclass
            method.__qualname__ = f"{qualname}.{name}"
            setattr(cls, name, method)

    _set("__init__", __init__)
    _set("__repr__", __repr__)
    if eq:
        key = _tuple_of(compared)

        def __eq__(self: Any, other: Any) -> Any:
            if other.__class__ is not self.__class__:
                return NotImplemented
            return key(self.__dict__) == key(other.__dict__)  # tuples, as dataclass compares

        _set("__eq__", __eq__)
        # As dataclass: a __hash__ the class writes is kept (one Python set to None because
        # the class writes __eq__ is not the class's own); frozen hashes the compared fields,
        # mutable is unhashable.
        if cls.__dict__.get("__hash__", _MISSING) is None and "__eq__" in cls.__dict__:
            delattr(cls, "__hash__")
        if frozen:
            def __hash__(self: Any) -> int:
                return hash(key(self.__dict__))

            _set("__hash__", __hash__)
        elif "__hash__" not in cls.__dict__:
            cls.__hash__ = None
    if frozen:
        def __setattr__(self: Any, name: str, value: Any) -> None:
            if type(self) is cls or name in fields:
                raise FrozenInstanceError(f"cannot assign to field {name!r}")
            object.__setattr__(self, name, value)

        def __delattr__(self: Any, name: str) -> None:
            if type(self) is cls or name in fields:
                raise FrozenInstanceError(f"cannot delete field {name!r}")
            object.__delattr__(self, name)

        _set("__setattr__", __setattr__)
        _set("__delattr__", __delattr__)
    cls.__record_fields__ = fields
    if "__match_args__" not in cls.__dict__:
        cls.__match_args__ = fields
    return cls


def _tuple_of(names: list[str]) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    """``values -> (values[n] for n in names)`` as a tuple, by ``itemgetter`` (C speed)."""
    if len(names) >= 2:
        return itemgetter(*names)
    if names:
        only = names[0]
        return lambda values: (values[only],)
    return lambda values: ()
