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
from typing import Any, ClassVar, TypeVar

T = TypeVar("T", bound="ModelObject")

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


def model(cls: type[T]) -> type[T]:
    """Class decorator: make ``cls`` a frozen slotted dataclass and register it."""
    if not dataclasses.is_dataclass(cls) or "__dataclass_fields__" not in cls.__dict__:
        cls = dataclasses.dataclass(frozen=True, slots=True)(cls)
    cls.kind = cls.__name__
    if cls.kind in _REGISTRY and _REGISTRY[cls.kind] is not cls:
        raise ModelError(f"model class {cls.kind} registered twice")
    _REGISTRY[cls.kind] = cls
    return cls


def value(cls: type) -> type:
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


def _decode(tp: Any, raw: Any, where: str) -> Any:
    """``raw`` (parsed JSON) as a value of type ``tp``; ModelError names the field."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return _decode_union(tp, raw, where)
    if tp is Any:
        return raw
    if origin in (tuple, frozenset, dict):
        return _decode_container(origin, typing.get_args(tp), raw, where)
    if tp is uuid.UUID:
        if not isinstance(raw, str):
            raise ModelError(f"{where}: expected a UUID string")
        return uuid.UUID(raw)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(raw)
        except ValueError:
            raise ModelError(f"{where}: {raw!r} is not a {tp.__name__}") from None
    if tp in _SCALARS:
        return _decode_scalar(tp, raw, where)
    if dataclasses.is_dataclass(tp):
        return _from_fields(tp, raw, where)  # type: ignore[arg-type]
    raise ModelError(f"{where}: unsupported field type {tp}")


def _decode_union(tp: Any, raw: Any, where: str) -> Any:
    args = typing.get_args(tp)
    if raw is None:
        if type(None) in args:
            return None
        raise ModelError(f"{where}: null not allowed")
    for arg in args:
        if arg is type(None):
            continue
        try:
            return _decode(arg, raw, where)
        except (ModelError, ValueError, TypeError):
            continue
    raise ModelError(f"{where}: {raw!r} matches none of {tp}")


def _decode_container(origin: Any, args: tuple[Any, ...], raw: Any, where: str) -> Any:
    if origin is dict:
        kt, vt = args
        if not isinstance(raw, dict):
            raise ModelError(f"{where}: expected an object")
        return {_decode(kt, k, where): _decode(vt, v, where) for k, v in raw.items()}
    if not isinstance(raw, list):
        raise ModelError(f"{where}: expected a list")
    if origin is frozenset:
        return frozenset(_decode(args[0], v, where) for v in raw)
    if len(args) == 2 and args[1] is Ellipsis:
        return tuple(_decode(args[0], v, where) for v in raw)
    if len(args) != len(raw):
        raise ModelError(f"{where}: expected {len(args)} items")
    return tuple(_decode(a, v, where) for a, v in zip(args, raw, strict=True))


# type -> (what it accepts, what to call it in an error)
_SCALARS: dict[type, tuple[tuple[type, ...], str]] = {
    bool: ((bool,), "a boolean"), int: ((int,), "an integer"),
    float: ((int, float), "a number"), str: ((str,), "a string")}


def _decode_scalar(tp: type, raw: Any, where: str) -> Any:
    accepted, name = _SCALARS[tp]
    # JSON's true/false are Python bools, and bool is an int subclass
    if not isinstance(raw, accepted) or (tp is not bool and isinstance(raw, bool)):
        raise ModelError(f"{where}: expected {name}")
    return float(raw) if tp is float else raw


def _from_fields(cls: type, raw: Any, where: str) -> Any:
    if not isinstance(raw, dict):
        raise ModelError(f"{where}: expected an object")
    hints = _hints(cls)
    unknown = set(raw) - set(hints)
    if unknown:
        raise ModelError(f"{where}: unknown fields {sorted(unknown)}")
    kwargs = {}
    for name, tp in hints.items():
        if name in raw:
            kwargs[name] = _decode(tp, raw[name], f"{where}.{name}")
    try:
        return cls(**kwargs)
    except TypeError as e:
        raise ModelError(f"{where}: {e}") from None


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
