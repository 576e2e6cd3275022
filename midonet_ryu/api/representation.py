"""Model objects to MidoNet JSON and back, driven by :mod:`resources`.

Writes are validated against the resource's JSON Schema first (so an error
names the field), then decoded by the store's own codec. Read-only fields,
``uri`` and links that a client sends back (midonetclient PUTs the whole
object it read) are ignored, not refused; unknown fields are refused.
"""
from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping
from typing import Any

import jsonschema

from midonet_ryu.api import schemas
from midonet_ryu.api.fields import Changes, Derived, Field, FieldError, apply_changes
from midonet_ryu.api.resources import BY_COLLECTION, Resource
from midonet_ryu.topology.base import ModelObject, encode


class InvalidBody(ValueError):
    """A request body the resource refuses; ``field`` names the culprit."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@functools.cache
def write_validator(collection: str) -> jsonschema.protocols.Validator:
    return schemas.validator(BY_COLLECTION[collection].schema(write=True))


def to_json(res: Resource, obj: ModelObject, base: str,
            extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The representation of ``obj``; ``base`` is the API root URI."""
    uri = f"{base}/{res.collection}/{obj.id}"
    out: dict[str, Any] = {"uri": uri}
    top, others, own_links, ref_links = _plan(res.collection)
    for name, attr in top:
        value = getattr(obj, attr)
        out[name] = value if value is None or type(value) in _AS_IS else encode(value)
    for f in others:
        out[f.name] = f.get(obj)
    for name, target in own_links:
        out[name] = f"{uri}/{target}"
    for name, target, attr in ref_links:
        ref = getattr(obj, attr, None)
        out[name] = f"{base}/{target}/{ref}" if ref else None
    if extra:
        out.update(extra)
    return out


_AS_IS = frozenset((str, int, bool, float))


@functools.cache
def _plan(collection: str) -> tuple[Any, ...]:
    """How to render a resource, split once so a listing of ten thousand
    objects runs a tight loop: top-level fields, the others, and the links."""
    res = BY_COLLECTION[collection]
    top = tuple((f.name, f.path[0]) for f in res.fields
                if isinstance(f, Field) and len(f.path) == 1)
    others = tuple(f for f in res.fields if not (isinstance(f, Field) and len(f.path) == 1))
    own = tuple((link.name, link.target) for link in res.links if link.attr is None)
    refs = tuple((link.name, link.target, link.attr) for link in res.links
                 if link.attr is not None)
    return top, others, own, refs


def validate(res: Resource, body: Any) -> None:
    if not isinstance(body, dict):
        raise InvalidBody("(body)", "the body must be a JSON object")
    found = schemas.first_error(write_validator(res.collection), body)
    if found is not None:
        raise InvalidBody(*found)


def from_json(res: Resource, body: Any, current: ModelObject | None,
              fixed: Mapping[str, Any] | None = None) -> ModelObject:
    """The object a create (``current`` None) or update of ``res`` with
    ``body`` asks for. ``fixed``: attributes the URI decides (the parent's id)."""
    validate(res, body)
    creating = current is None
    changes: Changes = {}
    derived: list[Derived] = []
    for f in res.fields:
        if f.name not in body or f.read_only or (f.create_only and not creating):
            continue
        if isinstance(f, Derived):
            # a whole object sent back as read repeats a derived field unchanged
            # (networkAddress beside a changed portSubnet): only a change counts
            if current is None or not f.alias or body[f.name] != f.get(current):
                derived.append(f)
            continue
        assert isinstance(f, Field)
        try:
            f.put(changes, body[f.name])
        except FieldError as e:
            raise InvalidBody(e.field, str(e)) from None
    # NAT targets before the rule type that folds them in (see resources)
    derived.sort(key=lambda d: d.name != "natTargets")
    for d in derived:
        try:
            d.put(changes, body[d.name], body)
        except FieldError as e:
            raise InvalidBody(e.field, str(e)) from None
    pseudo = {k: changes.pop(k) for k in list(changes) if k[0].startswith("__")}
    for attr, value in (fixed or {}).items():
        changes[(attr,)] = value
    if creating:
        obj_id = changes.pop(("id",), None) or uuid.uuid4()
        try:
            current = res.cls(id=obj_id)
        except TypeError as e:
            raise InvalidBody("(body)", str(e)) from None
        if res.collection == "rules" and "type" not in body:
            raise InvalidBody("type", "type: required (accept, drop, jump, snat, dnat, ...)")
        kind = pseudo.get(("__type__",))
        if res.collection == "ports" and fixed is None and kind is None:
            raise InvalidBody("type", "type: 'Bridge' or 'Router' is required, or create "
                              "the port under bridges/{id}/ports or routers/{id}/ports")
    else:
        changes.pop(("id",), None)
    assert current is not None
    try:
        obj = apply_changes(current, changes)
    except FieldError as e:
        raise InvalidBody(e.field, str(e)) from None
    if res.collection == "ports":
        _check_port_device(obj, body)
    elif res.collection == "health_monitors":
        _check_probe_timing(obj)
    return obj


def _check_probe_timing(monitor: Any) -> None:
    """A probe that may wait longer than the time between probes would overlap
    the next one (Neutron refuses the same)."""
    if monitor.timeout > monitor.delay:
        raise InvalidBody("timeout", f"timeout: {monitor.timeout} s is longer than the delay "
                          f"between probes ({monitor.delay} s)")


def _check_port_device(port: Any, body: Mapping[str, Any]) -> None:
    """A port is on exactly one device: a bridge or a router."""
    named = [f for f in ("routerId", "networkId") if f in body]
    if port.network_id is not None and port.router_id is not None:
        field = named[0] if named else "deviceId"
        raise InvalidBody(field, f"{field}: a port is on a bridge or a router, not both")
    if port.network_id is None and port.router_id is None:
        field = named[0] if named else "deviceId"
        raise InvalidBody(field, f"{field}: a port needs the bridge or router it is on "
                          "(type and deviceId, or create it under bridges/{id}/ports or "
                          "routers/{id}/ports)")
