"""The flow-state payload: a sender and the conntrack and NAT keys it shares.

Format version 1 (all integers big-endian, fixed-size records, no padding)::

    header   magic "MRFS" (4) | version u8 = 1 | flags u8 |
             sender host UUID (16) | conntrack count u16 | nat count u16
    conntrack record (29 bytes), ``count`` times:
             device UUID (16) | ip_src u32 | ip_dst u32 | tp_src u16 | tp_dst u16 | proto u8
    nat record (36 bytes), ``count`` times:
             device UUID (16) | type u8 | ip_src u32 | ip_dst u32 | tp_src u16 |
             tp_dst u16 | proto u8 | value ip u32 | value port u16

The records mirror MidoNet's SBE ``conntrack`` and ``nat`` groups field for
field (doc/flow-state.md says why this is not SBE). Fixed-size records make
the size of a message a pure function of its key counts, so the splitter can
pack frames without trial encoding, and make every length check exact: a
payload whose size does not equal what its counts announce is rejected.

The NAT type codes are part of the wire format: never renumber them, only
append (a new type is a new code; an unknown code is rejected).

Flags: bit 0 (``FLAG_WITHDRAW``) says the keys are withdrawn, not shared:
they expired at the sender, which had sent them to this peer. Other bits
are reserved and a message that sets one is rejected, so a flag added
later is never read as plain state by a receiver that predates it.
"""
from __future__ import annotations

import dataclasses
import struct
import uuid

from midonet_ryu.simulation.state import ConntrackKey, NatBinding, NatKey, NatKeyType

MAGIC = b"MRFS"
VERSION = 1
FLAG_WITHDRAW = 0x01
_KNOWN_FLAGS = FLAG_WITHDRAW

_HEADER = struct.Struct("!4sBB16sHH")
_CONNTRACK = struct.Struct("!16sIIHHB")
_NAT = struct.Struct("!16sBIIHHBIH")

HEADER_SIZE = _HEADER.size
CONNTRACK_SIZE = _CONNTRACK.size
NAT_SIZE = _NAT.size

# Wire codes of NatKeyType; append only.
NAT_TYPE_CODES: dict[NatKeyType, int] = {
    NatKeyType.FWD_DNAT: 1,
    NatKeyType.FWD_STICKY_DNAT: 2,
    NatKeyType.REV_DNAT: 3,
    NatKeyType.REV_STICKY_DNAT: 4,
    NatKeyType.FWD_SNAT: 5,
    NatKeyType.REV_SNAT: 6,
}
_NAT_TYPES = {code: t for t, code in NAT_TYPE_CODES.items()}


@dataclasses.dataclass(frozen=True)
class FlowStateMessage:
    """What one state packet carries: who sent it and the keys it shares
    (or, ``withdraw``, the keys it no longer holds)."""

    sender: uuid.UUID
    conntrack: tuple[ConntrackKey, ...] = ()
    nat: tuple[tuple[NatKey, NatBinding], ...] = ()
    withdraw: bool = False


def payload_size(n_conntrack: int, n_nat: int) -> int:
    """Bytes a payload with these key counts takes (records have fixed sizes)."""
    return HEADER_SIZE + n_conntrack * CONNTRACK_SIZE + n_nat * NAT_SIZE


def encode_payload(msg: FlowStateMessage) -> bytes:
    """Encode ``msg``; raises ValueError for keys that do not fit the format
    (an address above 32 bits, a port above 16 bits) rather than sending a
    record the peer would read differently."""
    if len(msg.conntrack) > 0xFFFF or len(msg.nat) > 0xFFFF:
        raise ValueError("too many keys for one payload")
    flags = FLAG_WITHDRAW if msg.withdraw else 0
    parts = [_HEADER.pack(MAGIC, VERSION, flags, msg.sender.bytes, len(msg.conntrack),
                          len(msg.nat))]
    try:
        for k in msg.conntrack:
            parts.append(_CONNTRACK.pack(k.device_id.bytes, k.ip_src, k.ip_dst, k.tp_src,
                                         k.tp_dst, k.proto))
        for k, v in msg.nat:
            parts.append(_NAT.pack(k.device_id.bytes, NAT_TYPE_CODES[k.type], k.ip_src,
                                   k.ip_dst, k.tp_src, k.tp_dst, k.proto, v.ip, v.port))
    except (struct.error, TypeError, AttributeError, KeyError) as e:
        raise ValueError(f"key does not fit the flow-state format: {e}") from None
    return b"".join(parts)


def decode_payload(data: bytes) -> FlowStateMessage:
    """Decode a payload; raises ValueError (only) if it is not exactly one
    well-formed version-1 message."""
    if len(data) < HEADER_SIZE:
        raise ValueError(f"flow-state payload truncated: {len(data)} bytes, "
                         f"header needs {HEADER_SIZE}")
    magic, version, flags, sender, n_ct, n_nat = _HEADER.unpack_from(data, 0)
    if magic != MAGIC:
        raise ValueError(f"not a flow-state payload (magic {magic!r})")
    if version != VERSION:
        raise ValueError(f"unsupported flow-state version {version}")
    if flags & ~_KNOWN_FLAGS:
        raise ValueError(f"unknown flow-state flags 0x{flags:02x}")
    expected = payload_size(n_ct, n_nat)
    if len(data) != expected:
        raise ValueError(f"flow-state payload is {len(data)} bytes, its counts "
                         f"({n_ct} conntrack, {n_nat} nat) need {expected}")
    offset = HEADER_SIZE
    conntrack = []
    for _ in range(n_ct):
        dev, src, dst, sport, dport, proto = _CONNTRACK.unpack_from(data, offset)
        offset += CONNTRACK_SIZE
        conntrack.append(ConntrackKey(uuid.UUID(bytes=dev), src, sport, dst, dport, proto))
    nat = []
    for _ in range(n_nat):
        dev, code, src, dst, sport, dport, proto, vip, vport = _NAT.unpack_from(data, offset)
        offset += NAT_SIZE
        ktype = _NAT_TYPES.get(code)
        if ktype is None:
            raise ValueError(f"unknown NAT key type code {code}")
        nat.append((NatKey(ktype, src, sport, dst, dport, proto, uuid.UUID(bytes=dev)),
                    NatBinding(vip, vport)))
    return FlowStateMessage(uuid.UUID(bytes=sender), tuple(conntrack), tuple(nat),
                            bool(flags & FLAG_WITHDRAW))
