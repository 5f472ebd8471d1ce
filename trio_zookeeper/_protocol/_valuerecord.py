"""Frozen value classes that users build, pass in and subclass: fields in ``__dict__``.

The client's small value classes (``HostPort``, ``ConnectString``,
``Backoff``, ``SessionStatistics``) were frozen attrs classes. Defining a
frozen slotted attrs class builds the class twice and compiles and keeps the
source of five methods: tens of KB each at ``import trio_zookeeper``, for
classes that a client builds a few of. A :class:`ValueRecord` subclass costs
what a plain class costs: everything but the constructor (equality, hash,
repr, immutability, the attrs description) is shared by all of them, and the
constructor is generated from a code object shared by every class of the
same shape.

Unlike a :class:`~._tuplerecord.TupleRecord` (the protocol's records), a
value record is no tuple: it does not unpack or pass for a sequence, and a
subclass may override methods (``Backoff``'s pauses). Otherwise it behaves as
the frozen attrs class it replaces:

* construction by keyword or position (``kw_only=True`` in the class
  statement: keyword only), with defaults, and ``value_field(factory=...)``
  for a mutable default (a new one per instance); an
  ``__attrs_post_init__`` method runs once the fields are set (validation);
* equality only with an instance of the same class, field by field; no
  ordering; hashable, over the fields not declared ``hash=False``;
* immutable: setting or deleting an attribute raises
  ``attrs.exceptions.FrozenInstanceError``;
* ``repr`` as attrs writes it: ``HostPort(host='a', port=2181)``;
* ``attrs.fields``, ``attrs.has``, ``attrs.evolve`` and ``attrs.asdict``
  work, through an ``__attrs_attrs__`` built on first use (as a
  ``TupleRecord``'s); ``copy.replace`` (``__replace__``), copy and pickle.

A subclass's fields are its base's, then its own annotations. Type checkers
see the fields and the constructor through ``typing.dataclass_transform``.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable
from typing import Any, ClassVar, Self, TypeVar

from ._tuplerecord import Frozen, LazyAttrsAttrs

__all__ = ["ValueRecord", "value_field"]

T = TypeVar("T")


class _Factory:
    """A field's default made anew for each instance (``value_field(factory=...)``)."""

    __slots__ = ("hash", "record_factory")

    def __init__(self, factory: Callable[[], object], hash: bool) -> None:
        self.record_factory = factory
        self.hash = hash

    def __repr__(self) -> str:  # as a signature shows the default: ``errors=dict()``
        return f"{getattr(self.record_factory, '__name__', 'factory')}()"


def value_field(*, factory: Callable[[], T], hash: bool = True) -> T:
    """A field whose default is ``factory()``, called for each instance.

    Args:
        factory: Makes the default (``dict``, ``list``...).
        hash: Whether the field takes part in the hash (False for a dict).

    Returns:
        The field's declaration, for the class body.
    """
    return typing.cast(T, _Factory(factory, hash))


#: Generated constructor code by shape (field names, which have a default,
#: keyword-only, which are factories, whether there is a post-init).
_CONSTRUCTORS: dict[tuple[object, ...], types.CodeType] = {}


def _constructor(cls: type[ValueRecord], post_init: bool) -> Callable[..., None]:
    """The generated ``__init__``: ``self.__dict__.update(field=field, ...)``."""
    names, defaults = cls.__record_fields__, cls.__record_defaults__
    kw_only = cls.__record_kw_only__
    factories = tuple(n for n in names if isinstance(defaults.get(n), _Factory))
    key = (names, tuple(defaults), kw_only, factories, post_init)
    code = _CONSTRUCTORS.get(key)
    if code is None:
        # The defaults in the source only mark the parameters optional; each
        # function gets its class's values (``__kwdefaults__``/``__defaults__``).
        params = ", ".join(f"{n}=None" if n in defaults else n for n in names)
        star = "*, " if kw_only and names else ""
        lines = [f"def __init__(self, {star}{params}):"]
        lines += [
            f"    if {n}.__class__ is _Factory: {n} = {n}.record_factory()" for n in factories
        ]
        lines.append(f"    self.__dict__.update({', '.join(f'{n}={n}' for n in names)})")
        if post_init:
            lines.append("    self.__attrs_post_init__()")
        ns: dict[str, Any] = {}
        exec(compile("\n".join(lines), "<constructor of a ValueRecord>", "exec"), ns)
        code = _CONSTRUCTORS[key] = ns["__init__"].__code__
    init = types.FunctionType(code, globals(), "__init__")
    if kw_only:
        init.__kwdefaults__ = dict(defaults) or None
    else:
        init.__defaults__ = tuple(defaults[n] for n in names if n in defaults) or None
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    return init


@typing.dataclass_transform(
    kw_only_default=False, frozen_default=True, eq_default=True, field_specifiers=(value_field,)
)
class ValueRecord(Frozen):
    """Base of the frozen value classes (see the module docstring).

    A subclass declares its fields as annotations, in order, optionally with a
    default value or a ``value_field(factory=...)``.
    """

    #: The field names, in order.
    __record_fields__: ClassVar[tuple[str, ...]] = ()
    #: The defaults of the fields that have one (a ``_Factory`` for a factory).
    __record_defaults__: ClassVar[dict[str, Any]] = {}
    #: Whether the constructor takes keyword arguments only.
    __record_kw_only__: ClassVar[bool] = False
    #: The fields the hash covers.
    __record_hashed__: ClassVar[tuple[str, ...]] = ()
    __attrs_attrs__: ClassVar[Any] = LazyAttrsAttrs()

    def __init_subclass__(cls, *, kw_only: bool | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        names = list(cls.__record_fields__)
        defaults = dict(cls.__record_defaults__)
        unhashed = set(names) - set(cls.__record_hashed__)
        for name, annotation in inspect.get_annotations(cls).items():
            if str(annotation).startswith(("ClassVar", "typing.ClassVar")):
                continue
            if name not in names:
                names.append(name)
            if name in cls.__dict__:
                default = cls.__dict__[name]
                delattr(cls, name)  # the instance's value, never the class's
                defaults[name] = default
                if isinstance(default, _Factory) and not default.hash:
                    unhashed.add(name)
        cls.__record_fields__ = tuple(names)
        cls.__record_defaults__ = defaults
        if kw_only is not None:
            cls.__record_kw_only__ = kw_only
        cls.__record_hashed__ = tuple(n for n in names if n not in unhashed)
        if not cls.__record_kw_only__:
            first = next((i for i, n in enumerate(names) if n in defaults), len(names))
            late = [n for n in names[first:] if n not in defaults]
            if late:
                raise TypeError(f"{cls.__name__}.{late[0]}: no default, after a field with one")
        cls.__init__ = _constructor(  # type: ignore[method-assign]
            cls, post_init=hasattr(cls, "__attrs_post_init__")
        )
        match_args = () if cls.__record_kw_only__ else cls.__record_fields__
        setattr(cls, "__match_args__", match_args)  # noqa: B010 - as attrs sets it

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self.__dict__ == other.__dict__

    def __ne__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self.__dict__ != other.__dict__

    def __hash__(self) -> int:
        values = self.__dict__
        return hash((self.__class__, *(values[n] for n in self.__record_hashed__)))

    def __repr__(self) -> str:
        values = self.__dict__
        fields = ", ".join(f"{n}={values[n]!r}" for n in self.__record_fields__)
        return f"{self.__class__.__qualname__}({fields})"

    def __replace__(self, **changes: Any) -> Self:
        """A copy with some fields changed (``copy.replace`` on Python 3.13+)."""
        return self.__class__(**{**self.__dict__, **changes})
