"""Apply a result's actions to a frame in userspace.

Some results cannot become OpenFlow flows (ICMP echo NAT rewrites the echo
id, which OpenFlow cannot set; a flow-less drop of an unknown next hop...).
For those the agent executes the result on the packet itself and
packet-outs the copies. ``apply_actions`` does that rewrite: it walks the
action list in order, like a datapath would, and returns one frame per
``ToPort``, with IPv4, TCP, UDP and ICMP checksums recomputed.
"""
from __future__ import annotations

import struct
import uuid
from collections.abc import Iterable

from midonet_ryu.simulation.addr import mac_to_bytes
from midonet_ryu.simulation.packet import MalformedPacket, parse_frame
from midonet_ryu.simulation.packet_builders import checksum
from midonet_ryu.simulation.result import Action, SetField, ToPort

_U16 = struct.Struct("!H")
_U32 = struct.Struct("!I")


class _Frame:
    """A mutable frame with the offsets needed to rewrite it."""

    def __init__(self, data: bytes) -> None:
        self.parse(data)

    def parse(self, data: bytes) -> None:
        m = parse_frame(data, None)
        self.buf = bytearray(data)
        self.match = m
        self.l3 = m.l3_offset
        self.l4 = m.l4_offset

    def set(self, name: str, value: object) -> None:
        buf, m = self.buf, self.match
        if name == "eth_dst":
            buf[0:6] = mac_to_bytes(str(value))
        elif name == "eth_src":
            buf[6:12] = mac_to_bytes(str(value))
        elif name == "vlan_id":
            self._vlan(value)  # moves the IP header: re-parse, no checksum involved
            self.parse(bytes(buf))
            return
        elif name in ("ip_src", "ip_dst", "ip_ttl", "ip_tos"):
            if m.ip_src is None:
                raise ValueError(f"cannot set {name} on a non-IPv4 frame")
            off = {"ip_src": 12, "ip_dst": 16}.get(name)
            if off is not None:
                buf[self.l3 + off:self.l3 + off + 4] = _U32.pack(int(value))  # type: ignore[call-overload]
            elif name == "ip_ttl":
                buf[self.l3 + 8] = int(value)  # type: ignore[call-overload]
            else:
                buf[self.l3 + 1] = int(value)  # type: ignore[call-overload]
        elif name in ("tp_src", "tp_dst"):
            if self.l4 is None or m.tp_src is None:
                raise ValueError(f"cannot set {name}: no transport header")
            off = 0 if name == "tp_src" else 2
            buf[self.l4 + off:self.l4 + off + 2] = _U16.pack(int(value))  # type: ignore[call-overload]
        elif name == "icmp_id":
            if self.l4 is None or m.icmp_id is None:
                raise ValueError("cannot set icmp_id: not an ICMP echo")
            buf[self.l4 + 4:self.l4 + 6] = _U16.pack(int(value))  # type: ignore[call-overload]
        else:
            raise ValueError(f"cannot rewrite field {name!r}")
        self._fix_checksums()
        self.parse(bytes(buf))

    def _vlan(self, value: object) -> None:
        buf = self.buf
        tagged = self.match.vlan_id is not None
        if value is None:
            if tagged:
                del buf[12:16]
        elif tagged:
            tci = _U16.unpack_from(buf, 14)[0]
            buf[14:16] = _U16.pack((tci & 0xF000) | (int(value) & 0x0FFF))  # type: ignore[call-overload]
        else:
            buf[12:12] = struct.pack("!HH", 0x8100, int(value) & 0x0FFF)  # type: ignore[call-overload]

    def _fix_checksums(self) -> None:
        buf, m, l3 = self.buf, self.match, self.l3
        if m.ip_src is None:
            return
        ihl = (buf[l3] & 0x0F) * 4
        buf[l3 + 10:l3 + 12] = b"\x00\x00"
        buf[l3 + 10:l3 + 12] = _U16.pack(checksum(bytes(buf[l3:l3 + ihl])))
        l4 = self.l4
        if l4 is None:
            return  # later fragment: no transport header
        total = _U16.unpack_from(buf, l3 + 2)[0]
        end = l3 + total
        proto = m.ip_proto
        if proto == 1:
            buf[l4 + 2:l4 + 4] = b"\x00\x00"
            buf[l4 + 2:l4 + 4] = _U16.pack(checksum(bytes(buf[l4:end])))
        elif proto in (6, 17) and m.ip_frag == 0:
            off = 16 if proto == 6 else 6
            if proto == 17 and buf[l4 + 6:l4 + 8] == b"\x00\x00":
                return  # UDP without checksum stays so
            buf[l4 + off:l4 + off + 2] = b"\x00\x00"
            pseudo = bytes(buf[l3 + 12:l3 + 20]) + struct.pack("!BBH", 0, proto, end - l4)
            csum = checksum(pseudo + bytes(buf[l4:end]))
            if proto == 17 and csum == 0:
                csum = 0xFFFF
            buf[l4 + off:l4 + off + 2] = _U16.pack(csum)


def apply_actions(frame: bytes, actions: Iterable[Action]) -> list[tuple[uuid.UUID, bytes]]:
    """Run ``actions`` on ``frame``: returns (port id, frame as sent there) per ToPort.

    Raises ``MalformedPacket`` if the frame does not parse, ValueError if an
    action does not apply to it (setting ports on a later fragment...).
    """
    f = _Frame(frame)
    out: list[tuple[uuid.UUID, bytes]] = []
    for action in actions:
        if type(action) is ToPort:
            out.append((action.port_id, bytes(f.buf)))
        elif type(action) is SetField:
            f.set(action.name, action.value)
        else:
            raise ValueError(f"unknown action {action!r}")
    return out


__all__ = ["apply_actions", "MalformedPacket"]
