"""The state a cluster-side packet trace sees: the NSDB's shared tables, read on demand.

A trace (``simulation.trace``) runs the engine in the API server, which
holds no flow state and subscribes to no table. This ``StateView`` reads
the MAC, IPv4->MAC and router ARP tables from ZooKeeper the first time the
engine asks for one (one ``get_children`` each, no watch) and keeps what it
read for its own lifetime: build one per trace, so a trace sees one
consistent snapshot of each table and costs a round trip per table it
touches, never one per lookup.

Flow state is empty: no conntrack entry and no NAT binding, so a trace shows
what the *first* packet of a flow would do ("what if"). SNAT is traced as if
every port block of the address were leased and free, so the trace shows
the translation a new flow would get (the agent that really handles the flow
leases its own block; the port it picks may differ).

Blocking I/O: call it from a worker thread (or a green thread), never from
an event loop. ZooKeeper errors (connection loss...) propagate: a trace
that cannot read the tables must fail rather than show a path of empty ones.
"""
from __future__ import annotations

import uuid
from collections.abc import Collection, Container, Mapping, Sequence
from typing import Any

from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError

from midonet_ryu.nsdb.paths import Paths
from midonet_ryu.nsdb.state_catalogue import (
    ARP_TABLE,
    IP4_MAC_TABLE,
    MAC_TABLE,
    TableSpec,
    table_path,
)
from midonet_ryu.nsdb.state_winners import TableState
from midonet_ryu.simulation.state import SNAT_BLOCK_SIZE, ArpEntry, NatBinding, NatKey

_ALL_BLOCKS: tuple[int, ...] = tuple(range(65536 // SNAT_BLOCK_SIZE))
_NO_KEYS: frozenset[Any] = frozenset()
_NO_NAT: Mapping[NatKey, NatBinding] = {}


class NsdbTraceState:
    """A ``StateView`` over the NSDB's tables for one trace (see the module doc)."""

    def __init__(self, client: KazooClient, paths: Paths) -> None:
        self.client = client
        self.paths = paths
        self._tables: dict[tuple[str, uuid.UUID, str], Mapping[Any, Any]] = {}
        self.reads = 0
        """Tables read from ZooKeeper so far (each at most once)."""

    def _read(self, spec: TableSpec[Any, Any], object_id: uuid.UUID,
              args: tuple[str, ...] = ()) -> dict[Any, Any]:
        """The winning value of every key, by the agents' conflict rule."""
        try:
            names = self.client.get_children(table_path(self.paths, spec, object_id, args))
        except NoNodeError:  # nothing was ever written to the table
            names = []
        self.reads += 1
        state: TableState[Any, Any] = TableState(spec)
        state.replace(names)
        return {key: entry.value for key, entry in state.winners.items()}

    def _table(self, kind: str, object_id: uuid.UUID, arg: str = "") -> Mapping[Any, Any]:
        key = (kind, object_id, arg)
        table = self._tables.get(key)
        if table is None:
            if kind == "mac":
                table = self._read(MAC_TABLE, object_id, (arg,))
            elif kind == "ip4mac":
                table = {int(ip): mac for ip, mac in self._read(IP4_MAC_TABLE, object_id).items()}
            else:  # MidoNet keeps ARP times in epoch milliseconds, the engine in seconds
                table = {int(ip): ArpEntry(e.mac, e.expiry / 1000.0, e.stale / 1000.0)
                         for ip, e in self._read(ARP_TABLE, object_id).items()
                         if e.mac is not None}
            self._tables[key] = table
        return table

    # -- StateView -----------------------------------------------------------
    def mac_table(self, network_id: uuid.UUID, vlan: int | None) -> Mapping[str, uuid.UUID]:
        # The agents write untagged entries under VLAN 0 (MidoNet's UNTAGGED_VLAN_ID).
        return self._table("mac", network_id, str(0 if vlan is None else vlan))

    def ip4_mac_table(self, network_id: uuid.UUID) -> Mapping[int, str]:
        return self._table("ip4mac", network_id)

    def arp_table(self, router_id: uuid.UUID) -> Mapping[int, ArpEntry | str]:
        return self._table("arp", router_id)

    @property
    def conntrack(self) -> Container[Any]:
        return _NO_KEYS

    @property
    def nat(self) -> Mapping[NatKey, NatBinding]:
        return _NO_NAT

    def snat_blocks(self, device_id: uuid.UUID, ip: int) -> Sequence[int]:
        return _ALL_BLOCKS

    def snat_ports_in_use(self, device_id: uuid.UUID, ip: int) -> Collection[int]:
        return _NO_KEYS
