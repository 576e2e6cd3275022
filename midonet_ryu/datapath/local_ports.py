"""Which virtual ports this host serves, on which OpenFlow port, with which
tunnel key (pure: the agent feeds it the topology and the OVSDB interfaces).

A port is served here when the NSDB binds it to this host and an interface
for it is attached to the integration bridge: found by the binding's
interface name, or by ``external_ids:iface-id`` equal to the port id (what
OpenStack's os-vif writes). A binding whose interface is missing waits: it
is served as soon as the interface appears.
"""
from __future__ import annotations

import dataclasses
import uuid
import zlib
from collections.abc import Iterable, Mapping

from midonet_ryu.datapath.pipeline import TUNNEL_KEY_LOCAL_BASE, TUNNEL_KEY_LOCAL_MAX
from midonet_ryu.topology.model import Host, Port
from midonet_ryu.topology.snapshot import TopologyView


@dataclasses.dataclass(frozen=True, slots=True)
class Interface:
    """An interface on the integration bridge, as the OVSDB shows it."""

    name: str
    ofport: int  # -1 / 0 while OVS has not attached it
    iface_id: str | None = None  # external_ids:iface-id (OpenStack os-vif)
    tunnel_key: int | None = None  # remembered in external_ids across restarts
    type: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class LocalBinding:
    port_id: uuid.UUID
    interface: str
    ofport: int
    tunnel_key: int


def ports_bound_here(topology: TopologyView, host_id: uuid.UUID) -> list[Port]:
    host = topology.get(Host, host_id)
    if host is not None:
        ports = (topology.get(Port, pid) for pid in host.port_ids)
        return [p for p in ports if p is not None and p.host_id == host_id]
    return [p for p in topology.objects(Port) if p.host_id == host_id]


def match_interfaces(ports: Iterable[Port],
                     interfaces: Iterable[Interface]) -> dict[uuid.UUID, Interface]:
    """Pair bound ports with attached interfaces (ofport > 0)."""
    by_name: dict[str, Interface] = {}
    by_iface_id: dict[str, Interface] = {}
    for iface in interfaces:
        if iface.ofport <= 0:
            continue
        by_name[iface.name] = iface
        if iface.iface_id:
            by_iface_id[iface.iface_id.lower()] = iface
    found = {}
    for port in ports:
        iface = None
        if port.interface_name:
            iface = by_name.get(port.interface_name)
        if iface is None:
            iface = by_iface_id.get(str(port.id))
        if iface is not None:
            found[port.id] = iface
    return found


def _preferred_key(port_id: uuid.UUID, attempt: int) -> int:
    n = zlib.crc32(port_id.bytes + attempt.to_bytes(2, "big")) % TUNNEL_KEY_LOCAL_MAX
    return TUNNEL_KEY_LOCAL_BASE | (n + 1)


def _valid_local_key(key: int | None) -> bool:
    return key is not None and key & ~TUNNEL_KEY_LOCAL_MAX == TUNNEL_KEY_LOCAL_BASE and bool(
        key & TUNNEL_KEY_LOCAL_MAX)


def assign_tunnel_keys(wanted: Mapping[uuid.UUID, Interface],
                       current: Mapping[uuid.UUID, int]) -> dict[uuid.UUID, int]:
    """A tunnel key per served port, unique on this host.

    Keys only need to be unique per receiving host: the key selects the local
    port a tunnelled frame is delivered to. A port keeps the key it has (in
    memory, or remembered in its interface's external_ids across restarts);
    new ports get a key derived from their id, probing on collision.
    """
    keys: dict[uuid.UUID, int] = {}
    used: set[int] = set()
    # Keys in use now win over keys remembered on interfaces, which win over
    # new ones: a running flow's key never changes under it.
    for source in (lambda p: current.get(p), lambda p: wanted[p].tunnel_key):
        for port_id in sorted(wanted):
            key = source(port_id)
            if port_id not in keys and _valid_local_key(key) and key not in used:
                keys[port_id] = key
                used.add(key)
    for port_id in sorted(wanted):
        if port_id in keys:
            continue
        attempt = 0
        key = _preferred_key(port_id, attempt)
        while key in used:
            attempt += 1
            key = _preferred_key(port_id, attempt)
        keys[port_id] = key
        used.add(key)
    return keys


def desired_bindings(topology: TopologyView, host_id: uuid.UUID,
                     interfaces: Iterable[Interface],
                     current_keys: Mapping[uuid.UUID, int]) -> dict[uuid.UUID, LocalBinding]:
    ports = ports_bound_here(topology, host_id)
    found = match_interfaces(ports, interfaces)
    keys = assign_tunnel_keys(found, current_keys)
    return {pid: LocalBinding(pid, iface.name, iface.ofport, keys[pid])
            for pid, iface in found.items()}
