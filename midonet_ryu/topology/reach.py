"""What a loaded object leads to: the references an agent follows when it
loads the topology on demand, and keeps while a device is in use (pure).

A simulation that reaches a device reads its parts (a bridge's ports and
DHCP subnets, a router's ports and routes, a chain's rules) and what those
name (filters, jump targets, port and address groups, a port's peer). Those
are the *leads* of an object. A port's own device (its network or router)
is not a lead: it is loaded when a simulation actually crosses into it, so
following leads from one device never pulls in the devices beyond it (else
one shared external network would bring the whole cloud with it).
"""
from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any

Key = tuple[str, uuid.UUID]  # (model kind, id)

_FILTERS = (("inbound_filter_id", "Chain"), ("outbound_filter_id", "Chain"))

# kind -> (field, kind of what the field names); tuples of ids or single ids
LEADS: dict[str, tuple[tuple[str, str], ...]] = {
    "Network": _FILTERS + (("port_ids", "Port"), ("dhcp_ids", "Dhcp")),
    "Router": _FILTERS + (("port_ids", "Port"), ("route_ids", "Route"),
                          ("load_balancer_id", "LoadBalancer")),
    "Port": _FILTERS + (("peer_id", "Port"), ("port_group_ids", "PortGroup"),
                        ("route_ids", "Route")),
    "Route": (("next_hop_port_id", "Port"),),
    "Chain": (("rule_ids", "Rule"),),
    "Rule": (("jump_chain_id", "Chain"),),
    # a stateful group's members' hosts get the flow state of its ports
    "PortGroup": (("port_ids", "Port"),),
    "LoadBalancer": (("pool_ids", "Pool"),),
    "Pool": (("pool_member_ids", "PoolMember"), ("vip_ids", "Vip")),
}
_CONDITION_LEADS = (("port_group_id", "PortGroup"), ("in_port_group_id", "PortGroup"),
                    ("out_port_group_id", "PortGroup"), ("ip_addr_group_id_src", "IPAddrGroup"),
                    ("ip_addr_group_id_dst", "IPAddrGroup"))
# a part's device: where a simulation goes next from it
DEVICE_FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    "Port": (("network_id", "Network"), ("router_id", "Router")),
}
DEVICE_KINDS = frozenset({"Network", "Router"})


def named(obj: Any, fields: Iterable[tuple[str, str]]) -> Iterator[Key]:
    for name, kind in fields:
        value = getattr(obj, name, None)
        if value is None:
            continue
        if isinstance(value, uuid.UUID):
            yield kind, value
        else:
            for obj_id in value:
                yield kind, obj_id


def leads(obj: Any) -> Iterator[Key]:
    """The objects a simulation that reads ``obj`` may read next, short of
    other devices."""
    yield from named(obj, LEADS.get(obj.kind, ()))
    if obj.kind == "Rule":
        yield from named(obj.condition, _CONDITION_LEADS)


def device_of(obj: Any) -> Iterator[Key]:
    """The device a part belongs to (a port's network or router), if any."""
    return named(obj, DEVICE_FIELDS.get(obj.kind, ()))


def prefetch(obj: Any) -> Iterator[Key]:
    """What to load with an object a simulation missed: its leads, and for
    a port its device (the next thing the simulation will ask for)."""
    yield from leads(obj)
    yield from device_of(obj)


def in_use(get: Callable[[Key], Any], roots: Iterable[Key]) -> set[Key]:
    """Every loaded object reachable from ``roots`` by leads: the devices in
    use and all their parts. ``get`` returns a loaded object or None."""
    seen: set[Key] = set()
    todo = list(roots)
    while todo:
        key = todo.pop()
        if key in seen:
            continue
        seen.add(key)
        obj = get(key)
        if obj is not None:
            todo.extend(k for k in leads(obj) if k not in seen)
    return seen
