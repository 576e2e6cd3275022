"""OpenFlow 1.3 wire encoding of the messages the agent sends per packet-in.

Why not OS-Ken's parser objects: building and serializing one flow-mod and
one packet-out through them costs well over 100 us of Python per new flow
(match normalization alone is tens of microseconds), more than the whole
simulation. The agent only ever sends a handful of fixed shapes (flow-mod,
packet-out, flow deletes) with a fixed set of match fields and actions, so
they are packed here with ``struct``. Unit tests check every shape byte for
byte against OS-Ken's own serialization.

Values are raw: MACs as "aa:bb:cc:dd:ee:ff", IPv4 addresses as ints.
"""
from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from typing import Any

OFP_VERSION = 0x04
OFPT_PACKET_OUT = 13
OFPT_FLOW_MOD = 14
OFPFC_ADD = 0
OFPIT_APPLY_ACTIONS = 4
OFPAT_OUTPUT = 0
OFPAT_PUSH_VLAN = 17
OFPAT_POP_VLAN = 18
OFPAT_SET_FIELD = 25
OFP_NO_BUFFER = 0xFFFFFFFF
OFPCML_NO_BUFFER = 0xFFFF

_BASIC = 0x8000  # OFPXMC_OPENFLOW_BASIC
_NXM1 = 0x0001  # NXM_NX: Open vSwitch's extension fields

# name -> (class, field, payload kind); kinds: "u8", "u16", "u32", "u64", "mac",
# "ip" (an int), "u8m" (a (value, mask) pair of one byte each)
OXM: dict[str, tuple[int, int, str]] = {
    "in_port": (_BASIC, 0, "u32"),
    "eth_dst": (_BASIC, 3, "mac"),
    "eth_src": (_BASIC, 4, "mac"),
    "eth_type": (_BASIC, 5, "u16"),
    "vlan_vid": (_BASIC, 6, "u16"),
    "ip_dscp": (_BASIC, 8, "u8"),
    "ip_proto": (_BASIC, 10, "u8"),
    "ipv4_src": (_BASIC, 11, "ip"),
    "ipv4_dst": (_BASIC, 12, "ip"),
    "tcp_src": (_BASIC, 13, "u16"),
    "tcp_dst": (_BASIC, 14, "u16"),
    "udp_src": (_BASIC, 15, "u16"),
    "udp_dst": (_BASIC, 16, "u16"),
    "sctp_src": (_BASIC, 17, "u16"),
    "sctp_dst": (_BASIC, 18, "u16"),
    "icmpv4_type": (_BASIC, 19, "u8"),
    "icmpv4_code": (_BASIC, 20, "u8"),
    "arp_op": (_BASIC, 21, "u16"),
    "arp_spa": (_BASIC, 22, "ip"),
    "arp_tpa": (_BASIC, 23, "ip"),
    "arp_sha": (_BASIC, 24, "mac"),
    "arp_tha": (_BASIC, 25, "mac"),
    "tunnel_id": (_BASIC, 38, "u64"),
    "ip_frag": (_NXM1, 26, "u8m"),
    "nw_ttl": (_NXM1, 29, "u8"),
    "tun_ipv4_dst": (_NXM1, 32, "ip"),
}
_SIZE = {"u8": 1, "u16": 2, "u32": 4, "u64": 8, "mac": 6, "ip": 4, "u8m": 2}
_FMT = {"u8": "!B", "u16": "!H", "u32": "!I", "u64": "!Q", "ip": "!I"}

_HEADER = struct.Struct("!BBHI")
_FLOW_MOD = struct.Struct("!BBHI QQ BBHHH III H2x")
_PACKET_OUT = struct.Struct("!BBHI IIH6x")
_OUTPUT = struct.Struct("!HHIH6x")
_INSTRUCTION = struct.Struct("!HH4x")

Match = Sequence[tuple[str, Any]]
Action = tuple


def _mac(text: str) -> bytes:
    return bytes.fromhex(text.replace(":", ""))


def oxm(name: str, value: Any) -> bytes:
    """One OXM TLV (header and payload)."""
    cls, field, kind = OXM[name]
    if kind == "u8m":
        val, mask = value
        return struct.pack("!HBBBB", cls, (field << 1) | 1, 2, val, mask)
    size = _SIZE[kind]
    payload = _mac(value) if kind == "mac" else struct.pack(_FMT[kind], value)
    return struct.pack("!HBB", cls, field << 1, size) + payload


def _pad8(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 8)


def encode_match(fields: Match) -> bytes:
    """An OXM ofp_match, padded to 8 bytes (fields in the order given)."""
    body = b"".join([oxm(name, value) for name, value in fields])
    return _pad8(struct.pack("!HH", 1, 4 + len(body)) + body)


def encode_actions(actions: Iterable[Action]) -> bytes:
    """``("output", port)``, ``("set_field", oxm_name, value)``,
    ``("push_vlan", ethertype)``, ``("pop_vlan",)``."""
    out = []
    for action in actions:
        kind = action[0]
        if kind == "output":
            out.append(_OUTPUT.pack(OFPAT_OUTPUT, 16, action[1], OFPCML_NO_BUFFER))
        elif kind == "set_field":
            tlv = oxm(action[1], action[2])
            length = 4 + len(tlv)
            length += -length % 8
            out.append((struct.pack("!HH", OFPAT_SET_FIELD, length) + tlv).ljust(length, b"\0"))
        elif kind == "push_vlan":
            out.append(struct.pack("!HHH2x", OFPAT_PUSH_VLAN, 8, action[1]))
        elif kind == "pop_vlan":
            out.append(struct.pack("!HH4x", OFPAT_POP_VLAN, 8))
        else:
            raise ValueError(f"unknown action {action!r}")
    return b"".join(out)


def flow_mod(xid: int, cookie: int, table_id: int, priority: int, match: bytes,
             actions: bytes | None, idle_timeout: int = 0, hard_timeout: int = 0,
             flags: int = 0) -> bytes:
    """OFPFC_ADD; ``actions`` None installs a drop (no instruction). out_port
    and out_group are 0, as OS-Ken sends them (an add ignores both)."""
    instructions = b""
    if actions is not None:
        instructions = _INSTRUCTION.pack(OFPIT_APPLY_ACTIONS, 8 + len(actions)) + actions
    length = _FLOW_MOD.size + len(match) + len(instructions)
    return _FLOW_MOD.pack(OFP_VERSION, OFPT_FLOW_MOD, length, xid & 0xFFFFFFFF, cookie, 0,
                          table_id, OFPFC_ADD, idle_timeout, hard_timeout, priority,
                          OFP_NO_BUFFER, 0, 0, flags) + match + instructions


def packet_out(xid: int, in_port: int, actions: bytes, data: bytes) -> bytes:
    length = _PACKET_OUT.size + len(actions) + len(data)
    return _PACKET_OUT.pack(OFP_VERSION, OFPT_PACKET_OUT, length, xid & 0xFFFFFFFF,
                            OFP_NO_BUFFER, in_port, len(actions)) + actions + data
