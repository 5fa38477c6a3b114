"""`rcflow.record.dataclass` behaves as `dataclasses.dataclass` for what rcflow uses.

Each class is declared twice, once with each decorator, and the two are held to the same
answers: construction, defaults and factories, `__post_init__`, equality, hashing, repr,
frozenness, and what `dataclasses.replace/fields/asdict` make of them.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any, ClassVar

import pytest

from rcflow import record
from rcflow.model.config import Config
from rcflow.model.version import Version


def _declare(decorate: Callable[..., Any], field: Callable[..., Any]) -> dict[str, type]:
    @decorate(frozen=True)
    class Point:
        x: int
        y: int = 0
        tags: tuple[str, ...] = ()
        scale: float = 1.0
        KIND: ClassVar[str] = "point"

    @decorate(frozen=True)
    class Bag:
        name: str
        items: list[int] = field(default_factory=list)
        hidden: str = field(default="h", repr=False, compare=False)

        def __post_init__(self) -> None:
            if not self.name:
                raise ValueError("a bag has a name")

    @decorate
    class Mutable:
        count: int = 0
        seen: list[str] = field(default_factory=list)

    @decorate(frozen=True)
    class Keyed:
        key: str
        value: int

        def __hash__(self) -> int:
            return hash(self.key)

        def __repr__(self) -> str:
            return f"<{self.key}>"

    @decorate(frozen=True)
    class One:
        value: float

    return {c.__name__: c for c in (Point, Bag, Mutable, Keyed, One)}


OURS = _declare(record.dataclass, record.field)
THEIRS = _declare(dataclasses.dataclass, dataclasses.field)


def _both(name: str, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
    return OURS[name](*args, **kwargs), THEIRS[name](*args, **kwargs)


def test_construction_defaults_factories_and_repr_match() -> None:
    for args, kwargs in (((1,), {}), ((1, 2), {"tags": ("a",)}), ((), {"x": 3, "scale": 2.5})):
        ours, theirs = _both("Point", *args, **kwargs)
        assert repr(ours) == repr(theirs)
        assert ours.KIND == "point" and ours.__match_args__ == theirs.__match_args__
    ours, theirs = _both("Bag", "b")
    assert repr(ours) == repr(theirs)
    assert repr(ours).endswith(".Bag(name='b', items=[])")
    assert ours.items is not OURS["Bag"]("c").items  # a fresh list each time
    assert repr(_both("Mutable")[0]) == repr(_both("Mutable")[1])
    assert repr(OURS["Keyed"]("k", 1)) == "<k>"


@pytest.mark.parametrize("compiled", [False, True], ids=["generic-init", "compiled-init"])
def test_wrong_arguments_are_refused_as_dataclasses_does(compiled: bool) -> None:
    """Both `__init__`s: the generic one of a class's first instances and its compiled one."""
    classes = _declare(record.dataclass, record.field)
    if compiled:
        for name in ("Point", "Bag"):
            for _ in range(record._GENERIC_INSTANCES + 1):
                classes[name](1 if name == "Point" else "b")
    for name in ("Point", "Bag"):
        assert classes[name].__init__.__qualname__.endswith(f"{name}.__init__") is compiled
    for args, kwargs in (((1,), {}), ((1, 2), {"tags": ("a",)}), ((), {"x": 3, "scale": 2.5})):
        ours, theirs = classes["Point"](*args, **kwargs), THEIRS["Point"](*args, **kwargs)
        assert repr(ours).rpartition(".")[2] == repr(theirs).rpartition(".")[2]
    ours, theirs = classes["Bag"]("b", [2]), THEIRS["Bag"]("b", [2])
    assert repr(ours).rpartition(".")[2] == repr(theirs).rpartition(".")[2]
    assert classes["Bag"]("c").items == [] and classes["Bag"]("c", hidden="x").hidden == "x"
    for name, args, kwargs in (
        ("Point", (), {}),
        ("Point", (1, 2, (), 1.0, "extra"), {}),
        ("Point", (1,), {"x": 2}),
        ("Point", (1,), {"nope": 2}),
    ):
        for cls in (classes[name], THEIRS[name]):
            with pytest.raises(TypeError):
                cls(*args, **kwargs)
    for cls in (classes["Bag"], THEIRS["Bag"]):
        with pytest.raises(ValueError, match="a bag has a name"):
            cls("")


def test_equality_and_hashing_match() -> None:
    a, b = OURS["Point"](1, 2), OURS["Point"](1, 2)
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert a != OURS["Point"](1, 3)
    assert a != THEIRS["Point"](1, 2)  # another class with the same fields is not equal
    assert OURS["Bag"]("b", [1], "x") == OURS["Bag"]("b", [1], "y")  # compare=False
    assert OURS["Keyed"]("k", 1).__hash__() == hash("k")  # the class's own __hash__ wins
    for cls in (OURS["Mutable"], THEIRS["Mutable"]):  # eq without frozen: unhashable
        assert cls() == cls()
        with pytest.raises(TypeError):
            hash(cls())
    nan = math.nan
    assert OURS["One"](nan) == OURS["One"](nan) and THEIRS["One"](nan) == THEIRS["One"](nan)


def test_frozen_instances_refuse_assignment_and_mutable_ones_take_it() -> None:
    point = OURS["Point"](1)
    with pytest.raises(AttributeError, match="cannot assign to field 'x'"):
        point.x = 2  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del point.x  # type: ignore[misc]
    with pytest.raises(record.FrozenInstanceError):
        point.other = 1  # type: ignore[attr-defined]
    bag = OURS["Mutable"]()
    bag.count = 3
    assert bag.count == 3


def test_dataclasses_helpers_read_our_classes() -> None:
    point = OURS["Point"](1, 2, ("t",))
    assert dataclasses.is_dataclass(point)
    assert [f.name for f in dataclasses.fields(point)] == ["x", "y", "tags", "scale"]
    assert dataclasses.asdict(point) == dataclasses.asdict(THEIRS["Point"](1, 2, ("t",)))
    moved = dataclasses.replace(point, y=5)
    assert moved == OURS["Point"](1, 5, ("t",))
    bag = dataclasses.replace(OURS["Bag"]("b", [1]), name="c")
    assert bag.items == [1] and bag.name == "c"


def test_bad_declarations_are_refused() -> None:
    with pytest.raises(TypeError, match="non-default argument"):

        @record.dataclass
        class Late:
            a: int = 0
            b: int  # type: ignore[misc]

    with pytest.raises(TypeError, match="do not inherit fields"):

        @record.dataclass
        class Child(OURS["Point"]):  # type: ignore[misc]
            z: int = 0

    with pytest.raises(ValueError, match="mutable default"):

        @record.dataclass
        class Shared:
            a: list[int] = []  # noqa: RUF012  # type: ignore[misc]


def test_rcflow_values_keep_their_semantics() -> None:
    assert Version(1, 2, 3) == Version(1, 2, 3) and Version(1, 2, 3) < Version(1, 3, 0)
    assert {Version(1, 2, 3): "x"}[Version(1, 2, 3)] == "x"
    config = Config(root=__import__("pathlib").Path("."), source="defaults")
    assert dataclasses.replace(config, tag_prefix="r").tag_prefix == "r"
    assert dataclasses.replace(config, tag_prefix="r") != config
