"""Host registration, tunnel zone membership and port activity in the NSDB.

A host's ``Host`` object is persistent (bindings point at it); its
liveness is the ephemeral ``alive`` key; each bound port the agent serves
gets an ephemeral ``active`` key carrying the host and the tunnel key that
remote hosts must use to reach it (MidoNet's PortState).
"""
from __future__ import annotations

import json
import uuid

from midonet_ryu.nsdb.state_keys import StateKeys
from midonet_ryu.nsdb.store import NotFound, ObjectExists, Store, Transaction
from midonet_ryu.topology.model import Host, HostToIp, Port, TunnelZone, TunnelZoneType

ALIVE = "alive"
ACTIVE = "active"


def register_host(store: Store, keys: StateKeys, host_id: uuid.UUID, name: str) -> Host:
    """Create or rename this host's object and mark it alive."""
    host = store.find(Host, host_id)
    if host is None:
        try:
            host = store.create(Host(id=host_id, name=name))
        except ObjectExists:
            host = store.get(Host, host_id)
    if host.name != name:
        host = store.update_with(Host, host_id, lambda h: h.replace(name=name))
    keys.set("Host", host_id, ALIVE, b"")
    return host


def host_alive(keys: StateKeys, host_id: uuid.UUID) -> bool:
    return keys.get("Host", host_id, ALIVE, namespace=host_id) is not None


def find_tunnel_zone(store: Store, name_or_id: str) -> TunnelZone | None:
    try:
        return store.find(TunnelZone, uuid.UUID(name_or_id))
    except ValueError:
        pass
    for tz in store.list(TunnelZone):
        if tz.name == name_or_id:
            return tz
    return None


def join_tunnel_zone(store: Store, zone: str, host_id: uuid.UUID, ip: str,
                     zone_type: TunnelZoneType = TunnelZoneType.VXLAN) -> TunnelZone:
    """Make ``host_id`` a member of ``zone`` (name or UUID) at underlay ``ip``.

    The zone is created when missing (by name); membership and the host's
    address are updated in one compare-and-swap transaction.
    """
    tz = find_tunnel_zone(store, zone)
    if tz is None:
        try:
            zone_id = uuid.UUID(zone)
            name = ""
        except ValueError:
            zone_id, name = uuid.uuid5(uuid.NAMESPACE_URL, f"midonet-ryu/tz/{zone}"), zone
        try:
            store.create(TunnelZone(id=zone_id, name=name, type=zone_type))
        except ObjectExists:
            pass
        tz_id = zone_id
    else:
        tz_id = tz.id

    def change(tx: Transaction) -> TunnelZone:
        current = tx.get(TunnelZone, tz_id)
        hosts = tuple(h for h in current.hosts if h.host_id != host_id)
        hosts += (HostToIp(host_id=host_id, ip=ip),)
        host_ids = current.host_ids if host_id in current.host_ids else (
            current.host_ids + (host_id,))
        return tx.update(current.replace(hosts=hosts, host_ids=host_ids))

    return store.run(change)


def leave_tunnel_zone(store: Store, zone_id: uuid.UUID, host_id: uuid.UUID) -> None:
    def change(tx: Transaction) -> None:
        current = tx.get(TunnelZone, zone_id)
        tx.update(current.replace(
            hosts=tuple(h for h in current.hosts if h.host_id != host_id),
            host_ids=tuple(h for h in current.host_ids if h != host_id)))

    store.run(change)


def bind_port(store: Store, port_id: uuid.UUID, host_id: uuid.UUID,
              interface_name: str | None) -> Port:
    """Bind a virtual port to (host, interface), as ``mm-ctl --bind-port`` did."""
    return store.update_with(
        Port, port_id, lambda p: p.replace(host_id=host_id, interface_name=interface_name))


def unbind_port(store: Store, port_id: uuid.UUID) -> Port:
    return store.update_with(
        Port, port_id, lambda p: p.replace(host_id=None, interface_name=None))


def encode_port_active(host_id: uuid.UUID, tunnel_key: int) -> bytes:
    return json.dumps({"host_id": str(host_id), "tunnel_key": tunnel_key},
                      sort_keys=True).encode()


def decode_port_active(data: bytes | None) -> tuple[uuid.UUID, int] | None:
    """``(host_id, tunnel_key)`` from a port's active key; None if unusable."""
    if not data:
        return None
    try:
        raw = json.loads(data)
        key = int(raw["tunnel_key"])
        if not 0 < key < (1 << 24):
            return None
        return uuid.UUID(raw["host_id"]), key
    except (ValueError, KeyError, TypeError):
        return None


def publish_port_active(keys: StateKeys, port_id: uuid.UUID, tunnel_key: int) -> None:
    keys.set("Port", port_id, ACTIVE, encode_port_active(keys.namespace, tunnel_key))


def withdraw_port_active(keys: StateKeys, port_id: uuid.UUID) -> None:
    keys.delete("Port", port_id, ACTIVE)


__all__ = ["NotFound", "bind_port", "find_tunnel_zone", "host_alive", "join_tunnel_zone",
           "publish_port_active", "register_host", "unbind_port", "withdraw_port_active"]
