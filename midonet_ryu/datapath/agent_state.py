"""The simulation's state, as the agent holds it.

MAC and IPv4->MAC tables come from the NSDB state tables (shared by every
agent); conntrack, NAT and SNAT leases are local for now (flow state
distributes them later). A simulation must never wait on I/O, so a table the
agent has not subscribed to yet reads as empty and is noted in
``requested`` (the flow setup hands those to the shell to subscribe); when
it loads, its entries arrive as change callbacks, which invalidate the flows
simulated without them.
"""
from __future__ import annotations

import ipaddress
import logging
import uuid
from collections.abc import Collection, Container, Iterator, Mapping, Sequence
from typing import Any

from midonet_ryu.simulation import tags
from midonet_ryu.simulation.result import ArpLearned, MacLearned, SimulationResult
from midonet_ryu.simulation.state import ArpEntry, InMemoryState, NatBinding, NatKey

LOG = logging.getLogger(__name__)
_EMPTY: Mapping[Any, Any] = {}

TableKey = tuple[str, uuid.UUID, int | None]


class AgentState:
    """A ``StateView`` over NSDB tables plus local key tables."""

    def __init__(self, local: InMemoryState | None = None) -> None:
        self.local = local if local is not None else InMemoryState()
        self._tables: dict[TableKey, Mapping[Any, Any]] = {}
        self._requested: set[TableKey] = set()
        self.requested: list[TableKey] = []  # asked for and not handed out yet

    def _get(self, key: TableKey) -> Mapping[Any, Any]:
        table = self._tables.get(key)
        if table is not None:
            return table
        if key not in self._requested:
            self._requested.add(key)
            self.requested.append(key)
        return _EMPTY

    def attach(self, key: TableKey, table: Mapping[Any, Any]) -> None:
        self._tables[key] = table

    def detach(self, key: TableKey) -> Mapping[Any, Any] | None:
        self._requested.discard(key)
        return self._tables.pop(key, None)

    def tables(self) -> dict[TableKey, Mapping[Any, Any]]:
        return dict(self._tables)

    # -- StateView -----------------------------------------------------------
    def mac_table(self, network_id: uuid.UUID, vlan: int | None) -> Mapping[str, uuid.UUID]:
        return self._get(("mac", network_id, vlan))

    def ip4_mac_table(self, network_id: uuid.UUID) -> Mapping[int, str]:
        return self._get(("ip4mac", network_id, None))

    def arp_table(self, router_id: uuid.UUID) -> Mapping[int, ArpEntry | str]:
        return self._get(("arp", router_id, None))

    @property
    def conntrack(self) -> Container[Any]:
        return self.local.conntrack

    @property
    def nat(self) -> Mapping[NatKey, NatBinding]:
        return self.local.nat

    def snat_blocks(self, device_id: uuid.UUID, ip: int) -> Sequence[int]:
        return self.local.snat_blocks(device_id, ip)

    def snat_ports_in_use(self, device_id: uuid.UUID, ip: int) -> Collection[int]:
        ports: Collection[int] = self.local.snat_ports_in_use(device_id, ip)
        return ports

    # -- writes --------------------------------------------------------------
    def apply_local(self, result: SimulationResult, now: float) -> list[MacLearned | ArpLearned]:
        """Apply what stays local; return the learnings to write to the NSDB
        (MAC and ARP tables are shared by every agent)."""
        shared: list[MacLearned | ArpLearned] = []
        for item in result.learned:
            if type(item) is MacLearned:
                table = self._tables.get(("mac", item.network_id, item.vlan))
                if table is None or table.get(item.mac) != item.port_id:
                    shared.append(item)
            elif type(item) is ArpLearned:
                shared.append(item)
        for key, value in result.state_keys:
            self.local.put_key(key, value, now)
        return shared


class IntKeyedIPv4(Mapping[int, Any]):
    """Present a table keyed by ``IPv4Address`` to the engine, which keys IPs by int."""

    __slots__ = ("_table",)

    def __init__(self, table: Mapping[Any, Any]) -> None:
        self._table = table

    def __getitem__(self, key: int) -> Any:
        return self._table[ipaddress.IPv4Address(key)]

    def get(self, key: int, default: Any = None) -> Any:
        return self._table.get(ipaddress.IPv4Address(key), default)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, int) and ipaddress.IPv4Address(key) in self._table

    def __iter__(self) -> Iterator[int]:
        return (int(k) for k in self._table)

    def __len__(self) -> int:
        return len(self._table)


class RouterArpView(Mapping[int, ArpEntry]):
    """A router's NSDB ARP table as the engine reads it: int IPs, times in
    seconds (MidoNet stores epoch milliseconds)."""

    __slots__ = ("_table",)

    def __init__(self, table: Mapping[Any, Any]) -> None:
        self._table = table

    @staticmethod
    def _convert(entry: Any) -> ArpEntry | None:
        if entry is None or entry.mac is None:
            return None
        return ArpEntry(entry.mac, entry.expiry / 1000.0, entry.stale / 1000.0)

    def __getitem__(self, key: int) -> ArpEntry:
        found = self._convert(self._table[ipaddress.IPv4Address(key)])
        if found is None:
            raise KeyError(key)
        return found

    def get(self, key: int, default: Any = None) -> Any:
        found = self._convert(self._table.get(ipaddress.IPv4Address(key)))
        return default if found is None else found

    def __contains__(self, key: object) -> bool:
        return isinstance(key, int) and self.get(key) is not None

    def __iter__(self) -> Iterator[int]:
        return (int(k) for k in self._table)

    def __len__(self) -> int:
        return len(self._table)


ARP_EXPIRY = 90.0  # MidoNet's arp_expiration
ARP_STALE = 60.0


def nsdb_arp_entry(mac: str, now: float, expiry: float = ARP_EXPIRY,
                   stale: float = ARP_STALE) -> Any:
    from midonet_ryu.nsdb.state_codecs import ArpEntry as NsdbArpEntry

    return NsdbArpEntry(mac, int((now + expiry) * 1000), int((now + stale) * 1000),
                        int(now * 1000))


def table_change_tags(key: TableKey, entry_key: Any) -> list[tuple[Any, ...]]:
    kind, device_id, vlan = key
    if kind == "mac":
        return [tags.mac_entry(device_id, vlan, entry_key)]
    if kind == "ip4mac":
        return [tags.ip4_mac_entry(device_id, int(entry_key))]
    if kind == "arp":
        return [tags.arp_entry(device_id, int(entry_key))]
    return []
