"""State table entries: codecs, znode-name encoding, and the conflict rule.

MidoNet stores a state table as the children of one znode, each child a name
``<key>,<value>,<%010d version>`` with no data, so a reader gets the whole
table from one ``get_children``. Learned entries are ephemeral-sequential (the
sequence number is the version, and the entry dies with its writer's session);
persistent entries carry version ``2147483647``. For one key the winner is the
learned entry with the highest version, and a persistent entry only wins when
no learned entry exists. This module is pure (no I/O) so the direct reader, the
State Proxy cache and the proxy client all resolve conflicts the same way.
"""
from __future__ import annotations

import dataclasses
import ipaddress
import re
import uuid
from collections.abc import Iterable
from typing import Any, Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")
T = TypeVar("T")

PERSISTENT_VERSION = 2147483647
"""Version of entries that outlive their writer (Java's Int.MaxValue)."""

_MAC_RE = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")


class EncodingError(ValueError):
    """A key, value or entry name that does not follow the table's encoding."""


def normalize_mac(text: str) -> str:
    """``AA-BB-...``/``AA:BB:...`` -> ``aa:bb:cc:dd:ee:ff``; EncodingError otherwise."""
    mac = str(text).strip().lower().replace("-", ":")
    if not _MAC_RE.match(mac):
        raise EncodingError(f"not a MAC address: {text!r}")
    return mac


# -- codecs ----------------------------------------------------------------------------------

class Codec(Generic[T]):
    """Text form (inside znode names) and wire form (State API KeyValue) of one type.

    ``wire_kind`` names the KeyValue field MidoNet uses for the type:
    ``u32`` (data_32), ``u64`` (data_64) or ``bytes`` (data_variable).
    """

    java_class = ""
    wire_kind = "bytes"

    def to_text(self, value: T) -> str:
        raise NotImplementedError

    def from_text(self, text: str) -> T:
        raise NotImplementedError

    def to_wire(self, value: T) -> int | bytes:
        return self.to_text(value).encode()

    def from_wire(self, data: int | bytes) -> T:
        if not isinstance(data, bytes | bytearray):
            raise EncodingError(f"{self.java_class} expects bytes on the wire, got {data!r}")
        try:
            return self.from_text(bytes(data).decode())
        except UnicodeDecodeError as e:
            raise EncodingError(f"{self.java_class}: invalid UTF-8") from e

    def normalize(self, value: Any) -> T:
        """Accept the natural Python spellings of a value; raise EncodingError otherwise."""
        return self.from_text(self.to_text(value))


class MacCodec(Codec[str]):
    """MAC addresses as lowercase colon strings, the form used in the topology model."""

    java_class = "org.midonet.packets.MAC"
    wire_kind = "u64"

    def to_text(self, value: str) -> str:
        return normalize_mac(value)

    def from_text(self, text: str) -> str:
        return normalize_mac(text)

    def to_wire(self, value: str) -> int:
        return int(normalize_mac(value).replace(":", ""), 16)

    def from_wire(self, data: int | bytes) -> str:
        if not isinstance(data, int) or not 0 <= data < 1 << 48:
            raise EncodingError(f"not a MAC on the wire: {data!r}")
        raw = f"{data:012x}"
        return ":".join(raw[i:i + 2] for i in range(0, 12, 2))


class IPv4Codec(Codec[ipaddress.IPv4Address]):
    java_class = "org.midonet.packets.IPv4Addr"
    wire_kind = "u32"

    def to_text(self, value: ipaddress.IPv4Address) -> str:
        try:
            return str(ipaddress.IPv4Address(value))
        except ValueError as e:
            raise EncodingError(f"not an IPv4 address: {value!r}") from e

    def from_text(self, text: str) -> ipaddress.IPv4Address:
        try:
            return ipaddress.IPv4Address(text)
        except ValueError as e:
            raise EncodingError(f"not an IPv4 address: {text!r}") from e

    def to_wire(self, value: ipaddress.IPv4Address) -> int:
        return int(ipaddress.IPv4Address(value))

    def from_wire(self, data: int | bytes) -> ipaddress.IPv4Address:
        if not isinstance(data, int) or not 0 <= data < 1 << 32:
            raise EncodingError(f"not an IPv4 address on the wire: {data!r}")
        return ipaddress.IPv4Address(data)


class UUIDCodec(Codec[uuid.UUID]):
    java_class = "java.util.UUID"
    wire_kind = "bytes"

    def to_text(self, value: uuid.UUID) -> str:
        try:
            return str(value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)))
        except ValueError as e:
            raise EncodingError(f"not a UUID: {value!r}") from e

    def from_text(self, text: str) -> uuid.UUID:
        try:
            return uuid.UUID(text)
        except ValueError as e:
            raise EncodingError(f"not a UUID: {text!r}") from e

    def to_wire(self, value: uuid.UUID) -> bytes:
        return self.normalize(value).bytes

    def from_wire(self, data: int | bytes) -> uuid.UUID:
        if not isinstance(data, bytes | bytearray) or len(data) != 16:
            raise EncodingError(f"a UUID is 16 bytes on the wire, got {data!r}")
        return uuid.UUID(bytes=bytes(data))


@dataclasses.dataclass(frozen=True)
class ArpEntry:
    """A router's ARP cache entry; times are epoch milliseconds, as in MidoNet."""

    mac: str | None
    expiry: int = 0
    stale: int = 0
    last_arp: int = 0


class ArpEntryCodec(Codec[ArpEntry]):
    """``mac;expiry;stale;lastArp`` (``null`` for an unresolved MAC), as MidoNet's ArpEntry."""

    java_class = "org.midonet.cluster.data.storage.model.ArpEntry"
    wire_kind = "bytes"

    def to_text(self, value: ArpEntry) -> str:
        if not isinstance(value, ArpEntry):
            raise EncodingError(f"not an ArpEntry: {value!r}")
        mac = "null" if value.mac is None else normalize_mac(value.mac)
        return f"{mac};{int(value.expiry)};{int(value.stale)};{int(value.last_arp)}"

    def from_text(self, text: str) -> ArpEntry:
        fields = text.split(";")
        if len(fields) != 4:
            raise EncodingError(f"an ARP entry has 4 fields, got {text!r}")
        try:
            mac = None if fields[0] == "null" else normalize_mac(fields[0])
            return ArpEntry(mac, int(fields[1]), int(fields[2]), int(fields[3]))
        except ValueError as e:
            raise EncodingError(f"bad ARP entry {text!r}") from e


class TextCodec(Codec[str]):
    """Any other type: its text, UTF-8 on the wire (MidoNet's fallback)."""

    java_class = "java.lang.String"

    def to_text(self, value: str) -> str:
        text = str(value)
        if "," in text or "/" in text or not text:
            raise EncodingError(f"text values cannot be empty or hold ',' or '/': {text!r}")
        return text

    def from_text(self, text: str) -> str:
        return text


MAC = MacCodec()
IPV4 = IPv4Codec()
UUID = UUIDCodec()
ARP_ENTRY = ArpEntryCodec()
TEXT = TextCodec()


# -- table kinds -----------------------------------------------------------------------------

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


# -- entries ---------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True, order=True)
class Entry(Generic[K, V]):
    """One decoded table entry; ``name`` is the znode name it came from."""

    key: K
    value: V
    version: int
    name: str

    @property
    def learned(self) -> bool:
        return self.version != PERSISTENT_VERSION

    @property
    def rank(self) -> tuple[bool, int, str]:
        """Sort key of the conflict rule: learned first, then version, then the name
        (a deterministic tie-break between two persistent values of one key)."""
        return (self.learned, self.version, self.name)


def encode_name(spec: TableSpec[K, V], key: K, value: V, version: int | None = None) -> str:
    """The znode name of an entry; ``version=None`` gives the ephemeral-sequential prefix."""
    prefix = f"{spec.key.to_text(key)},{spec.value.to_text(value)},"
    if version is None:
        return prefix
    if not 0 <= version <= PERSISTENT_VERSION:
        raise EncodingError(f"version out of range: {version}")
    return f"{prefix}{version:010d}"


def decode_name(spec: TableSpec[K, V], name: str) -> Entry[K, V]:
    """Parse ``<key>,<value>,<version>``; EncodingError for anything else."""
    head, sep, version = name.rpartition(",")
    key_text, sep2, value_text = head.partition(",")
    if not sep or not sep2 or len(version) != 10 or not version.isdigit():
        raise EncodingError(f"not a state table entry: {name!r}")
    return Entry(spec.key.from_text(key_text), spec.value.from_text(value_text),
                 int(version), name)


Change = tuple[Any, Any, Any]
"""``(key, old_value, new_value)``; ``None`` for old means added, for new means removed."""


@dataclasses.dataclass(frozen=True)
class WinnerChange(Generic[K, V]):
    """The winning entry of ``key`` went from ``old`` to ``new`` (either may be None)."""

    key: K
    old: Entry[K, V] | None
    new: Entry[K, V] | None

    def as_value_change(self) -> Change | None:
        """The change as readers of values see it; None when only the version moved."""
        old = self.old.value if self.old else None
        new = self.new.value if self.new else None
        return None if old == new else (self.key, old, new)


def value_changes(changes: Iterable[WinnerChange]) -> list[Change]:
    out = []
    for change in changes:
        vc = change.as_value_change()
        if vc is not None:
            out.append(vc)
    return out


class TableState(Generic[K, V]):
    """All entries of one table, and the winner of each key under the conflict rule.

    Fed either whole child lists (``replace``) or single creates/deletes
    (``add``/``discard``); each returns the winner changes it caused.
    Not thread-safe: one owner applies updates.
    """

    def __init__(self, spec: TableSpec[K, V]) -> None:
        self.spec = spec
        self._names: dict[str, Entry[K, V]] = {}
        self._by_key: dict[K, dict[str, Entry[K, V]]] = {}
        self.winners: dict[K, Entry[K, V]] = {}
        self.bad_names = 0

    def __len__(self) -> int:
        return len(self.winners)

    def __contains__(self, name: object) -> bool:
        return name in self._names

    def entries(self) -> Iterable[Entry[K, V]]:
        return self._names.values()

    def _recompute(self, key: K) -> WinnerChange[K, V] | None:
        old = self.winners.get(key)
        group = self._by_key.get(key)
        new = max(group.values(), key=lambda e: e.rank) if group else None
        if new is None:
            self.winners.pop(key, None)
        else:
            self.winners[key] = new
        if old is new:
            return None
        return WinnerChange(key, old, new)

    def add(self, name: str) -> WinnerChange[K, V] | None:
        """Account for a created entry; None when the winner did not change."""
        if name in self._names:
            return None
        try:
            entry = decode_name(self.spec, name)
        except EncodingError:
            self.bad_names += 1
            return None
        self._names[name] = entry
        self._by_key.setdefault(entry.key, {})[name] = entry
        return self._recompute(entry.key)

    def discard(self, name: str) -> WinnerChange[K, V] | None:
        """Account for a deleted entry; None when the winner did not change."""
        entry = self._names.pop(name, None)
        if entry is None:
            return None
        group = self._by_key[entry.key]
        del group[name]
        if not group:
            del self._by_key[entry.key]
        return self._recompute(entry.key)

    def replace(self, names: Iterable[str]) -> list[WinnerChange[K, V]]:
        """Make the entries exactly ``names``; one change per key whose winner moved."""
        wanted = set(names)
        changes: list[WinnerChange[K, V]] = []
        for name in [n for n in self._names if n not in wanted]:
            change = self.discard(name)
            if change:
                changes.append(change)
        for name in wanted:
            if name not in self._names:
                change = self.add(name)
                if change:
                    changes.append(change)
        return squash(changes)


def squash(changes: Iterable[WinnerChange]) -> list[WinnerChange]:
    """One change per key (first old, last new), dropping keys that ended where they began."""
    merged: dict[Any, WinnerChange] = {}
    for change in changes:
        first = merged.get(change.key)
        merged[change.key] = change if first is None else WinnerChange(
            change.key, first.old, change.new)
    return [c for c in merged.values() if c.old is not c.new]
