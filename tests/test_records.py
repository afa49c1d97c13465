"""``raygate.records.record`` behaves as ``@dataclass`` for every feature it supports.

Each shape below is defined twice by one function, once with ``dataclasses`` and once with
``records``, so both classes have the same qualified name; the tests then drive both the same
way and compare what users of the class can see: repr, equality, hash, immutability,
``replace``, defaults, and the errors of a wrong call.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from raygate import records


def shapes(decorate: Callable[..., Any], field: Callable[..., Any]) -> dict[str, type]:
    @decorate(frozen=True)
    class Frozen:
        name: str
        port: int
        host: str | None = None
        tags: tuple[str, ...] = field(default=())
        #: Not part of equality or the hash (as Finding.extra).
        extra: dict[str, Any] = field(default_factory=dict, compare=False)
        hidden: Any = field(default=None, repr=False)

        def __str__(self) -> str:
            return f"{self.name}:{self.port}"

    @decorate
    class Mutable:
        items: list[int]
        count: int = 0
        notes: list[str] = field(default_factory=list)

    @decorate(frozen=True, eq=False)
    class Identity:
        raw: dict[str, Any]
        node: Any = field(default=None, repr=False)

    @decorate(frozen=True)
    class One:
        value: float

    return {"Frozen": Frozen, "Mutable": Mutable, "Identity": Identity, "One": One}


def _dataclass(cls: Any = None, /, **options: Any) -> Any:
    return dataclasses.dataclass(cls, **options) if cls is not None else \
        dataclasses.dataclass(**options)


DATA = shapes(_dataclass, dataclasses.field)
RECORD = shapes(records.record, records.field)

names = st.text(max_size=5)
frozen_args = st.fixed_dictionaries(
    {"name": names, "port": st.integers(0, 3)},
    optional={"host": st.none() | names, "tags": st.tuples(names), "hidden": st.integers(0, 2),
              "extra": st.dictionaries(names, st.integers(0, 2), max_size=2)})


def _both(kind: str, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
    return DATA[kind](*args, **kwargs), RECORD[kind](*args, **kwargs)


@given(frozen_args, frozen_args)
def test_frozen_records_repr_compare_and_hash_as_dataclasses(a: dict[str, Any],
                                                              b: dict[str, Any]) -> None:
    da, ra = _both("Frozen", **a)
    db, rb = _both("Frozen", **b)
    assert repr(ra) == repr(da) and str(ra) == str(da)
    assert (ra == rb) == (da == db) and (ra != rb) == (da != db)
    assert hash(ra) == hash(da)  # the same tuple of compared fields
    assert ra != da and ra.__eq__(da) is NotImplemented  # another class is never equal
    changes = {k: v for k, v in b.items() if k in ("port", "host")}
    assert repr(records.replace(ra, **changes)) == repr(dataclasses.replace(da, **changes))


@given(st.lists(st.integers(0, 3), max_size=3), st.integers(0, 2))
def test_positional_arguments_and_factories(items: list[int], count: int) -> None:
    d, r = _both("Mutable", items, count)
    assert repr(r) == repr(d) == f"{r.__class__.__qualname__}(items={items!r}, count={count}, notes=[])"
    assert r.notes is not RECORD["Mutable"](items).notes  # a fresh list for every instance
    r.count += 1  # mutable records assign like any object
    assert r.count == count + 1 and r == RECORD["Mutable"](items, count + 1)


def test_nan_and_identity_compare_as_tuples() -> None:
    nan = float("nan")
    d, r = _both("One", nan)
    # dataclass compares tuples, which treat an object as equal to itself: NaN == its record
    assert (d == dataclasses.replace(d)) and (r == records.replace(r))
    assert r != RECORD["One"](float("nan"))


def test_frozen_records_refuse_assignment_and_deletion() -> None:
    for obj in _both("Frozen", "n", 1):
        with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field 'port'"):
            obj.port = 2
        with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field 'other'"):
            obj.other = 2
        with pytest.raises(dataclasses.FrozenInstanceError, match="cannot delete field 'port'"):
            del obj.port


def test_hashability_follows_frozen_and_eq() -> None:
    d, r = _both("Mutable", [1])
    for obj in (d, r):
        with pytest.raises(TypeError, match="unhashable"):
            hash(obj)
    raw: dict[str, Any] = {"kind": "Ingress"}
    d, r = _both("Identity", raw)
    assert repr(r) == repr(d)
    assert r != RECORD["Identity"](raw) and hash(r) == object.__hash__(r)
    assert r in {r} and RECORD["Identity"](raw) not in {r}  # identity, as eq=False


@pytest.mark.parametrize(("args", "kwargs", "error"), [
    ((), {"port": 1}, "missing required argument: 'name'"),
    (("n", 1, None, (), {}, None, "extra"), {}, "takes 6 positional arguments but 7 were given"),
    (("n", 1), {"name": "m"}, "got multiple values for argument 'name'"),
    (("n", 1), {"colour": "red"}, "got an unexpected keyword argument 'colour'"),
])
def test_wrong_calls_raise_type_error_as_dataclasses(args: tuple[Any, ...],
                                                     kwargs: dict[str, Any], error: str) -> None:
    with pytest.raises(TypeError):
        DATA["Frozen"](*args, **kwargs)
    with pytest.raises(TypeError, match=error):
        RECORD["Frozen"](*args, **kwargs)


def test_what_records_do_not_support_is_refused_at_definition() -> None:
    with pytest.raises(TypeError, match="non-default argument 'b' follows default argument"):
        @records.record
        class Order:
            a: int = 0
            b: int

    with pytest.raises(TypeError, match="do not inherit fields"):
        @records.record
        class Child(RECORD["Mutable"]):  # type: ignore[misc, valid-type]
            more: int = 0

    with pytest.raises(TypeError, match="no __post_init__"):
        @records.record
        class Post:
            a: int

            def __post_init__(self) -> None:
                pass

    with pytest.raises(TypeError, match="no ClassVar"):
        @records.record
        class Shared:
            a: ClassVar[int] = 0


def test_methods_the_class_writes_are_kept() -> None:
    @records.record(frozen=True)
    class Own:
        a: int

        def __repr__(self) -> str:
            return "own"

    assert repr(Own(1)) == "own" and Own(1) == Own(1) and Own.__match_args__ == ("a",)
