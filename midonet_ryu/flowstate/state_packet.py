"""Flow-state packets on the wire: Ethernet/IPv4/UDP around the payload.

A state packet is an ordinary-looking frame so it can ride the same tunnel
as data (VXLAN or GRE with key 0xFFFFFF) and be read back from a packet-in.
The inner headers are MidoNet's (``FlowStatePackets.scala``):

    Ethernet AC:CA:BA:00:15:01 -> AC:CA:BA:00:15:02, type IPv4
    IPv4     169.254.15.1 -> 169.254.15.2, protocol UDP, DF, TTL 1
    UDP      2925 -> 2925, checksum set (VXLAN's outer UDP checksum is
             usually zero, so the inner one is what catches corruption)

MidoNet put a hash of the return flow in the IPv4 id to pick a worker
thread on the receiver; this agent has one worker, so the id is zero.

One frame must fit a 1500-byte underlay MTU after tunnel encapsulation, so
``split_message`` spreads many keys over several frames.
"""
from __future__ import annotations

import struct
import uuid
from collections.abc import Sequence

from midonet_ryu.flowstate.payload import (
    CONNTRACK_SIZE,
    HEADER_SIZE,
    NAT_SIZE,
    FlowStateMessage,
    decode_payload,
    encode_payload,
)
from midonet_ryu.simulation.packet_builders import checksum
from midonet_ryu.simulation.state import ConntrackKey, NatBinding, NatKey

ETH_SRC = bytes.fromhex("accaba001501")
ETH_DST = bytes.fromhex("accaba001502")
IP_SRC = bytes((169, 254, 15, 1))
IP_DST = bytes((169, 254, 15, 2))
UDP_PORT = 2925

UNDERLAY_MTU = 1500
# outer IPv4 20 + outer UDP 8 + VXLAN 8 + inner Ethernet 14 (GRE with a key: 42)
TUNNEL_OVERHEAD = 50
_ETH, _IP, _UDP = 14, 20, 8
MAX_INNER_IP = UNDERLAY_MTU - TUNNEL_OVERHEAD  # 1450
MAX_PAYLOAD = MAX_INNER_IP - _IP - _UDP  # 1422
MAX_FRAME = _ETH + MAX_INNER_IP  # 1464

_ETH_HDR = ETH_DST + ETH_SRC + b"\x08\x00"
_IPV4 = struct.Struct("!BBHHHBBH4s4s")
_UDPH = struct.Struct("!HHHH")


def _udp_checksum(udp: bytes) -> int:
    pseudo = IP_SRC + IP_DST + struct.pack("!BBH", 0, 17, len(udp))
    value = checksum(pseudo + udp)
    return value or 0xFFFF  # zero means "no checksum" in UDP over IPv4


def wrap(payload: bytes, dscp: int = 0) -> bytes:
    """One state frame around ``payload`` (which must fit ``MAX_PAYLOAD``);
    ``dscp`` marks its IPv4 header (tunnels with ``tos=inherit`` copy it out)."""
    if not 0 <= dscp <= 63:
        raise ValueError(f"DSCP {dscp} is not 0-63")
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"flow-state payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    udp_len = _UDP + len(payload)
    udp = _UDPH.pack(UDP_PORT, UDP_PORT, udp_len, 0) + payload
    udp = udp[:6] + struct.pack("!H", _udp_checksum(udp)) + udp[8:]
    total = _IP + udp_len
    hdr = _IPV4.pack(0x45, dscp << 2, total, 0, 0x4000, 1, 17, 0, IP_SRC, IP_DST)
    hdr = hdr[:10] + struct.pack("!H", checksum(hdr)) + hdr[12:]
    return _ETH_HDR + hdr + udp


def unwrap(frame: bytes) -> bytes:
    """The payload of a state frame; ValueError (only) if the frame is not one."""
    if not isinstance(frame, (bytes, bytearray, memoryview)):
        raise ValueError(f"flow-state frame must be bytes, not {type(frame).__name__}")
    frame = bytes(frame)
    if len(frame) > MAX_FRAME:
        raise ValueError(f"flow-state frame of {len(frame)} bytes exceeds {MAX_FRAME}")
    if len(frame) < _ETH + _IP + _UDP:
        raise ValueError(f"flow-state frame truncated: {len(frame)} bytes")
    if frame[12:14] != b"\x08\x00":
        raise ValueError(f"flow-state frame is not IPv4 (ethertype {frame[12:14].hex()})")
    ver_ihl, _tos, total, _id, frag, _ttl, proto, _csum, src, dst = _IPV4.unpack_from(frame, _ETH)
    ihl = (ver_ihl & 0x0F) * 4
    if ver_ihl >> 4 != 4 or ihl < _IP:
        raise ValueError(f"bad IPv4 version/header length byte {ver_ihl:#04x}")
    if frag & 0x3FFF:
        raise ValueError("flow-state packets are never fragmented")
    if proto != 17:
        raise ValueError(f"flow-state packet is not UDP (protocol {proto})")
    if src != IP_SRC or dst != IP_DST:
        raise ValueError("flow-state packet has the wrong inner addresses")
    if total < ihl + _UDP or _ETH + total > len(frame):
        raise ValueError(f"IPv4 total length {total} does not fit the {len(frame)}-byte frame")
    if checksum(frame[_ETH:_ETH + ihl]) != 0:
        raise ValueError("bad IPv4 header checksum")
    udp = frame[_ETH + ihl:_ETH + total]
    sport, dport, udp_len, csum = _UDPH.unpack_from(udp, 0)
    if dport != UDP_PORT or sport != UDP_PORT:
        raise ValueError(f"flow-state packet has UDP ports {sport}->{dport}, not {UDP_PORT}")
    if udp_len != len(udp):
        raise ValueError(f"UDP length {udp_len} does not match the IPv4 length {len(udp)}")
    if csum:
        pseudo = IP_SRC + IP_DST + struct.pack("!BBH", 0, 17, udp_len)
        if checksum(pseudo + udp) != 0:
            raise ValueError("bad UDP checksum on a flow-state packet")
    return udp[_UDP:]


def encode_frames(msg: FlowStateMessage, dscp: int = 0) -> list[bytes]:
    """``msg`` as one or more frames, each fitting the underlay MTU."""
    return [wrap(encode_payload(part), dscp) for part in split_message(
        msg.sender, msg.conntrack, msg.nat, withdraw=msg.withdraw)]


def decode_frame(frame: bytes) -> FlowStateMessage:
    """Decode one state frame; ValueError (and nothing else) on bad input."""
    return decode_payload(unwrap(frame))


def split_message(sender: uuid.UUID, conntrack: Sequence[ConntrackKey],
                  nat: Sequence[tuple[NatKey, NatBinding]],
                  max_payload: int = MAX_PAYLOAD, withdraw: bool = False
                  ) -> list[FlowStateMessage]:
    """Pack keys greedily into as few messages as fit ``max_payload`` each.

    Keys keep their order; a message holds conntrack keys first, then NAT
    keys, like MidoNet's. No keys: no message (there is nothing to say).
    """
    room = max_payload - HEADER_SIZE
    if room < max(CONNTRACK_SIZE, NAT_SIZE):
        raise ValueError(f"max_payload {max_payload} cannot hold a single key")
    out: list[FlowStateMessage] = []
    ct: list[ConntrackKey] = []
    nt: list[tuple[NatKey, NatBinding]] = []
    used = 0
    for key in conntrack:
        if used + CONNTRACK_SIZE > room:
            out.append(FlowStateMessage(sender, tuple(ct), (), withdraw))
            ct, used = [], 0
        ct.append(key)
        used += CONNTRACK_SIZE
    for pair in nat:
        if used + NAT_SIZE > room:
            out.append(FlowStateMessage(sender, tuple(ct), tuple(nt), withdraw))
            ct, nt, used = [], [], 0
        nt.append(pair)
        used += NAT_SIZE
    if ct or nt:
        out.append(FlowStateMessage(sender, tuple(ct), tuple(nt), withdraw))
    return out
