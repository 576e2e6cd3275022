"""JSON Schemas derived from the topology model's type hints.

The model declares each field's Python type and, through
:mod:`midonet_ryu.topology.types`, its format and bounds; this module turns
that into JSON Schema (2020-12, the dialect of OpenAPI 3.1), so validation,
the OpenAPI document and the store's codec can never disagree about a field.
"""
from __future__ import annotations

import dataclasses
import enum
import ipaddress
import re
import types
import typing
import uuid
from typing import Any

import jsonschema

from midonet_ryu.topology.types import Bounds, Format

MAC_PATTERN = r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$"
UUID_PATTERN = r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$"
_MAC = re.compile(MAC_PATTERN)

FORMAT_CHECKER = jsonschema.FormatChecker(formats=())


@FORMAT_CHECKER.checks("uuid", raises=ValueError)
def _is_uuid(value: object) -> bool:
    return not isinstance(value, str) or bool(uuid.UUID(value))


@FORMAT_CHECKER.checks("mac")
def _is_mac(value: object) -> bool:
    # fullmatch: the pattern's "$" also matches before a trailing newline
    return not isinstance(value, str) or bool(_MAC.fullmatch(value))


@FORMAT_CHECKER.checks("ipv4", raises=ValueError)
def _is_ipv4(value: object) -> bool:
    return not isinstance(value, str) or bool(ipaddress.IPv4Address(value))


@FORMAT_CHECKER.checks("ip", raises=ValueError)
def _is_ip(value: object) -> bool:
    return not isinstance(value, str) or bool(ipaddress.ip_address(value))


@FORMAT_CHECKER.checks("cidr", raises=ValueError)
def _is_cidr(value: object) -> bool:
    # strict: "10.0.0.1/24" names a host, not a network, and is refused; the
    # length is part of it ("10.0.0.0" alone would be read as a /32)
    if not isinstance(value, str):
        return True
    return "/" in value and bool(ipaddress.IPv4Network(value, strict=True))


def _annotated(tp: Any) -> tuple[Any, tuple[Any, ...]]:
    if typing.get_origin(tp) is typing.Annotated:
        args = typing.get_args(tp)
        return args[0], tuple(args[1:])
    return tp, ()


def schema_of(tp: Any) -> dict[str, Any]:
    """The JSON Schema of a model type hint (``include_extras`` hints)."""
    tp, extras = _annotated(tp)
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(tp) if a is not type(None)]
        inner = schema_of(members[0]) if len(members) == 1 else {
            "anyOf": [schema_of(a) for a in members]}
        if type(None) in typing.get_args(tp):
            return nullable(inner)
        return inner
    if origin in (tuple, frozenset):
        return {"type": "array", "items": schema_of(typing.get_args(tp)[0]), "maxItems": 10000}
    if origin is dict:
        return {"type": "object", "additionalProperties": schema_of(typing.get_args(tp)[1])}
    out: dict[str, Any]
    if tp is uuid.UUID:
        out = {"type": "string", "format": "uuid", "pattern": UUID_PATTERN}
    elif isinstance(tp, type) and issubclass(tp, enum.Enum):
        out = {"type": "string", "enum": [m.value for m in tp]}
    elif tp is bool:
        out = {"type": "boolean"}
    elif tp is int:
        # 64 bits (a Java long: MidoNet's epoch-millisecond timestamps); fields
        # that need tighter limits declare them (topology.types.Bounds)
        out = {"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1}
    elif tp is float:
        out = {"type": "number"}
    elif tp is str:
        out = {"type": "string", "maxLength": 1024}
    elif tp is Any:
        out = {}
    elif dataclasses.is_dataclass(tp):
        out = object_schema(tp)  # type: ignore[arg-type]
    else:
        raise TypeError(f"no JSON Schema for {tp!r}")
    for extra in extras:
        _apply(out, extra)
    return out


def nullable(inner: dict[str, Any]) -> dict[str, Any]:
    """``inner`` or null; a plain ``type`` list keeps errors about the value readable."""
    if isinstance(inner.get("type"), str):
        out = dict(inner, type=[inner["type"], "null"])
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
        return out
    return {"anyOf": [inner, {"type": "null"}]}


def _apply(out: dict[str, Any], extra: Any) -> None:
    if isinstance(extra, Format):
        out["format"] = extra.name
        if extra.name == "mac":
            out["pattern"] = MAC_PATTERN
        out["maxLength"] = 64
    elif isinstance(extra, Bounds):
        lo, hi = ("minLength", "maxLength") if out.get("type") == "string" else (
            "minimum", "maximum")
        if extra.minimum is not None:
            out[lo] = extra.minimum
        if extra.maximum is not None:
            out[hi] = extra.maximum


def hints(cls: type) -> dict[str, Any]:
    """A dataclass's field hints with their ``Annotated`` extras, in field order."""
    all_hints = typing.get_type_hints(cls, include_extras=True)
    return {f.name: all_hints[f.name] for f in dataclasses.fields(cls)}


def object_schema(cls: type) -> dict[str, Any]:
    """A nested value class (no camelCase renaming: values keep the store's names)."""
    props = {name: schema_of(tp) for name, tp in hints(cls).items()}
    required = [f.name for f in dataclasses.fields(cls)
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    out: dict[str, Any] = {"type": "object", "properties": props,
                           "additionalProperties": False}
    if required:
        out["required"] = required
    return out


def validator(schema: dict[str, Any]) -> jsonschema.protocols.Validator:
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    return cls(schema, format_checker=FORMAT_CHECKER)


def first_error(v: jsonschema.protocols.Validator, instance: Any) -> tuple[str, str] | None:
    """``(field path, message)`` of the most relevant error, or None when valid."""
    err = jsonschema.exceptions.best_match(v.iter_errors(instance))
    if err is None:
        return None
    path = ".".join(str(p) for p in err.absolute_path)
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        allowed = set(err.schema.get("properties", {}))
        extra = sorted(k for k in err.instance if k not in allowed)
        if extra:
            field = f"{path}.{extra[0]}" if path else extra[0]
            return field, f"unknown field {field!r}"
    if err.validator == "required" and isinstance(err.instance, dict):
        missing = [k for k in err.validator_value if k not in err.instance]
        if missing:
            field = f"{path}.{missing[0]}" if path else missing[0]
            return field, f"{field}: required"
    message = err.message
    if len(message) > 300:
        message = message[:300] + "..."
    return path or "(body)", f"{path or 'body'}: {message}"
