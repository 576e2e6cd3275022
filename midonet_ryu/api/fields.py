"""How a model object's fields appear in MidoNet's JSON, as declarations.

A resource's JSON fields are derived from its model class: every dataclass
field becomes a camelCase JSON field typed by :mod:`schemas` (a nested value
such as a rule's ``condition`` may be flattened into the top level, as
MidoNet's Rule DTO does), back-references maintained by the store are
read-only, and the few places where MidoNet's DTOs split or rename a field
(``networkAddress``/``networkLength`` for a CIDR, a rule's ``type``) are
:class:`Derived` fields with a getter and a setter. Nothing here does I/O.
"""
from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Callable, Mapping
from typing import Any

from midonet_ryu.api import schemas
from midonet_ryu.topology import base
from midonet_ryu.topology.base import ModelError, ModelObject
from midonet_ryu.topology.bindings import bindings_of

Path = tuple[str, ...]
Changes = dict[Path, Any]


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


@dataclasses.dataclass(frozen=True)
class Field:
    """A JSON field backed by the model attribute at ``path`` (nested for
    flattened values)."""

    name: str
    path: Path
    schema: dict[str, Any]
    hint: Any  # the store codec's hint (no extras) used to decode the value
    read_only: bool = False
    create_only: bool = False

    def get(self, obj: ModelObject) -> Any:
        value: Any = obj
        for attr in self.path:
            value = getattr(value, attr)
        if value is None or type(value) in _AS_IS:
            return value
        return base.encode(value)

    def put(self, changes: Changes, raw: Any) -> None:
        try:
            changes[self.path] = base._decode(self.hint, raw, self.name)
        except (ModelError, ValueError, TypeError) as e:
            raise FieldError(self.name, str(e)) from None


@dataclasses.dataclass(frozen=True)
class Derived:
    """A JSON field computed from the object, written through ``setter``."""

    name: str
    schema: dict[str, Any]
    getter: Callable[[Any], Any]
    setter: Callable[[Changes, Any, Mapping[str, Any]], None] | None = None
    create_only: bool = False
    # an alias of a field also sent (a CIDR's address and length beside it):
    # written only when its value differs from the object's, so an object
    # sent back as read with the field changed keeps the change
    alias: bool = False

    @property
    def read_only(self) -> bool:
        return self.setter is None

    def get(self, obj: ModelObject) -> Any:
        return self.getter(obj)

    def put(self, changes: Changes, raw: Any, body: Mapping[str, Any]) -> None:
        assert self.setter is not None
        self.setter(changes, raw, body)


AnyField = Field | Derived


class FieldError(ValueError):
    """A value the schema let through but the model refuses; names the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


_AS_IS = frozenset((str, int, bool, float))


def model_fields(cls: type[ModelObject], renames: Mapping[str, str] | None = None,
                 flatten: Mapping[str, Mapping[str, str]] | None = None,
                 read_only: frozenset[str] = frozenset(),
                 hidden: frozenset[str] = frozenset()) -> list[Field]:
    """The JSON fields of ``cls``: camelCase unless renamed; ``flatten`` maps a
    nested value field to the JSON names of its own fields (unnamed ones are
    camelCased); back-references are read-only."""
    renames = renames or {}
    flatten = flatten or {}
    maintained = {end.field for end in bindings_of(cls.kind) if end.maintained}
    plain_hints = base._hints(cls)
    out: list[Field] = []
    for attr, hint in schemas.hints(cls).items():
        if attr in hidden:
            continue
        if attr in flatten:
            inner_cls = plain_hints[attr]
            inner_plain = base._hints(inner_cls)
            for inner, inner_hint in schemas.hints(inner_cls).items():
                if inner in hidden:
                    continue
                name = flatten[attr].get(inner, camel(inner))
                out.append(Field(name, (attr, inner), schemas.schema_of(inner_hint),
                                 inner_plain[inner]))
            continue
        ro = attr in maintained or attr in read_only
        out.append(Field(renames.get(attr, camel(attr)), (attr,), schemas.schema_of(hint),
                         plain_hints[attr], read_only=ro, create_only=attr == "id"))
    return out


def apply_changes(obj: ModelObject, changes: Changes) -> ModelObject:
    """``obj`` with each path in ``changes`` set; nested values are rebuilt."""
    top: dict[str, Any] = {}
    nested: dict[str, dict[Path, Any]] = {}
    for path, value in changes.items():
        if len(path) == 1:
            top[path[0]] = value
        else:
            nested.setdefault(path[0], {})[path[1:]] = value
    for attr, inner in nested.items():
        current = top.get(attr, getattr(obj, attr))
        if current is None:
            current = base._hints(type(obj))[attr]()
        top[attr] = _replace_nested(current, inner)
    try:
        return obj.replace(**top)
    except (TypeError, ValueError) as e:
        raise FieldError("(body)", str(e)) from None


def _replace_nested(value: Any, changes: dict[Path, Any]) -> Any:
    flat = {p[0]: v for p, v in changes.items() if len(p) == 1}
    return dataclasses.replace(value, **flat)


# --- derived field helpers -------------------------------------------------

def cidr_pair(attr: Path, address: str, length: str, default: str | None
              ) -> tuple[Derived, Derived]:
    """MidoNet's address + prefix length pair for a CIDR attribute.

    Either half may be sent alone; the other is taken from the body or,
    failing that, from ``default``'s. A host address with a prefix is
    refused by naming the address field (a route to 10.0.0.1/24 is a typo).
    """

    def read(obj: ModelObject) -> str | None:
        value: Any = obj
        for a in attr:
            value = getattr(value, a)
        return value  # type: ignore[no-any-return]

    def get_addr(obj: ModelObject) -> str | None:
        cidr = read(obj)
        return cidr.split("/")[0] if cidr else None

    def get_len(obj: ModelObject) -> int | None:
        cidr = read(obj)
        return int(cidr.split("/")[1]) if cidr else None

    def put(changes: Changes, raw: Any, body: Mapping[str, Any]) -> None:
        addr = body.get(address)
        plen = body.get(length)
        if addr is None and plen is None:
            changes[attr] = None if default is None else changes.get(attr, default)
            return
        base_addr, base_len = (default or "0.0.0.0/0").split("/")
        addr = base_addr if addr is None else addr
        plen = int(base_len) if plen is None else plen
        try:
            net = ipaddress.IPv4Network(f"{addr}/{plen}", strict=True)
        except ValueError as e:
            raise FieldError(address, f"{address}/{length}: {e}") from None
        changes[attr] = str(net)

    addr_schema = schemas.nullable({"type": "string", "format": "ipv4", "maxLength": 64})
    len_schema = schemas.nullable({"type": "integer", "minimum": 0, "maximum": 32})
    return (Derived(address, addr_schema, get_addr, put, alias=True),
            Derived(length, len_schema, get_len, put, alias=True))


def enum_choice(name: str, values: Mapping[str, Callable[[Any], bool]],
                setter: Callable[[Changes, str], None] | None) -> Derived:
    """A string field whose value is decided by predicates over the object."""

    def get(obj: ModelObject) -> str | None:
        for value, test in values.items():
            if test(obj):
                return value
        return None

    put = None
    if setter is not None:
        def put(changes: Changes, raw: Any, body: Mapping[str, Any]) -> None:
            setter(changes, raw)

    return Derived(name, {"type": "string", "enum": list(values)}, get, put)
