"""Typed, immutable topology objects and their wire codec.

Every topology class is a frozen dataclass registered with ``@model``. The
store serializes them generically from their type hints, so adding a class
(Router, Chain, LoadBalancer, ...) is only a matter of declaring it and its
bindings: no per-class storage code. Objects are immutable so the agent's
cache can hand the same instances to every simulation without copying.
"""
from __future__ import annotations

import dataclasses
import enum
import json
import types
import typing
import uuid
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

T = TypeVar("T", bound="ModelObject")
V = TypeVar("V")

_REGISTRY: dict[str, type[ModelObject]] = {}


class ModelError(ValueError):
    """A stored or supplied object does not match its class's schema."""


@dataclasses.dataclass(frozen=True, slots=True)
class ModelObject:
    """Base of all topology objects; ``id`` is the object's UUID."""

    id: uuid.UUID

    # Class name used in ZooKeeper paths (<root>/zoom/0/models/<kind>/<uuid>).
    kind: ClassVar[str] = "ModelObject"

    def replace(self: T, **changes: Any) -> T:
        """Return a copy with ``changes`` applied (objects are immutable)."""
        return dataclasses.replace(self, **changes)


@typing.dataclass_transform(frozen_default=True)
def model(cls: type[T]) -> type[T]:
    """Class decorator: make ``cls`` a frozen slotted dataclass and register it."""
    if not dataclasses.is_dataclass(cls) or "__dataclass_fields__" not in cls.__dict__:
        cls = dataclasses.dataclass(frozen=True, slots=True)(cls)
    cls.kind = cls.__name__
    if cls.kind in _REGISTRY and _REGISTRY[cls.kind] is not cls:
        raise ModelError(f"model class {cls.kind} registered twice")
    _REGISTRY[cls.kind] = cls
    return cls


@typing.dataclass_transform(frozen_default=True)
def value(cls: type[V]) -> type[V]:
    """Class decorator for nested value types (no id, not stored on their own)."""
    return dataclasses.dataclass(frozen=True, slots=True)(cls)


def model_class(kind: str) -> type[ModelObject]:
    """Look a registered class up by its stored name."""
    try:
        return _REGISTRY[kind]
    except KeyError:
        raise ModelError(f"unknown model class {kind!r}") from None


def model_classes() -> dict[str, type[ModelObject]]:
    return dict(_REGISTRY)


def new_id() -> uuid.UUID:
    return uuid.uuid4()


# --- codec -----------------------------------------------------------------

_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    hints = _HINTS.get(cls)
    if hints is None:
        all_hints = typing.get_type_hints(cls)
        hints = {f.name: all_hints[f.name] for f in dataclasses.fields(cls)}
        _HINTS[cls] = hints
    return hints


def _encode(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        if isinstance(value, enum.Enum):
            return value.value
        return value
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (tuple, list, frozenset)):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value):
        return {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    raise ModelError(f"cannot encode {type(value).__name__}")


class _Invalid(Exception):
    """A value that does not fit its type; ``path`` is filled in on the way out."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.path: list[str] = []


Decoder = Callable[[Any], Any]
_DECODERS: dict[Any, Decoder] = {}


def _decoder(tp: Any) -> Decoder:
    """The decoding function of type hint ``tp``, built once per hint.

    Decoding every stored object field by field with ``typing`` introspection
    cost a listing of ten thousand ports a second; a function per hint, with
    the field path assembled only when a value is refused, costs a fifth.
    """
    dec = _DECODERS.get(tp)
    if dec is None:
        dec = _DECODERS[tp] = _build(tp)
    return dec


def _decode(tp: Any, raw: Any, where: str) -> Any:
    """``raw`` (parsed JSON) as a value of type ``tp``; ModelError names the field."""
    try:
        return _decoder(tp)(raw)
    except _Invalid as e:
        raise ModelError(f"{where}{''.join(reversed(e.path))}: {e.message}") from None


def _build(tp: Any) -> Decoder:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return _union_decoder(tp)
    if tp is Any:
        return lambda raw: raw
    if origin in (tuple, frozenset, dict):
        return _container_decoder(origin, typing.get_args(tp))
    if tp is uuid.UUID:
        def dec_uuid(raw: Any) -> uuid.UUID:
            if not isinstance(raw, str):
                raise _Invalid("expected a UUID string")
            try:
                return uuid.UUID(raw)
            except ValueError:
                raise _Invalid(f"{raw!r} is not a UUID") from None
        return dec_uuid
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        def dec_enum(raw: Any) -> Any:
            try:
                return tp(raw)
            except (ValueError, TypeError):
                raise _Invalid(f"{raw!r} is not a {tp.__name__}") from None
        return dec_enum
    if tp in _SCALARS:
        return _scalar_decoder(tp)
    if dataclasses.is_dataclass(tp):
        return _fields_decoder(tp)  # type: ignore[arg-type]
    raise ModelError(f"unsupported field type {tp}")


def _union_decoder(tp: Any) -> Decoder:
    args = typing.get_args(tp)
    nullable = type(None) in args
    options = [_decoder(a) for a in args if a is not type(None)]
    single = options[0] if len(options) == 1 else None

    def dec(raw: Any) -> Any:
        if raw is None:
            if nullable:
                return None
            raise _Invalid("null not allowed")
        if single is not None:
            try:
                return single(raw)
            except _Invalid as e:
                if e.path:
                    raise
                raise _Invalid(f"{raw!r} matches none of {tp}") from None
        for option in options:
            try:
                return option(raw)
            except (_Invalid, ValueError, TypeError):
                continue
        raise _Invalid(f"{raw!r} matches none of {tp}")
    return dec


def _container_decoder(origin: Any, args: tuple[Any, ...]) -> Decoder:
    if origin is dict:
        kdec, vdec = _decoder(args[0]), _decoder(args[1])

        def dec_dict(raw: Any) -> Any:
            if not isinstance(raw, dict):
                raise _Invalid("expected an object")
            return {kdec(k): vdec(v) for k, v in raw.items()}
        return dec_dict
    if origin is frozenset or (len(args) == 2 and args[1] is Ellipsis):
        item = _decoder(args[0])
        make = frozenset if origin is frozenset else tuple

        def dec_seq(raw: Any) -> Any:
            if not isinstance(raw, list):
                raise _Invalid("expected a list")
            return make(item(v) for v in raw)
        return dec_seq
    items = [_decoder(a) for a in args]

    def dec_fixed(raw: Any) -> Any:
        if not isinstance(raw, list):
            raise _Invalid("expected a list")
        if len(items) != len(raw):
            raise _Invalid(f"expected {len(items)} items")
        return tuple(d(v) for d, v in zip(items, raw, strict=True))
    return dec_fixed


# type -> (what it accepts, what to call it in an error)
_SCALARS: dict[type, tuple[tuple[type, ...], str]] = {
    bool: ((bool,), "a boolean"), int: ((int,), "an integer"),
    float: ((int, float), "a number"), str: ((str,), "a string")}


def _scalar_decoder(tp: type) -> Decoder:
    accepted, name = _SCALARS[tp]
    message = f"expected {name}"
    if tp is str:
        def dec_str(raw: Any) -> Any:
            if type(raw) is not str and not isinstance(raw, str):
                raise _Invalid(message)
            return raw
        return dec_str

    def dec(raw: Any) -> Any:
        # JSON's true/false are Python bools, and bool is an int subclass
        if not isinstance(raw, accepted) or (tp is not bool and isinstance(raw, bool)):
            raise _Invalid(message)
        return float(raw) if tp is float else raw
    return dec


def _fields_decoder(cls: type) -> Decoder:
    hints = _hints(cls)
    known = frozenset(hints)
    fields: list[tuple[str, Decoder]] = []

    def dec(raw: Any) -> Any:
        if not fields:  # filled on first use: a class may refer to itself
            fields.extend((name, _decoder(tp)) for name, tp in hints.items())
        if not isinstance(raw, dict):
            raise _Invalid("expected an object")
        if not known.issuperset(raw):
            raise _Invalid(f"unknown fields {sorted(set(raw) - known)}")
        kwargs = {}
        for name, field_dec in fields:
            if name in raw:
                try:
                    kwargs[name] = field_dec(raw[name])
                except _Invalid as e:
                    e.path.append(f".{name}")
                    raise
        try:
            return cls(**kwargs)
        except TypeError as e:
            raise _Invalid(str(e)) from None
    return dec


def _from_fields(cls: type, raw: Any, where: str) -> Any:
    return _decode(cls, raw, where)


def encode(value: Any) -> Any:
    """A field value as JSON values (UUIDs and enums as strings, tuples as lists)."""
    return _encode(value)


def to_dict(obj: Any) -> dict[str, Any]:
    return _encode(obj)


def from_dict(cls: type[T], raw: Any) -> T:
    return _from_fields(cls, raw, cls.__name__)


def serialize(obj: ModelObject) -> bytes:
    """Stored form: compact, key-sorted JSON (stable bytes for equal objects)."""
    return json.dumps(_encode(obj), sort_keys=True, separators=(",", ":")).encode()


def deserialize(cls: type[T], data: bytes) -> T:
    try:
        raw = json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise ModelError(f"{cls.__name__}: stored data is not JSON: {e}") from None
    return from_dict(cls, raw)


def ref_ids(value: Any) -> tuple[uuid.UUID, ...]:
    """The ids held by a reference field, single (UUID|None) or multiple."""
    if value is None:
        return ()
    if isinstance(value, uuid.UUID):
        return (value,)
    return tuple(value)
