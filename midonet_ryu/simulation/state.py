"""The state the engine reads, and an in-memory implementation.

The engine never writes state: it *reads* through a ``StateView`` and *reports*
what to write in its result (``learned``, ``state_keys``, ``snat_requests``).
The agent adapts its ZooKeeper-backed tables and its flow-state store to this
protocol; every read is a plain ``Mapping`` lookup so the adapters can hand
out their live dicts. ``InMemoryState`` is the reference implementation, used
by tests and benchmarks, with ``apply(result, now)`` to write a result back.

Key formats (see doc/simulation.md):

* MAC table: per (network id, vlan or None), ``mac str -> port UUID``.
* IPv4->MAC (ARP suppression): per network, ``ip int -> mac str``.
* Router ARP table: per router, ``ip int -> ArpEntry`` (a bare mac str is
  accepted as a never-expiring entry).
* Conntrack: ``ConntrackKey -> anything`` (presence is what counts).
* NAT: ``NatKey -> NatBinding``.
* SNAT leases: per (device, ip int), the leased block numbers in ascending
  order (block ``b`` covers ports ``64*b .. 64*b+63``) and the ports in use.
"""
from __future__ import annotations

import bisect
import enum
import itertools
import uuid
from collections.abc import Collection, Container, Hashable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple, Protocol

from midonet_ryu.simulation.result import ArpLearned, MacLearned, SimulationResult

STATE_KEY_TTL = 60.0  # MidoNet's DEFAULT_EXPIRATION for conntrack/NAT keys
ARP_EXPIRATION = 90.0  # a learned router ARP entry is unusable after this
ARP_STALE = 60.0  # ... and refreshed (an ARP request is sent) after this
SNAT_BLOCK_SIZE = 64


class ConntrackKey(NamedTuple):
    """A connection as seen entering ``device_id``; ICMP uses its id as both ports."""

    device_id: uuid.UUID
    ip_src: int
    tp_src: int
    ip_dst: int
    tp_dst: int
    proto: int


class NatKeyType(enum.Enum):
    FWD_DNAT = "fwd_dnat"
    FWD_STICKY_DNAT = "fwd_sticky_dnat"
    REV_DNAT = "rev_dnat"
    REV_STICKY_DNAT = "rev_sticky_dnat"
    FWD_SNAT = "fwd_snat"
    REV_SNAT = "rev_snat"


class NatKey(NamedTuple):
    """Forward keys hold the packet's tuple before translation; reverse keys the
    tuple of the *return* packet as it arrives (so it can be looked up as is)."""

    type: NatKeyType
    ip_src: int
    tp_src: int
    ip_dst: int
    tp_dst: int
    proto: int
    device_id: uuid.UUID


class NatBinding(NamedTuple):
    ip: int
    port: int


class ArpEntry(NamedTuple):
    """A router ARP entry; ``expiry``/``stale`` are absolute times (inf: never)."""

    mac: str
    expiry: float = float("inf")
    stale: float = float("inf")


class StateView(Protocol):
    """What the engine reads. All methods return live, read-only mappings."""

    def mac_table(self, network_id: uuid.UUID, vlan: int | None) -> Mapping[str, uuid.UUID]: ...

    def ip4_mac_table(self, network_id: uuid.UUID) -> Mapping[int, str]: ...

    def arp_table(self, router_id: uuid.UUID) -> Mapping[int, ArpEntry | str]: ...

    @property
    def conntrack(self) -> Container[ConntrackKey]: ...

    @property
    def nat(self) -> Mapping[NatKey, NatBinding]: ...

    def snat_blocks(self, device_id: uuid.UUID, ip: int) -> Sequence[int]:
        """Leased block numbers for (device, ip), in ascending order."""
        ...

    def snat_ports_in_use(self, device_id: uuid.UUID, ip: int) -> Container[int]: ...


_NO_MAP: Mapping[Any, Any] = {}


class InMemoryState:
    """Dict-backed state with bounded tables, TTL expiry and ``apply``.

    Bounds: every MAC/ARP table and the key tables hold at most their
    ``max_*`` entries; inserting beyond evicts the oldest entry (dicts keep
    insertion order), so a flood of spoofed MACs cannot grow memory forever.
    """

    def __init__(self, max_macs_per_table: int = 65536, max_keys: int = 1_000_000,
                 key_ttl: float = STATE_KEY_TTL) -> None:
        self.max_macs = max_macs_per_table
        self.max_keys = max_keys
        self.key_ttl = key_ttl
        self._macs: dict[tuple[uuid.UUID, int | None], dict[str, uuid.UUID]] = {}
        self._ip4: dict[uuid.UUID, dict[int, str]] = {}
        self._arp: dict[uuid.UUID, dict[int, ArpEntry | str]] = {}
        self._conntrack: dict[ConntrackKey, float] = {}
        self._nat: dict[NatKey, NatBinding] = {}
        self._key_expiry: dict[Hashable, float] = {}
        self._blocks: dict[tuple[uuid.UUID, int], list[int]] = {}
        self._ports_used: dict[tuple[uuid.UUID, int], set[int]] = {}
        # bumped by every change of keys or blocks: the agent saves its
        # flow-state file only when it moved (flowstate.local_store)
        self.version = 0

    # --- StateView ----------------------------------------------------------

    def mac_table(self, network_id: uuid.UUID, vlan: int | None) -> Mapping[str, uuid.UUID]:
        return self._macs.get((network_id, vlan), _NO_MAP)

    def ip4_mac_table(self, network_id: uuid.UUID) -> Mapping[int, str]:
        return self._ip4.get(network_id, _NO_MAP)

    def arp_table(self, router_id: uuid.UUID) -> Mapping[int, ArpEntry | str]:
        return self._arp.get(router_id, _NO_MAP)

    @property
    def conntrack(self) -> Mapping[ConntrackKey, float]:
        return self._conntrack

    @property
    def nat(self) -> Mapping[NatKey, NatBinding]:
        return self._nat

    def snat_blocks(self, device_id: uuid.UUID, ip: int) -> Sequence[int]:
        return self._blocks.get((device_id, ip), ())

    def snat_ports_in_use(self, device_id: uuid.UUID, ip: int) -> Collection[int]:
        return self._ports_used.get((device_id, ip), ())

    # --- writes (the agent's side) -----------------------------------------

    def learn_mac(self, network_id: uuid.UUID, vlan: int | None, mac: str,
                  port_id: uuid.UUID) -> None:
        table = self._macs.setdefault((network_id, vlan), {})
        table.pop(mac, None)
        table[mac] = port_id
        _bound(table, self.max_macs)

    def forget_mac(self, network_id: uuid.UUID, vlan: int | None, mac: str) -> None:
        self._macs.get((network_id, vlan), {}).pop(mac, None)

    def set_ip4_mac(self, network_id: uuid.UUID, ip: int, mac: str) -> None:
        table = self._ip4.setdefault(network_id, {})
        table[ip] = mac
        _bound(table, self.max_macs)

    def set_arp(self, router_id: uuid.UUID, ip: int, entry: ArpEntry | str) -> None:
        table = self._arp.setdefault(router_id, {})
        table.pop(ip, None)
        table[ip] = entry
        _bound(table, self.max_macs)

    def lease_snat_block(self, device_id: uuid.UUID, ip: int, block: int) -> None:
        self.version += 1
        blocks = self._blocks.setdefault((device_id, ip), [])
        i = bisect.bisect_left(blocks, block)
        if i == len(blocks) or blocks[i] != block:
            blocks.insert(i, block)

    def release_snat_block(self, device_id: uuid.UUID, ip: int, block: int) -> None:
        self.version += 1
        blocks = self._blocks.get((device_id, ip), [])
        if block in blocks:
            blocks.remove(block)

    def release_snat_block_and_keys(self, device_id: uuid.UUID, ip: int, block: int) -> int:
        """Give a block up with the NAT keys translated into its ports (another
        host holds it now); returns how many keys went."""
        self.release_snat_block(device_id, ip, block)
        lo, hi = block * SNAT_BLOCK_SIZE, (block + 1) * SNAT_BLOCK_SIZE
        gone = [k for k, b in self._nat.items() if k.device_id == device_id and (
            (k.type is NatKeyType.FWD_SNAT and b.ip == ip and lo <= b.port < hi)
            or (k.type is NatKeyType.REV_SNAT and k.ip_dst == ip and lo <= k.tp_dst < hi))]
        for key in gone:
            self._drop_key(key)
        return len(gone)

    def leased_blocks(self) -> Iterator[tuple[uuid.UUID, int, int]]:
        for (device_id, ip), blocks in self._blocks.items():
            for block in blocks:
                yield device_id, ip, block

    def keys_with_expiry(self, newest: int) -> Iterator[tuple[Hashable, Any, float]]:
        """(key, value, expiry) of the ``newest`` most recently refreshed keys,
        newest first; the value is None for conntrack keys."""
        nat = self._nat
        for key in itertools.islice(reversed(self._key_expiry), newest):
            yield key, nat.get(key), self._key_expiry[key]  # type: ignore[call-overload]

    def put_key(self, key: Hashable, value: Any, now: float) -> None:
        """Store a conntrack or NAT key, refreshing its TTL."""
        self.put_key_until(key, value, now + self.key_ttl)

    def put_key_until(self, key: Hashable, value: Any, expiry: float) -> None:
        """Store a key that expires at ``expiry`` (a reloaded one keeps its own)."""
        self.version += 1
        if isinstance(key, ConntrackKey):
            self._conntrack[key] = expiry - self.key_ttl  # when it was last put
        elif isinstance(key, NatKey):
            self._nat[key] = value
            if key.type is NatKeyType.FWD_SNAT:
                self._ports_used.setdefault((key.device_id, value.ip), set()).add(value.port)
        else:
            raise TypeError(f"not a state key: {key!r}")
        self._key_expiry.pop(key, None)
        self._key_expiry[key] = expiry
        if len(self._key_expiry) > self.max_keys:
            oldest = next(iter(self._key_expiry))
            self._drop_key(oldest)

    def apply(self, result: SimulationResult, now: float) -> None:
        """Write back what ``result`` learned and created (what the agent does)."""
        for item in result.learned:
            if type(item) is MacLearned:
                self.learn_mac(item.network_id, item.vlan, item.mac, item.port_id)
            elif type(item) is ArpLearned:
                self.set_arp(item.router_id, item.ip,
                             ArpEntry(item.mac, now + ARP_EXPIRATION, now + ARP_STALE))
        for key, val in result.state_keys:
            self.put_key(key, val, now)

    def expire(self, now: float) -> int:
        """Remove state keys whose TTL passed; returns how many."""
        return len(self.expire_keys(now))

    def expire_keys(self, now: float) -> list[tuple[Hashable, Any]]:
        """Remove state keys whose TTL passed; returns them with their values
        (None for conntrack keys), which the agent withdraws from its peers."""
        gone = [(k, self._nat.get(k)) for k, t in self._key_expiry.items()  # type: ignore[call-overload]
                if t <= now]
        for key, _value in gone:
            self._drop_key(key)
        return gone

    def expiry_of(self, key: Hashable) -> float | None:
        """When ``key`` expires; None if it is not held."""
        return self._key_expiry.get(key)

    def drop_key(self, key: Hashable) -> None:
        """Remove one state key now (a peer withdrew it)."""
        if key in self._key_expiry:
            self._drop_key(key)

    def _drop_key(self, key: Hashable) -> None:
        self.version += 1
        self._key_expiry.pop(key, None)
        if isinstance(key, ConntrackKey):
            self._conntrack.pop(key, None)
            return
        binding = self._nat.pop(key, None)  # type: ignore[call-overload]
        if binding is not None and key.type is NatKeyType.FWD_SNAT:  # type: ignore[attr-defined]
            used = self._ports_used.get((key.device_id, binding.ip))  # type: ignore[attr-defined]
            if used is not None:
                used.discard(binding.port)

    def __len__(self) -> int:
        return len(self._key_expiry)


def _bound(table: dict[Any, Any], limit: int) -> None:
    while len(table) > limit:
        del table[next(iter(table))]
