"""Codecs of state table keys and values: their text (inside znode names) and wire forms.

One codec per Python type, shared by the ZooKeeper encoding (``to_text``) and the
State API (``to_wire``), so a key means the same thing on both paths. Pure: no I/O.
"""
from __future__ import annotations

import dataclasses
import ipaddress
import re
import uuid
from typing import Any, Generic, TypeVar

T = TypeVar("T")

_MAC_RE = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")


class EncodingError(ValueError):
    """A key, value or entry name that does not follow the table's encoding."""


def normalize_mac(text: str) -> str:
    """``AA-BB-...``/``AA:BB:...`` -> ``aa:bb:cc:dd:ee:ff``; EncodingError otherwise."""
    mac = str(text).strip().lower().replace("-", ":")
    if not _MAC_RE.match(mac):
        raise EncodingError(f"not a MAC address: {text!r}")
    return mac


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
