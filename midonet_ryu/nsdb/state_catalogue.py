"""The catalogue of state tables: which tables exist, where they live, how they are typed.

The State Proxy server (which tables may be subscribed), the client (what to send
in a Subscribe) and the direct reader (which znode to read) all look tables up
here, so they agree on names, Java classes and paths. Pure: no I/O.
"""
from __future__ import annotations

import dataclasses
import ipaddress
import uuid
from typing import Generic, TypeVar

from midonet_ryu.nsdb.paths import Paths
from midonet_ryu.nsdb.state_codecs import (
    ARP_ENTRY,
    IPV4,
    MAC,
    UUID,
    ArpEntry,
    Codec,
    EncodingError,
)

K = TypeVar("K")
V = TypeVar("V")

@dataclasses.dataclass(frozen=True)
class TableSpec(Generic[K, V]):
    """One kind of state table: where it lives and how its entries are typed.

    ``kind`` is the owner's class simple name used in the ZooKeeper path,
    ``object_class`` the Java class name MidoNet's State API puts on the wire.
    """

    name: str
    kind: str
    object_class: str
    key: Codec[K]
    value: Codec[V]
    arg_count: int = 0


MAC_TABLE: TableSpec[str, uuid.UUID] = TableSpec(
    "mac_table", "Network", "org.midonet.cluster.models.Topology$Network", MAC, UUID, 1)
"""Network: MAC -> port, one table per VLAN (argument: the VLAN id, 0 when untagged)."""
IP4_MAC_TABLE: TableSpec[ipaddress.IPv4Address, str] = TableSpec(
    "ip4_mac_table", "Network", "org.midonet.cluster.models.Topology$Network", IPV4, MAC)
"""Network: IPv4 -> MAC, used for ARP suppression."""
ARP_TABLE: TableSpec[ipaddress.IPv4Address, ArpEntry] = TableSpec(
    "arp_table", "Router", "org.midonet.cluster.models.Topology$Router", IPV4, ARP_ENTRY)
"""Router: IPv4 -> ArpEntry."""
PEERING_TABLE: TableSpec[str, ipaddress.IPv4Address] = TableSpec(
    "peering_table", "Port", "org.midonet.cluster.models.Topology$Port", MAC, IPV4)
"""Port: MAC -> IPv4 of the peer."""

TABLE_SPECS: tuple[TableSpec, ...] = (MAC_TABLE, IP4_MAC_TABLE, ARP_TABLE, PEERING_TABLE)


def find_spec(object_class: str, name: str, key_class: str = "",
              value_class: str = "") -> TableSpec:
    """The table a State API subscription names; EncodingError when unknown.

    The object class may be given as MidoNet's FQCN or as the simple name; key and
    value classes, when given, must match the table's.
    """
    for spec in TABLE_SPECS:
        if spec.name != name or object_class not in (spec.object_class, spec.kind):
            continue
        if key_class and key_class != spec.key.java_class:
            raise EncodingError(f"{name}: key class {key_class!r} is not {spec.key.java_class}")
        if value_class and value_class != spec.value.java_class:
            raise EncodingError(
                f"{name}: value class {value_class!r} is not {spec.value.java_class}")
        return spec
    raise EncodingError(f"unknown state table {object_class!r}/{name!r}")


def table_path(paths: Paths, spec: TableSpec, object_id: uuid.UUID,
               args: tuple[str, ...] = ()) -> str:
    """``<root>/zoom/0/tables/<Class>/<id>/<table>[/<arg>]``; checks the argument count."""
    if len(args) != spec.arg_count:
        raise ValueError(f"{spec.name} takes {spec.arg_count} argument(s), got {args!r}")
    for arg in args:
        if not arg or "/" in arg:
            raise ValueError(f"bad table argument {arg!r}")
    return paths.table(spec.kind, object_id, spec.name, tuple(args))
