"""The packet as the simulation sees it: ``FlowMatch`` and a fast frame parser.

``parse_frame`` is called on every packet-in, so it is a handful of
``struct.unpack_from`` calls rather than a generic packet library (os-ken's
parser costs about 19 us a frame, our budget for a whole simulation).

Representation (also in doc/simulation.md):

* MACs: lowercase ``"aa:bb:cc:dd:ee:ff"`` strings.
* IPv4 addresses (``ip_src``, ``ip_dst``, ``arp_spa``, ``arp_tpa``): ``int``
  in host order; convert with :func:`addr.ip_to_int` / :func:`addr.int_to_ip`.
* ``vlan_id``: ``None`` when untagged, else the 12-bit VLAN id.
* ``ip_frag``: ``FRAG_NONE``, ``FRAG_FIRST`` or ``FRAG_LATER`` (OVS's
  ``nw_frag`` values); later fragments carry no transport fields.
* ICMP: ``icmp_type``/``icmp_code`` always, ``icmp_id`` for echo messages.
  ``tp_src``/``tp_dst`` are only set for TCP, UDP and SCTP.
* Fields a frame does not have are ``None``.

Frame builders (ARP, ICMP, DHCP) live in :mod:`packet_builders` and are re-exported
here.
"""
from __future__ import annotations

import struct
import uuid
from typing import Any

ETH_IPV4 = 0x0800
ETH_ARP = 0x0806
ETH_VLAN = 0x8100
ETH_QINQ = 0x88A8
ETH_IPV6 = 0x86DD

PROTO_ICMP = 1
PROTO_TCP = 6
PROTO_UDP = 17
PROTO_SCTP = 132

ARP_REQUEST = 1
ARP_REPLY = 2

ICMP_ECHO_REPLY = 0
ICMP_UNREACH = 3
ICMP_ECHO_REQUEST = 8
ICMP_TIME_EXCEEDED = 11

FRAG_NONE = 0
FRAG_FIRST = 1
FRAG_LATER = 2

# Header fields, in the order of the wildcard bit they own.
MATCH_FIELDS: tuple[str, ...] = (
    "in_port", "eth_src", "eth_dst", "eth_type", "vlan_id",
    "ip_src", "ip_dst", "ip_proto", "ip_tos", "ip_ttl", "ip_frag",
    "tp_src", "tp_dst", "icmp_type", "icmp_code", "icmp_id",
    "arp_op", "arp_spa", "arp_tpa", "arp_sha", "arp_tha",
)
FIELD_BIT: dict[str, int] = {name: 1 << i for i, name in enumerate(MATCH_FIELDS)}

_ETH = struct.Struct("!6s6sH")
_VLAN = struct.Struct("!HH")
_ARP = struct.Struct("!HHBBH6s4s6s4s")
_IPV4 = struct.Struct("!BBHHHBBH4s4s")
_PORTS = struct.Struct("!HH")
_ICMP = struct.Struct("!BBHHH")
_U32 = struct.Struct("!I")


class MalformedPacket(ValueError):
    """The frame is truncated or not a well-formed Ethernet/ARP/IPv4 frame."""


class FlowMatch:
    """Header fields of one packet; mutable so devices can rewrite it (NAT, TTL, MACs).

    ``frame`` and ``l3_offset`` keep the raw bytes for what needs them (ICMP
    errors quote the original IP header, DHCP reads the payload); they are
    not match fields and take no part in equality.
    """

    __slots__ = MATCH_FIELDS + ("frame", "l3_offset", "l4_offset")

    def __init__(
        self,
        in_port: uuid.UUID | None = None,
        eth_src: str = "00:00:00:00:00:00",
        eth_dst: str = "00:00:00:00:00:00",
        eth_type: int = 0,
        vlan_id: int | None = None,
        ip_src: int | None = None,
        ip_dst: int | None = None,
        ip_proto: int | None = None,
        ip_tos: int | None = None,
        ip_ttl: int | None = None,
        ip_frag: int | None = None,
        tp_src: int | None = None,
        tp_dst: int | None = None,
        icmp_type: int | None = None,
        icmp_code: int | None = None,
        icmp_id: int | None = None,
        arp_op: int | None = None,
        arp_spa: int | None = None,
        arp_tpa: int | None = None,
        arp_sha: str | None = None,
        arp_tha: str | None = None,
        frame: bytes | None = None,
        l3_offset: int = 14,
        l4_offset: int | None = None,
    ) -> None:
        self.in_port = in_port
        self.eth_src = eth_src
        self.eth_dst = eth_dst
        self.eth_type = eth_type
        self.vlan_id = vlan_id
        self.ip_src = ip_src
        self.ip_dst = ip_dst
        self.ip_proto = ip_proto
        self.ip_tos = ip_tos
        self.ip_ttl = ip_ttl
        self.ip_frag = ip_frag
        self.tp_src = tp_src
        self.tp_dst = tp_dst
        self.icmp_type = icmp_type
        self.icmp_code = icmp_code
        self.icmp_id = icmp_id
        self.arp_op = arp_op
        self.arp_spa = arp_spa
        self.arp_tpa = arp_tpa
        self.arp_sha = arp_sha
        self.arp_tha = arp_tha
        self.frame = frame
        self.l3_offset = l3_offset
        self.l4_offset = l4_offset

    def copy(self) -> FlowMatch:
        new = FlowMatch.__new__(FlowMatch)
        for name in FlowMatch.__slots__:
            setattr(new, name, getattr(self, name))
        return new

    def fields(self) -> dict[str, Any]:
        """The header fields as a dict (handy in tests and logs)."""
        return {name: getattr(self, name) for name in MATCH_FIELDS}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FlowMatch):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in MATCH_FIELDS)

    def __hash__(self) -> int:
        return hash(tuple(getattr(self, n) for n in MATCH_FIELDS))

    def __repr__(self) -> str:
        set_fields = ", ".join(
            f"{n}={getattr(self, n)!r}" for n in MATCH_FIELDS if getattr(self, n) is not None
        )
        return f"FlowMatch({set_fields})"

    @property
    def is_ipv4(self) -> bool:
        return self.eth_type == ETH_IPV4 and self.ip_src is not None


def _mac(raw: bytes) -> str:
    return raw.hex(":")


def parse_frame(data: bytes, ingress_port_id: uuid.UUID | None) -> FlowMatch:
    """Parse an Ethernet frame into a ``FlowMatch``.

    Raises ``MalformedPacket`` (a ValueError) for truncated or inconsistent
    frames; never anything else, whatever the bytes.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise MalformedPacket(f"frame must be bytes, not {type(data).__name__}")
    data = bytes(data)
    n = len(data)
    if n < 14:
        raise MalformedPacket(f"frame of {n} bytes is shorter than an Ethernet header")
    dst, src, eth_type = _ETH.unpack_from(data, 0)
    match = FlowMatch(in_port=ingress_port_id, eth_src=_mac(src), eth_dst=_mac(dst), frame=data)
    off = 14
    if eth_type in (ETH_VLAN, ETH_QINQ):
        if n < 18:
            raise MalformedPacket("truncated VLAN tag")
        tci, eth_type = _VLAN.unpack_from(data, 14)
        match.vlan_id = tci & 0x0FFF
        off = 18
    match.eth_type = eth_type
    match.l3_offset = off
    if eth_type == ETH_ARP:
        _parse_arp(data, off, match)
    elif eth_type == ETH_IPV4:
        _parse_ipv4(data, off, match)
    return match


def _parse_arp(data: bytes, off: int, match: FlowMatch) -> None:
    if len(data) < off + 28:
        raise MalformedPacket("truncated ARP packet")
    htype, ptype, hlen, plen, op, sha, spa, tha, tpa = _ARP.unpack_from(data, off)
    if htype != 1 or ptype != ETH_IPV4 or hlen != 6 or plen != 4:
        raise MalformedPacket(f"unsupported ARP (htype {htype}, ptype {ptype:#x})")
    match.arp_op = op
    match.arp_sha = _mac(sha)
    match.arp_spa = _U32.unpack(spa)[0]
    match.arp_tha = _mac(tha)
    match.arp_tpa = _U32.unpack(tpa)[0]


def _parse_ipv4(data: bytes, off: int, match: FlowMatch) -> None:
    n = len(data)
    if n < off + 20:
        raise MalformedPacket("truncated IPv4 header")
    ver_ihl, tos, total, _ident, frag, ttl, proto, _csum, src, dst = _IPV4.unpack_from(data, off)
    if ver_ihl >> 4 != 4:
        raise MalformedPacket(f"IP version {ver_ihl >> 4} in an IPv4 frame")
    ihl = (ver_ihl & 0x0F) * 4
    if ihl < 20:
        raise MalformedPacket(f"IPv4 header length {ihl} < 20")
    if total < ihl or n < off + total:
        raise MalformedPacket(f"IPv4 total length {total} does not fit the frame")
    match.ip_src = _U32.unpack(src)[0]
    match.ip_dst = _U32.unpack(dst)[0]
    match.ip_proto = proto
    match.ip_tos = tos
    match.ip_ttl = ttl
    offset = frag & 0x1FFF
    if offset:
        match.ip_frag = FRAG_LATER
        return  # no transport header in a later fragment
    match.ip_frag = FRAG_FIRST if frag & 0x2000 else FRAG_NONE
    l4 = off + ihl
    end = off + total
    match.l4_offset = l4
    if proto in (PROTO_TCP, PROTO_UDP, PROTO_SCTP):
        if end < l4 + 4:
            raise MalformedPacket("truncated transport header")
        match.tp_src, match.tp_dst = _PORTS.unpack_from(data, l4)
    elif proto == PROTO_ICMP:
        if end < l4 + 4:
            raise MalformedPacket("truncated ICMP header")
        if end >= l4 + 8:
            itype, code, _c, ident, _seq = _ICMP.unpack_from(data, l4)
            if itype in (ICMP_ECHO_REQUEST, ICMP_ECHO_REPLY):
                match.icmp_id = ident
        else:
            itype, code = data[l4], data[l4 + 1]
        match.icmp_type = itype
        match.icmp_code = code


def l4_payload(match: FlowMatch) -> bytes:
    """The bytes after the UDP header (DHCP reads its message from here)."""
    if match.frame is None or match.l4_offset is None or match.ip_proto != PROTO_UDP:
        return b""
    return match.frame[match.l4_offset + 8:]


from midonet_ryu.simulation.packet_builders import (  # noqa: E402  (re-export; packet_builders imports this)
    arp_reply,
    arp_request,
    dhcp_reply,
    icmp_echo_reply,
    icmp_error,
    icmp_time_exceeded,
    icmp_unreachable,
)

__all__ = [
    "FlowMatch", "MalformedPacket", "parse_frame", "l4_payload", "MATCH_FIELDS", "FIELD_BIT",
    "arp_request", "arp_reply", "icmp_echo_reply", "icmp_error", "icmp_time_exceeded",
    "icmp_unreachable", "dhcp_reply",
]
