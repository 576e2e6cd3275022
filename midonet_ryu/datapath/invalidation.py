"""Which flow tags a topology change invalidates (pure).

Most changes invalidate the object and every device it references: a
rule or pool member changes its parent's behaviour. A network's VM
port is precise instead: booting, deleting, binding, moving or disabling one
VM must not drop the flows between the network's other VMs. Those flows do
not depend on it; what does is tagged with it (the flows through it, to it,
and every flood that output to it) or with the network's floods (a new port
is not in the floods set up before it). Ports linked to a router keep the
broad rule: they change the bridge's router maps and the router's routes.
A route is precise too: it changes the lookups it wins, found by prefix
(:class:`~midonet_ryu.simulation.tags.RoutesTo`), and the flows that used it.
"""
from __future__ import annotations

import uuid
from collections.abc import Hashable
from typing import Any

from midonet_ryu.simulation import tags
from midonet_ryu.simulation.addr import parse_cidr

# kinds whose change can change which ports are bound here or where tunnels go
SYNC_KINDS = frozenset({"Port", "Host", "TunnelZone"})

# Back-references that no simulation reads beyond what the referencing
# object's own change invalidates: a network's port list changes with a port
# (handled below), a router's or port's route list with a route (below), a
# host's with a binding (hosts are not simulated).
_MEMBERSHIP_ONLY = {"Network": frozenset({"port_ids"}), "Host": frozenset({"port_ids"}),
                    "Router": frozenset({"route_ids"}), "Port": frozenset({"route_ids"})}


def topology_change_tags(kind: str, obj_id: uuid.UUID, old: Any, new: Any) -> list[Hashable]:
    if old is not None and new is not None and kind in _MEMBERSHIP_ONLY:
        if _changed_fields(old, new) <= _MEMBERSHIP_ONLY[kind]:
            return []
    if kind == "Port" and _is_vm_port(old) and _is_vm_port(new):
        return _vm_port_tags(obj_id, old, new)
    if kind == "Route":
        precise = _route_tags(obj_id, old, new)
        if precise is not None:
            return precise
    return broad_change_tags(kind, obj_id, old, new)


def broad_change_tags(kind: str, obj_id: uuid.UUID, old: Any, new: Any) -> list[Hashable]:
    """The general rule (and the only one before VM ports and routes were
    precise; the invalidation benchmark measures against it): the object
    and every device it references."""
    changed: set[Hashable] = {tags.device(obj_id)}
    for obj in (old, new):
        if obj is None:
            continue
        for name in obj.__dataclass_fields__:
            value = getattr(obj, name)
            if isinstance(value, uuid.UUID) and name != "id":
                changed.add(tags.device(value))
    if kind == "Port":
        changed.add(tags.port(obj_id))
    elif kind == "Rule":
        changed.add(tags.rule(obj_id))
    elif kind == "TraceRequest":
        # the traced port's flows must come back to the agent to be recorded
        for obj in (old, new):
            if obj is not None and obj.device_id is not None:
                changed.add(tags.port(obj.device_id))
    return list(changed)


def _is_vm_port(port: Any) -> bool:
    """A network's port not linked to anything (bound or not), or no port."""
    return port is None or (port.network_id is not None and port.router_id is None
                            and port.peer_id is None)


def _vm_port_tags(port_id: uuid.UUID, old: Any, new: Any) -> list[Hashable]:
    changed: set[Hashable] = {tags.port(port_id)}
    for port in (old, new):
        if port is None:
            continue
        if port.vlan_id is None:  # a trunk: in the floods of every VLAN
            changed.add(tags.floods(port.network_id))
        else:
            changed.add(tags.flood(port.network_id, port.vlan_id))
    return list(changed)


def _route_tags(route_id: uuid.UUID, old: Any, new: Any) -> list[Hashable] | None:
    """The flows that used the route, and the lookups its prefix now wins
    (before and after a change); None: not a router's route, the broad rule."""
    changed: list[Hashable] = [tags.device(route_id)]
    for route, exact in ((old, True), (new, False)):
        if route is None:
            continue
        if route.router_id is None:
            return None
        try:
            net, plen = parse_cidr(route.dst_subnet)
        except ValueError:
            return None
        changed.append(tags.RoutesTo(route.router_id, net, plen, exact))
    return changed


def _changed_fields(old: Any, new: Any) -> set[str]:
    return {name for name in old.__dataclass_fields__
            if getattr(old, name) != getattr(new, name)}
