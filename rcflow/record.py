"""`@dataclass` for the classes `rcflow status` loads, without paying for it at import.

The standard decorator compiles each class's `__init__`, `__repr__`, `__eq__`, `__hash__`,
`__setattr__` and `__delattr__` from source when its module is imported (0.5-0.8 ms a class,
34 classes on the status path) and imports `inspect` to do it (13 ms): together more than the
git commands behind a status take to run (DESIGN §13, issue 14). This decorator keeps the same
contract for the subset rcflow uses (`frozen`, `eq`, `repr`, defaults, `field(default_factory=)`,
`__post_init__`, methods a class defines itself win) but shares one `__repr__`, `__eq__`,
`__hash__` and frozen `__setattr__` between every class, and compiles a class's `__init__` only
once it has built a few instances with a generic one (most classes on the status path are built
once or twice; a class a status never builds never pays). Comparisons read the fields with
`operator.attrgetter`, in C, as fast as the generated code.

`dataclasses.replace`, `fields`, `asdict` and `is_dataclass` keep working: the field table they
read (`__dataclass_fields__`) is built from `dataclasses` on first access.

Typing is the standard one: mypy sees a dataclass (`typing.dataclass_transform`).
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import Any, TypeVar, dataclass_transform, overload

T = TypeVar("T")

_FIELDS = "__dataclass_fields__"  # what dataclasses.fields/replace/asdict look for


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


class FrozenInstanceError(AttributeError):
    """Assigning to a field of a frozen instance (as `dataclasses.FrozenInstanceError`)."""


class Field:
    __slots__ = ("compare", "default", "default_factory", "init", "repr")

    def __init__(
        self, default: Any, default_factory: Any, init: bool, repr: bool, compare: bool
    ) -> None:
        self.default = default
        self.default_factory = default_factory
        self.init = init
        self.repr = repr
        self.compare = compare


def field(
    *,
    default: Any = MISSING,
    default_factory: Callable[[], Any] | None = None,
    init: bool = True,
    repr: bool = True,
    compare: bool = True,
) -> Any:
    """As `dataclasses.field`, for the options rcflow uses."""
    if default is not MISSING and default_factory is not None:
        raise ValueError("cannot specify both default and default_factory")
    factory = MISSING if default_factory is None else default_factory
    return Field(default, factory, init, repr, compare)


class _Spec:
    """One class's fields, in order, with their annotations (as written) and options."""

    __slots__ = ("fields", "frozen", "key", "types")

    def __init__(
        self, fields: dict[str, Field], types: dict[str, Any], frozen: bool, key: Any
    ) -> None:
        self.fields = fields
        self.types = types
        self.frozen = frozen
        self.key = key  # the compared fields of an instance, as one value


def _is_classvar(annotation: Any) -> bool:
    text = annotation if isinstance(annotation, str) else repr(annotation)
    return text.startswith(("ClassVar", "typing.ClassVar"))


def _process(cls: type[T], frozen: bool, eq: bool, repr_: bool) -> type[T]:
    if any(hasattr(base, _FIELDS) for base in cls.__mro__[1:]):
        # Fields inherited from a base are not collected: refused rather than half-made.
        raise TypeError(f"{cls.__qualname__}: rcflow.record dataclasses do not inherit fields")
    namespace = cls.__dict__
    fields: dict[str, Field] = {}
    types: dict[str, Any] = {}
    for name, annotation in namespace.get("__annotations__", {}).items():
        if _is_classvar(annotation):
            continue
        value = namespace.get(name, MISSING)
        if isinstance(value, Field):
            spec = value
            if spec.default is MISSING:
                delattr(cls, name)
            else:
                setattr(cls, name, spec.default)
        else:
            if isinstance(value, list | dict | set):
                raise ValueError(
                    f"mutable default {type(value)} for field {name} is not allowed: "
                    "use default_factory"
                )
            spec = Field(value, MISSING, True, True, True)
        fields[name] = spec
        types[name] = annotation
    defaulted = False
    for name, spec in fields.items():
        if not spec.init:
            continue
        has_default = spec.default is not MISSING or spec.default_factory is not MISSING
        if defaulted and not has_default:
            raise TypeError(f"non-default argument {name!r} follows default argument")
        defaulted = defaulted or has_default
    compared = [name for name, spec in fields.items() if spec.compare]
    key: Any = attrgetter(*compared) if len(compared) > 1 else _no_key
    if len(compared) == 1:  # a tuple still, as dataclasses compares: NaN equals itself there
        one = attrgetter(compared[0])
        key = lambda obj: (one(obj),)  # noqa: E731
    cls.__record__ = _Spec(fields, types, frozen, key)  # type: ignore[attr-defined]
    setattr(cls, _FIELDS, _FieldTable())

    def _set(name: str, value: Any) -> None:
        if name not in namespace:
            setattr(cls, name, value)

    _set("__init__", _first_init(cls))
    if repr_:
        _set("__repr__", _repr)
    if eq:
        _set("__eq__", _eq)
    # dataclasses' rule: a __hash__ the class wrote wins; eq and frozen hash the fields; eq
    # alone makes instances unhashable (they can change).
    explicit_hash = "__hash__" in namespace and not (
        namespace["__hash__"] is None and "__eq__" in namespace
    )
    if eq and not explicit_hash:
        cls.__hash__ = _hash if frozen else None  # type: ignore[assignment,method-assign]
    if frozen:
        cls.__setattr__ = _frozen_setattr  # type: ignore[method-assign]
        cls.__delattr__ = _frozen_delattr  # type: ignore[method-assign]
    _set("__match_args__", tuple(name for name, spec in fields.items() if spec.init))
    return cls


@overload
def dataclass(cls: type[T], /) -> type[T]: ...


@overload
def dataclass(
    *, frozen: bool = False, eq: bool = True, repr: bool = True
) -> Callable[[type[T]], type[T]]: ...


@dataclass_transform(field_specifiers=(field, Field))
def dataclass(
    cls: type[T] | None = None, /, *, frozen: bool = False, eq: bool = True, repr: bool = True
) -> type[T] | Callable[[type[T]], type[T]]:
    """`dataclasses.dataclass` with `frozen`, `eq` and `repr` (see the module's docstring)."""
    if cls is not None:
        return _process(cls, frozen, eq, repr)

    def wrap(c: type[T]) -> type[T]:
        return _process(c, frozen, eq, repr)

    return wrap


def _no_key(obj: object) -> tuple[()]:
    return ()


def _repr(self: Any) -> str:
    spec: _Spec = self.__record__
    shown = ", ".join(f"{n}={getattr(self, n)!r}" for n, f in spec.fields.items() if f.repr)
    return f"{type(self).__qualname__}({shown})"


def _eq(self: Any, other: Any) -> Any:
    if other.__class__ is not self.__class__:
        return NotImplemented
    key = self.__record__.key
    return key(self) == key(other)


def _hash(self: Any) -> int:
    return hash(self.__record__.key(self))


def _frozen_setattr(self: Any, name: str, value: Any) -> None:
    raise FrozenInstanceError(f"cannot assign to field {name!r}")


def _frozen_delattr(self: Any, name: str) -> None:
    raise FrozenInstanceError(f"cannot delete field {name!r}")


# Instances built by the generic `__init__` before a class's own is compiled: most classes on
# the status path are built once or twice (a compile costs 100-200 of those), a few thousands
# of times (a tag's version, a ref).
_GENERIC_INSTANCES = 4


def _first_init(cls: type) -> Callable[..., None]:
    """A stand-in `__init__`: the generic one for a class's first instances, then the class's
    own, compiled."""
    built = 0

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        nonlocal built
        if built < _GENERIC_INSTANCES:
            built += 1
            _generic_init(cls, self, args, kwargs)
            return
        if cls.__dict__.get("__init__") is __init__:
            cls.__init__ = _compile_init(cls)  # type: ignore[misc]
        cls.__init__(self, *args, **kwargs)  # type: ignore[misc]

    return __init__


def _generic_init(cls: type, self: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """What the compiled `__init__` does, read from the field table: the same values, the same
    refusals (TypeError for a missing, unknown or repeated argument)."""
    spec: _Spec = cls.__record__  # type: ignore[attr-defined]
    where = f"{cls.__qualname__}.__init__()"
    params = [name for name, f in spec.fields.items() if f.init]
    if len(args) > len(params):
        raise TypeError(
            f"{where} takes {len(params) + 1} positional arguments but {len(args) + 1} were given"
        )
    values = dict(zip(params, args, strict=False))
    for name, value in kwargs.items():
        if name not in params:
            raise TypeError(f"{where} got an unexpected keyword argument {name!r}")
        if name in values:
            raise TypeError(f"{where} got multiple values for argument {name!r}")
        values[name] = value
    missing = [n for n in params if n not in values and _no_default(spec.fields[n])]
    if missing:
        raise TypeError(f"{where} missing required arguments: {', '.join(map(repr, missing))}")
    assign = object.__setattr__ if spec.frozen else setattr
    for name, f in spec.fields.items():
        if name in values:
            assign(self, name, values[name])
        elif f.default_factory is not MISSING:
            assign(self, name, f.default_factory())
        elif f.default is not MISSING:
            assign(self, name, f.default)
    if hasattr(cls, "__post_init__"):
        self.__post_init__()


def _no_default(f: Field) -> bool:
    return f.default is MISSING and f.default_factory is MISSING


def _compile_init(cls: type) -> Callable[..., None]:
    """The `__init__` dataclasses would write: arguments in field order, defaults, factories,
    `object.__setattr__` on a frozen class, then `__post_init__` if the class has one."""
    spec: _Spec = cls.__record__  # type: ignore[attr-defined]
    env: dict[str, Any] = {"_MISSING": MISSING, "_set": object.__setattr__}
    params: list[str] = []
    body: list[str] = []
    for i, (name, f) in enumerate(spec.fields.items()):
        if f.default_factory is not MISSING:
            env[f"_factory{i}"] = f.default_factory
            value = (
                f"_factory{i}() if {name} is _MISSING else {name}" if f.init else f"_factory{i}()"
            )
            default = "=_MISSING"
        elif f.default is not MISSING:
            env[f"_default{i}"] = f.default
            value = name if f.init else f"_default{i}"
            default = f"=_default{i}"
        else:
            value, default = name, ""
        if f.init:
            params.append(f"{name}{default}")
        elif f.default is MISSING and f.default_factory is MISSING:
            continue
        body.append(f"_set(self, {name!r}, {value})" if spec.frozen else f"self.{name} = {value}")
    if hasattr(cls, "__post_init__"):
        body.append("self.__post_init__()")
    source = f"def __init__(self, {', '.join(params)}):\n    " + ("\n    ".join(body) or "pass")
    exec(source, env)  # noqa: S102 - our own field names, as dataclasses does
    init: Callable[..., None] = env["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    return init


class _FieldTable:
    """`__dataclass_fields__`, built with `dataclasses` by whoever asks (replace, asdict)."""

    def __get__(self, obj: object, owner: type) -> dict[str, Any]:
        import dataclasses

        spec: _Spec = owner.__record__  # type: ignore[attr-defined]
        table: dict[str, Any] = {}
        for name, f in spec.fields.items():
            made: Any = dataclasses.field(
                default=dataclasses.MISSING if f.default is MISSING else f.default,
                default_factory=(
                    dataclasses.MISSING if f.default_factory is MISSING else f.default_factory
                ),
                init=f.init,
                repr=f.repr,
                compare=f.compare,
            )
            made.name = name
            made.type = spec.types[name]
            made._field_type = getattr(dataclasses, "_FIELD")  # noqa: B009 - not in the stubs
            table[name] = made
        setattr(owner, _FIELDS, table)
        return table
