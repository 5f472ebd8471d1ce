"""Frozen records stored as tuples: the protocol's records and events, and more.

A frozen slotted attrs class is built one slot at a time (eleven stores for a
``Stat``), which dominated the cost of decoding a reply. A :class:`TupleRecord`
keeps its field values in the tuple it is: a decoder builds one with a single
``tuple.__new__`` call, from the very tuple ``struct.unpack_from`` returned.
A record class is also cheap to define: about 3 KB, what a plain slotted
class costs, against 13 to 17 KB for a frozen attrs class (its generated
methods), which ``import trio_zookeeper`` pays for some sixty records.

Everything else behaves as the frozen, keyword-only attrs class it replaces:

* attributes by name (read-only C descriptors, as ``collections.namedtuple``'s);
* ``Cls(field=...)`` keyword-only construction (``kw_only=False`` in the class
  statement allows positional arguments too), with defaults, by a generated
  ``__new__`` (generated on the first construction: records that are only
  decoded, or never used, cost none; records of the same signature share
  its code);
* equality only with an instance of the same class (never with a plain tuple
  or another record type), no ordering, hashable;
* immutable: setting or deleting an attribute raises
  ``attrs.exceptions.FrozenInstanceError``;
* ``repr`` as attrs writes it: ``Stat(czxid=1, ...)``;
* ``attrs.fields``, ``attrs.has``, ``attrs.evolve`` and ``attrs.asdict`` work,
  through an ``__attrs_attrs__`` describing the same fields. It is built on
  its first use (a class attribute that attrs reads on the class, then kept
  there): building it means building a whole attrs class, about 5 KB per
  record, which a client that never introspects its records need not pay at
  import;
* always true, as an attrs instance is: even a record with no fields (an
  empty tuple would be false);
* copy and pickle, and ``copy.replace`` (``__replace__``).

Being tuples, they can also be unpacked and iterated in field order. Type
checkers see the fields and the keyword-only constructor through
``typing.dataclass_transform``.
"""

from __future__ import annotations

import collections
import inspect
import operator
import types
import typing
from collections.abc import Callable
from typing import Any, ClassVar, Self

import attrs

__all__ = ["Frozen", "LazyAttrsAttrs", "TupleRecord"]

_tnew = tuple.__new__
_tuple_eq: Callable[[tuple[Any, ...], object], bool] = tuple.__eq__
_tuple_ne: Callable[[tuple[Any, ...], object], bool] = tuple.__ne__
#: CPython's field descriptor of namedtuple; an itemgetter property elsewhere.
_getter: Any = getattr(collections, "_tuplegetter", None)


#: The field descriptors by index, shared by every record class (they hold
#: nothing but their index).
_GETTERS: dict[int, object] = {}


def _field_getter(index: int) -> object:
    getter = _GETTERS.get(index)
    if getter is None:
        doc = f"Alias for field number {index}"
        if _getter is not None:
            getter = _getter(index, doc)
        else:  # pragma: no cover - not CPython
            getter = property(operator.itemgetter(index), doc=doc)
        getter = _GETTERS.setdefault(index, getter)
    return getter


#: Generated constructor code by signature (field names, which have a
#: default, keyword-only): records of the same shape (a path and a watch flag)
#: share one code object; each class gets its own function around it.
_CONSTRUCTORS: dict[tuple[tuple[str, ...], tuple[str, ...], bool], types.CodeType] = {}


def _construct_first(cls: type[TupleRecord], /, *args: Any, **kwargs: Any) -> Any:
    """The ``__new__`` of a record class until its first instance.

    It generates the class's own constructor (see :func:`_constructor`), puts
    it in its place and builds the instance with it: a record that is only
    ever decoded (built by ``tuple.__new__``) or never used costs no
    generated code; ``import`` declares some sixty.
    """
    new = _constructor(cls)
    cls.__new__ = new  # type: ignore[method-assign]
    return new(cls, *args, **kwargs)


def _constructor(cls: type[TupleRecord]) -> Callable[..., Any]:
    """The generated ``__new__`` of a record: ``_tnew(cls, (field, ...))``."""
    names, defaults, kw_only = (
        cls.__record_fields__,
        cls.__record_defaults__,
        cls.__record_kw_only__,
    )
    key = (names, tuple(defaults), kw_only)  # the names tuple is the class's own
    code = _CONSTRUCTORS.get(key)
    if code is None:
        # The defaults in the source only mark the parameters optional; each
        # function gets its class's values (``__kwdefaults__``/``__defaults__``).
        params = ", ".join(f"{n}=None" if n in defaults else n for n in names)
        star = "*, " if kw_only and names else ""
        values = "".join(f"{n}, " for n in names)
        src = f"def __new__(_cls, {star}{params}):\n    return _tnew(_cls, ({values}))"
        ns: dict[str, Any] = {}
        exec(compile(src, "<constructor of a TupleRecord>", "exec"), ns)
        code = _CONSTRUCTORS[key] = ns["__new__"].__code__
    new = types.FunctionType(code, globals(), "__new__")
    if kw_only:
        new.__kwdefaults__ = defaults or None  # the class's own dict, never changed
    else:
        new.__defaults__ = tuple(defaults[n] for n in names if n in defaults) or None
    new.__qualname__ = f"{cls.__qualname__}.__new__"
    return new


class LazyAttrsAttrs:
    """``__attrs_attrs__`` of a record class, built on first access and then kept.

    attrs finds its description of a class with ``getattr(cls,
    "__attrs_attrs__", None)``: this descriptor, found on a record base class
    (:class:`TupleRecord`, ``ValueRecord``), answers that lookup for a
    subclass by building the description from the subclass's fields
    (``__record_fields__``, ``__record_defaults__``, ``__record_kw_only__``,
    and ``__record_hashed__`` if it has one) and storing it in the subclass's
    own namespace, where every later lookup finds it first. The base itself is
    no attrs class (None).
    """

    def __set_name__(self, owner: type, name: str) -> None:
        self._base = owner

    def __get__(self, instance: object, owner: Any) -> Any:
        if owner is self._base:
            return None
        defaults = owner.__record_defaults__
        hashed = getattr(owner, "__record_hashed__", owner.__record_fields__)

        def field(name: str) -> Any:
            default = defaults.get(name, attrs.NOTHING)
            factory = getattr(default, "record_factory", None)  # a ValueRecord's value_field
            if factory is not None:
                return attrs.field(factory=factory, hash=name in hashed)
            return attrs.field(default=default, hash=name in hashed)

        described = attrs.make_class(
            owner.__name__,
            {n: field(n) for n in owner.__record_fields__},
            frozen=True,
            kw_only=owner.__record_kw_only__,
        )
        # Two threads may both build it: equal descriptions, either one kept.
        fields = attrs.fields(described)
        type.__setattr__(owner, "__attrs_attrs__", fields)
        return fields


class Frozen:
    """Mixin of the record bases: setting or deleting an attribute raises, as attrs' frozen."""

    __slots__ = ()

    def __setattr__(self, name: str, value: object) -> None:
        raise attrs.exceptions.FrozenInstanceError

    def __delattr__(self, name: str) -> None:
        raise attrs.exceptions.FrozenInstanceError


def _rebuild(cls: type[tuple[Any, ...]], values: tuple[Any, ...]) -> tuple[Any, ...]:
    return _tnew(cls, values)


@typing.dataclass_transform(kw_only_default=True, frozen_default=True, eq_default=True)
class TupleRecord(Frozen, tuple[Any, ...]):
    """Base of the tuple-stored frozen records (see the module docstring).

    A subclass declares its fields as annotations, in order, optionally with a
    default value, and ``__slots__ = ()`` (so that it has no ``__dict__``).
    """

    __slots__ = ()
    #: The field names, in order.
    __record_fields__: ClassVar[tuple[str, ...]] = ()
    #: The default values of the fields that have one.
    __record_defaults__: ClassVar[dict[str, Any]] = {}
    #: Whether the constructor takes keyword arguments only.
    __record_kw_only__: ClassVar[bool] = True
    __attrs_attrs__: ClassVar[Any] = LazyAttrsAttrs()

    def __init_subclass__(cls, *, kw_only: bool = True, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("__slots__") != ():
            raise TypeError(f"{cls.__name__} must declare __slots__ = ()")
        names = tuple(inspect.get_annotations(cls))
        defaults = {n: cls.__dict__[n] for n in names if n in cls.__dict__}
        cls.__record_fields__ = names
        cls.__record_defaults__ = defaults
        cls.__record_kw_only__ = kw_only
        for i, name in enumerate(names):
            setattr(cls, name, _field_getter(i))
        if not kw_only:
            # Checked here, not when the constructor is generated (first use).
            first = next((i for i, n in enumerate(names) if n in defaults), len(names))
            late = [n for n in names[first:] if n not in defaults]
            if late:
                raise TypeError(f"{cls.__name__}.{late[0]}: no default, after a field with one")
        cls.__new__ = _construct_first  # type: ignore[method-assign, assignment]
        setattr(cls, "__match_args__", () if kw_only else names)  # noqa: B010 - as attrs sets it

    # Another class never compares equal, tuples included (whose own
    # comparison would otherwise answer for a NotImplemented).
    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return False if isinstance(other, tuple) else NotImplemented
        return _tuple_eq(self, other)

    def __ne__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return True if isinstance(other, tuple) else NotImplemented
        return _tuple_ne(self, other)

    def _no_order(self, other: object) -> Any:  # NotImplemented: no ordering, as attrs
        return NotImplemented

    __lt__ = __le__ = __gt__ = __ge__ = _no_order
    del _no_order
    __hash__ = tuple.__hash__

    def __bool__(self) -> bool:
        return True

    def __repr__(self) -> str:
        fields = ", ".join(f"{n}={v!r}" for n, v in zip(self.__record_fields__, self, strict=True))
        return f"{self.__class__.__qualname__}({fields})"

    def __replace__(self, **changes: Any) -> Self:
        """A copy with some fields changed (``copy.replace`` on Python 3.13+).

        ``attrs.evolve`` does the same at run time, but type checkers do not
        know these classes as attrs classes.
        """
        values = dict(zip(self.__record_fields__, self, strict=True))
        unknown = changes.keys() - values.keys()
        if unknown:
            raise TypeError(f"{self.__class__.__name__} has no field {sorted(unknown)[0]!r}")
        values.update(changes)
        return _tnew(self.__class__, values.values())

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self.__class__, tuple(self)))
