"""Command-line options derived from a resource's write schema, and the JSON
bodies built from them.

The options come from ``Resource.schema(write=True)`` rather than from the
model because that schema is exactly what the server validates a write
against: it has the derived fields (a port's ``networkAddress``, a rule's
``type``), the write-only extras (a rule's ``position``) and marks what is
read-only. So an option exists exactly when the API takes the field, and a
field added to the model becomes an option with no change here.

Spelling, after the JSON names: ``tenantId`` is ``--tenant-id``; a boolean
is a pair ``--admin-state-up``/``--no-admin-state-up``; a list option is
repeatable (``--in-ports A --in-ports B``; addresses and ids may also be
comma separated) and ``''`` gives an empty list; ``''`` sets a nullable field
to null; a port range (``tpDst``) is ``START[:END]``; another object is
``key=value,key=value`` or JSON. Values are checked here (a UUID, an IPv4
address, bounds, choices), so a mistake is reported against the option the
user typed rather than against a JSON field name they never saw.

Nothing here does I/O: unit tests drive it with parsers and namespaces.
"""
from __future__ import annotations

import argparse
import dataclasses
import enum
import ipaddress
import json
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from midonet_ryu.api.resources import BY_COLLECTION, Resource

Schema = Mapping[str, Any]
_T = TypeVar("_T")

_MAC = re.compile(r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$")
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}

# Fields another field of the same object also writes. The server applies
# derived fields last, so a PUT of the whole object with one of them changed
# and its stale alias echoed back would keep the old value (see ``put_body``).
ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    "ports": {"portSubnet": ("networkAddress", "networkLength")},
}


def kebab(name: str) -> str:
    """``inboundFilterId`` -> ``inbound-filter-id`` (also ``ip_address`` -> ``ip-address``)."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"-\1", name).replace("_", "-").lower()


def noun(collection: str) -> str:
    """The command word of a collection: ``port_groups`` -> ``port-group``."""
    word = collection[:-1] if collection.endswith("s") else collection
    return word.replace("_", "-")


def schema_types(schema: Schema) -> list[str]:
    """The JSON types a schema allows, in order (``anyOf`` members flattened)."""
    kind = schema.get("type")
    if isinstance(kind, str):
        return [kind]
    if isinstance(kind, list):
        return [str(k) for k in kind]
    out: list[str] = []
    for member in schema.get("anyOf", ()):
        out += [k for k in schema_types(member) if k not in out]
    return out


def nullable(schema: Schema) -> bool:
    return "null" in schema_types(schema)


def non_null(schema: Schema) -> Schema:
    """The schema of the value when it is not null (an ``anyOf`` member or itself)."""
    for member in schema.get("anyOf", ()):
        if "null" not in schema_types(member):
            return dict(member)
    return schema


def main_type(schema: Schema) -> str:
    kinds = [k for k in schema_types(non_null(schema)) if k != "null"]
    return kinds[0] if kinds else "string"


def is_range(schema: Schema) -> bool:
    """A port range value: ``{"start": N, "end": N}`` and nothing else."""
    props = non_null(schema).get("properties", {})
    return set(props) == {"start", "end"} and all(
        main_type(p) == "integer" for p in props.values())


class Kind(enum.Enum):
    FLAG = "flag"
    LIST = "list"
    VALUE = "value"


@dataclasses.dataclass(frozen=True)
class FieldOption:
    """One writable JSON field as a command-line option."""

    name: str
    schema: Schema
    create_only: bool = False

    @property
    def flag(self) -> str:
        return "--" + kebab(self.name)

    @property
    def dest(self) -> str:
        # prefixed so no field can collide with cliff's own dests (columns, formatter...)
        return "field_" + kebab(self.name).replace("-", "_")

    @property
    def kind(self) -> Kind:
        kind = main_type(self.schema)
        if kind == "boolean":
            return Kind.FLAG
        if kind == "array":
            return Kind.LIST
        return Kind.VALUE

    @property
    def metavar(self) -> str:
        schema = non_null(self.schema)
        if self.kind is Kind.LIST:
            schema = non_null(schema.get("items", {}))
        return metavar_of(schema, self.name)

    @property
    def help(self) -> str:
        notes = [f"JSON field {self.name}"]
        if self.kind is Kind.LIST:
            notes.append("repeatable, '' for an empty list")
        elif nullable(self.schema) and self.kind is Kind.VALUE:
            notes.append("'' for null")
        return "; ".join(notes)

    def add_to(self, parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
        if self.kind is Kind.FLAG:
            group = parser.add_mutually_exclusive_group()
            group.add_argument(self.flag, dest=self.dest, action="store_const", const=True,
                               default=None, help=self.help + "; true")
            group.add_argument("--no-" + self.flag[2:], dest=self.dest, action="store_const",
                               const=False, default=None, help=f"{self.name} false")
        elif self.kind is Kind.LIST:
            parser.add_argument(self.flag, dest=self.dest, action="append", default=None,
                                metavar=self.metavar, type=_argtype(parse_list, self.schema),
                                help=self.help)
        else:
            parser.add_argument(self.flag, dest=self.dest, default=None, metavar=self.metavar,
                                type=_argtype(parse_value, self.schema), help=self.help)


def metavar_of(schema: Schema, name: str) -> str:
    values = [v for v in schema.get("enum", ()) if v is not None]
    if values:
        return "{" + ",".join(str(v) for v in values) + "}"
    if is_range(schema):
        return "START[:END]"
    kind = main_type(schema)
    if kind == "object":
        return "KEY=VALUE,..."
    if kind in ("integer", "number"):
        return "N"
    fmt = schema.get("format")
    if isinstance(fmt, str):
        return fmt.upper()
    return kebab(name).replace("-", "_").upper()


class _Null:
    """An option given as ``''`` for a nullable field: argparse's None already
    means "not given", and the two must not be confused."""

    def __repr__(self) -> str:
        return "NULL"


NULL = _Null()


def _argtype(parse: Callable[[Schema, str], Any], schema: Schema) -> Callable[[str], Any]:
    """``parse`` as an argparse ``type``: a ValueError becomes argparse's usage
    error, a null :data:`NULL`."""

    def convert(text: str) -> Any:
        try:
            value = parse(schema, text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
        return NULL if value is None else value

    return convert


# --- values -------------------------------------------------------------------------

def parse_value(schema: Schema, text: str) -> Any:
    """The JSON value ``text`` stands for under ``schema``; ValueError says why not."""
    if text == "" and nullable(schema):
        return None
    schema = non_null(schema)
    kind = main_type(schema)
    if kind == "boolean":
        return parse_bool(text)
    if kind == "integer":
        return _bounded(schema, _integer(text))
    if kind == "number":
        try:
            return _bounded(schema, float(text))
        except ValueError:
            raise ValueError(f"{text!r} is not a number") from None
    if kind == "object":
        return parse_object(schema, text)
    if kind == "array":
        return parse_list(schema, text)
    return _string(schema, text)


def parse_bool(text: str) -> bool:
    low = text.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise ValueError(f"{text!r} is not a boolean (true or false)")


def _integer(text: str) -> int:
    try:
        return int(text, 0)  # 0x0800 for an ethertype
    except ValueError:
        pass
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{text!r} is not an integer") from None


def _bounded(schema: Schema, value: Any) -> Any:
    low, high = schema.get("minimum"), schema.get("maximum")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{value} is not between {low} and {high}")
    return value


def _string(schema: Schema, text: str) -> str:
    choices = [v for v in schema.get("enum", ()) if v is not None]
    if choices and text not in choices:
        raise ValueError(f"{text!r} is not one of {', '.join(map(str, choices))}")
    fmt = schema.get("format")
    checks: dict[str, tuple[Callable[[str], object], str]] = {
        "uuid": (uuid.UUID, "a UUID"),
        "ipv4": (ipaddress.IPv4Address, "an IPv4 address"),
        "ip": (ipaddress.ip_address, "an IP address"),
        "cidr": (lambda t: ipaddress.IPv4Network(t, strict=True), "an IPv4 network (A.B.C.D/N)"),
        "mac": (_mac, "a MAC address (aa:bb:cc:dd:ee:ff)"),
    }
    if isinstance(fmt, str) and fmt in checks:
        check, what = checks[fmt]
        try:
            check(text)
        except ValueError:
            raise ValueError(f"{text!r} is not {what}") from None
    max_len = schema.get("maxLength")
    if isinstance(max_len, int) and len(text) > max_len:
        raise ValueError(f"longer than {max_len} characters")
    return text


def _mac(text: str) -> str:
    if not _MAC.match(text):
        raise ValueError(text)
    return text


def _json(text: str, kind: type[_T], what: str) -> _T:
    """``text`` as JSON, which must be a ``kind`` (``what`` in the message)."""
    try:
        value = json.loads(text)
    except ValueError as e:
        raise ValueError(f"not JSON: {e}") from None
    if not isinstance(value, kind):
        raise ValueError(f"a JSON {what} is needed")
    return value


def ip_address(text: str) -> str:
    """An argparse type: an IPv4 or IPv6 address, in its canonical spelling."""
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an IP address") from None


def parse_object(schema: Schema, text: str) -> Any:
    """A range ``START[:END]``, ``key=value,...`` or a JSON object."""
    if text == "" and nullable(schema):
        return None
    schema = non_null(schema)
    if text.lstrip().startswith("{"):
        return _json(text, dict, "object")
    props: Mapping[str, Schema] = schema.get("properties", {})
    if is_range(schema):
        start, sep, end = text.partition(":")
        lo = _bounded(props["start"], _integer(start))
        hi = _bounded(props["end"], _integer(end)) if sep else lo
        if hi < lo:
            raise ValueError(f"range {text!r} ends before it starts")
        return {"start": lo, "end": hi}
    names = {kebab(p): p for p in props}
    out: dict[str, Any] = {}
    for pair in (p for p in text.split(",") if p.strip()):
        key, sep, raw = pair.partition("=")
        key = key.strip()
        name = key if key in props else names.get(kebab(key))
        if not sep or name is None:
            raise ValueError(f"{pair!r}: expected KEY=VALUE with KEY one of "
                             f"{', '.join(props)}")
        out[name] = parse_value(props[name], raw.strip())
    missing = [r for r in schema.get("required", ()) if r not in out]
    if missing:
        raise ValueError(f"{text!r} lacks {', '.join(missing)}")
    return out


def parse_list(schema: Schema, text: str) -> list[Any]:
    """One occurrence of a list option: its items (``''``: none)."""
    if text == "":
        return []
    if text.lstrip().startswith("["):
        return _json(text, list, "list")
    item = non_null(non_null(schema).get("items", {}))
    if main_type(item) == "object":
        return [parse_object(item, text)]
    # Ids, addresses and numbers never hold a comma, so one may list several;
    # free text might, so it is one item per occurrence.
    if "format" in item or main_type(item) in ("integer", "number"):
        return [parse_value(item, part.strip()) for part in text.split(",")]
    return [parse_value(item, text)]


# --- resources -----------------------------------------------------------------------

def writable_options(res: Resource) -> list[FieldOption]:
    """Every field a client may send, in the schema's order.

    A write-only extra that is not a field (a rule's ``position``) counts as
    create-only: the server reads it when it creates the object only.
    """
    out = []
    for name, schema in res.schema(write=True)["properties"].items():
        if schema.get("readOnly"):
            continue
        field = res.field(name)
        out.append(FieldOption(name, schema, field.create_only if field else True))
    return out


def command_options(res: Resource, creating: bool) -> list[FieldOption]:
    return [o for o in writable_options(res) if creating or not o.create_only]


@dataclasses.dataclass(frozen=True)
class ParentOption:
    """``--bridge ID``: list or create under ``bridges/{id}/<collection>``."""

    collection: str

    @property
    def flag(self) -> str:
        return "--" + noun(self.collection)

    @property
    def dest(self) -> str:
        return "parent_" + self.collection

    @property
    def resource(self) -> Resource:
        return BY_COLLECTION[self.collection]


def parent_options(res: Resource) -> list[ParentOption]:
    return [ParentOption(p.collection) for p in res.parents]


def body_from_args(options: Iterable[FieldOption], args: argparse.Namespace) -> dict[str, Any]:
    """The fields the user gave, as JSON; options not given are left out."""
    body: dict[str, Any] = {}
    for opt in options:
        value = getattr(args, opt.dest, None)
        if value is None:
            continue
        if opt.kind is Kind.LIST:
            value = [item for chunk in value for item in chunk]
        body[opt.name] = None if value is NULL else value
    return body


def put_body(res: Resource, current: Mapping[str, Any],
             changes: Mapping[str, Any]) -> dict[str, Any]:
    """The whole object as read with ``changes`` applied, as MidoNet's client
    PUTs it (the server ignores what is read-only, ``uri`` and links).

    A changed field's aliases are left out: echoing them unchanged would
    override the change (``ALIASES``).
    """
    body = dict(current)
    for name in changes:
        for alias in ALIASES.get(res.collection, {}).get(name, ()):
            if alias not in changes:
                body.pop(alias, None)
    body.update(changes)
    return body
