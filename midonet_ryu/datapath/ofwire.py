"""OpenFlow 1.3 messages of the agent: typed values, and their wire encoding.

The decision core returns message *values* (:class:`FlowMod`,
:class:`FlowDelete`, :class:`PacketOut`, ...): tests apply them to a model
switch and check them against the pipeline; the shell's one send path
encodes them here (:func:`encode`) and writes them. Every message the agent
sends goes through this module; the packet-in is decoded here too.

Why not OS-Ken's parser objects: building and serializing one flow-mod and
one packet-out through them costs well over 100 us of Python per new flow
(match normalization alone is tens of microseconds), more than the whole
simulation, and OS-Ken's packet-in object costs about 9 us to parse. The
agent only ever sends a handful of fixed shapes with a fixed set of match
fields and actions, so they are packed with ``struct``. Unit tests check
every shape byte for byte against OS-Ken's own serialization and parser.

Values are raw: MACs as "aa:bb:cc:dd:ee:ff", IPv4 addresses as ints.
"""
from __future__ import annotations

import socket
import struct
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

OFP_VERSION = 0x04
OFPT_ERROR = 1
OFPT_SET_CONFIG = 9
OFPT_PACKET_IN = 10
OFPT_PACKET_OUT = 13
OFPT_FLOW_MOD = 14
OFPT_MULTIPART_REQUEST = 18
OFPFC_ADD = 0
OFPFC_DELETE = 3
OFPFC_DELETE_STRICT = 4
OFPFF_SEND_FLOW_REM = 1
OFPIT_GOTO_TABLE = 1
OFPIT_APPLY_ACTIONS = 4
OFPMP_FLOW = 1
OFPP_IN_PORT = 0xFFFFFFF8
OFPP_CONTROLLER = 0xFFFFFFFD
OFPP_ANY = 0xFFFFFFFF
OFPG_ANY = 0xFFFFFFFF
OFPTT_ALL = 0xFF
OFPC_FRAG_NORMAL = 0
OFP_DEFAULT_PRIORITY = 0x8000  # ignored by a non-strict delete; what OS-Ken sends
ALL_ONES = (1 << 64) - 1
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
    "tun_ipv4_src": (_NXM1, 31, "ip"),
    "tun_ipv4_dst": (_NXM1, 32, "ip"),
}
_SIZE = {"u8": 1, "u16": 2, "u32": 4, "u64": 8, "mac": 6, "ip": 4, "u8m": 2}
_FMT = {"u8": "!B", "u16": "!H", "u32": "!I", "u64": "!Q", "ip": "!I"}

_HEADER = struct.Struct("!BBHI")
_FLOW_MOD = struct.Struct("!BBHI QQ BBHHH III H2x")
_PACKET_OUT = struct.Struct("!BBHI IIH6x")
_OUTPUT = struct.Struct("!HHIH6x")
_INSTRUCTION = struct.Struct("!HH4x")
_GOTO = struct.Struct("!HHB3x")
_EMPTY_MATCH: bytes = struct.pack("!HH4x", 1, 4)
_SET_CONFIG = struct.Struct("!BBHI HH")
_FLOW_STATS_REQUEST = struct.Struct("!BBHI HH4x B3xII4xQQ")
_PACKET_IN = struct.Struct("!BBHI IHBBQ HH")  # header, body, match type and length

Match = Sequence[tuple[str, Any]]
Action = tuple[Any, ...]


# -- message values ---------------------------------------------------------------------
class FlowMod(NamedTuple):
    """Add a flow. ``actions`` None and ``goto`` None: a drop (no instruction)."""

    table_id: int
    priority: int
    cookie: int
    match: Match
    actions: Sequence[Action] | None = None
    goto: int | None = None
    idle_timeout: int = 0
    hard_timeout: int = 0
    flags: int = 0


class FlowDelete(NamedTuple):
    """Delete flows of ``table_id`` by cookie/mask and match (non-strict), or the
    one flow with exactly ``match`` at ``strict_priority``."""

    table_id: int
    cookie: int = 0
    cookie_mask: int = 0
    match: Match = ()
    strict_priority: int | None = None


class PacketOut(NamedTuple):
    in_port: int
    actions: Sequence[Action]
    data: bytes


class SetConfig(NamedTuple):
    flags: int = OFPC_FRAG_NORMAL
    miss_send_len: int = OFPCML_NO_BUFFER


class FlowStatsRequest(NamedTuple):
    """Ask for the flows of ``table_id`` (the reply finds earlier runs' flows)."""

    table_id: int


Message = FlowMod | FlowDelete | PacketOut | SetConfig | FlowStatsRequest


class PacketIn(NamedTuple):
    """What the agent needs of a packet-in: where it came from and the frame."""

    in_port: int | None
    tunnel_id: int | None
    data: bytes
    table_id: int
    cookie: int
    tun_src: str | None = None  # the outer source of a tunnelled packet


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


_OXM_CACHE: dict[tuple[str, Any], bytes] = {}
_OXM_CACHE_SIZE = 65536


def _cached_oxm(field: tuple[str, Any]) -> bytes:
    """A flow's fields repeat (its in_port, MACs, addresses): pack each once."""
    tlv = _OXM_CACHE.get(field)
    if tlv is None:
        if len(_OXM_CACHE) >= _OXM_CACHE_SIZE:
            _OXM_CACHE.clear()
        tlv = _OXM_CACHE[field] = oxm(*field)
    return tlv


def encode_match(fields: Match) -> bytes:
    """An OXM ofp_match, padded to 8 bytes (fields in the order given)."""
    if not fields:
        return _EMPTY_MATCH
    body = b"".join([_cached_oxm(f) for f in fields])
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


# An OpenFlow message's length is 16 bits. A flow-mod keeps room for its
# header, instruction and the largest match the translation builds.
MAX_MESSAGE = 0xFFFF
FLOW_ACTIONS_ROOM = MAX_MESSAGE - _FLOW_MOD.size - _INSTRUCTION.size - 512
_MAX_ACTION = 16  # the longest action the translation emits (output, set_field)


def action_length(action: Action) -> int:
    return len(encode_actions((action,)))


def actions_fit(actions: Sequence[Action], room: int) -> bool:
    """Whether ``actions`` encode within ``room`` bytes (exact only when they might not)."""
    if len(actions) * _MAX_ACTION <= room:
        return True
    return sum(map(action_length, actions)) <= room


def packet_out_room(data: bytes) -> int:
    return MAX_MESSAGE - _PACKET_OUT.size - len(data)


def split_actions(actions: Sequence[Action], room: int) -> list[list[Action]]:
    """``actions`` as several lists, each within ``room`` bytes, that applied
    each to its own copy of the packet output exactly what the whole list
    does (a flood too big for one message: one packet-out per list).

    A later list starts with the packet state the earlier actions left:
    the VLAN operations in order, and the last value set of every other
    field (they commute with VLAN tags)."""
    chunks: list[list[Action]] = []
    vlan_ops: list[Action] = []
    fields: dict[str, Action] = {}
    chunk: list[Action] = []
    used = 0
    has_output = False
    for action in actions:
        size = action_length(action)
        if used + size > room and has_output:
            chunks.append(chunk)
            chunk = [*vlan_ops, *fields.values()]
            used = sum(map(action_length, chunk))
            has_output = False
            if used + size > room:
                raise ValueError("the packet state alone does not fit one message")
        chunk.append(action)
        used += size
        kind = action[0]
        if kind == "output":
            has_output = True
        elif kind in ("push_vlan", "pop_vlan") or (kind == "set_field"
                                                    and action[1] == "vlan_vid"):
            vlan_ops.append(action)
        elif kind == "set_field":
            fields.pop(action[1], None)
            fields[action[1]] = action
    if has_output:
        chunks.append(chunk)
    return chunks


def flow_mod(xid: int, cookie: int, table_id: int, priority: int, match: bytes,
             actions: bytes | None, idle_timeout: int = 0, hard_timeout: int = 0,
             flags: int = 0, goto: int | None = None) -> bytes:
    """OFPFC_ADD; ``actions`` None installs a drop (no instruction). out_port
    and out_group are 0, as OS-Ken sends them (an add ignores both)."""
    instructions = b""
    if actions is not None:
        instructions = _INSTRUCTION.pack(OFPIT_APPLY_ACTIONS, 8 + len(actions)) + actions
    if goto is not None:
        instructions += _GOTO.pack(OFPIT_GOTO_TABLE, 8, goto)
    length = _FLOW_MOD.size + len(match) + len(instructions)
    return _FLOW_MOD.pack(OFP_VERSION, OFPT_FLOW_MOD, length, xid & 0xFFFFFFFF, cookie, 0,
                          table_id, OFPFC_ADD, idle_timeout, hard_timeout, priority,
                          OFP_NO_BUFFER, 0, 0, flags) + match + instructions


def packet_out(xid: int, in_port: int, actions: bytes, data: bytes) -> bytes:
    length = _PACKET_OUT.size + len(actions) + len(data)
    return _PACKET_OUT.pack(OFP_VERSION, OFPT_PACKET_OUT, length, xid & 0xFFFFFFFF,
                            OFP_NO_BUFFER, in_port, len(actions)) + actions + data


def flow_delete(xid: int, table_id: int, cookie: int = 0, cookie_mask: int = 0,
                match: bytes = _EMPTY_MATCH, strict_priority: int | None = None) -> bytes:
    """OFPFC_DELETE (or DELETE_STRICT at ``strict_priority``), any out port and group."""
    command = OFPFC_DELETE if strict_priority is None else OFPFC_DELETE_STRICT
    priority = OFP_DEFAULT_PRIORITY if strict_priority is None else strict_priority
    return _FLOW_MOD.pack(OFP_VERSION, OFPT_FLOW_MOD, _FLOW_MOD.size + len(match),
                          xid & 0xFFFFFFFF, cookie, cookie_mask, table_id, command, 0, 0,
                          priority, OFP_NO_BUFFER, OFPP_ANY, OFPG_ANY, 0) + match


def set_config(xid: int, flags: int = OFPC_FRAG_NORMAL,
               miss_send_len: int = OFPCML_NO_BUFFER) -> bytes:
    return _SET_CONFIG.pack(OFP_VERSION, OFPT_SET_CONFIG, _SET_CONFIG.size, xid & 0xFFFFFFFF,
                            flags, miss_send_len)


def flow_stats_request(xid: int, table_id: int) -> bytes:
    return _FLOW_STATS_REQUEST.pack(
        OFP_VERSION, OFPT_MULTIPART_REQUEST, _FLOW_STATS_REQUEST.size + len(_EMPTY_MATCH),
        xid & 0xFFFFFFFF, OFPMP_FLOW, 0, table_id, OFPP_ANY, OFPG_ANY, 0, 0) + _EMPTY_MATCH


def encode(message: Message, xid: int, actions_cache: dict[int, bytes] | None = None) -> bytes:
    """The wire form of one message value. ``actions_cache`` (by ``id`` of the
    action list) lets a flow-mod and the packet-out that share one list encode
    it once."""
    if type(message) is FlowMod:
        actions = None if message.actions is None else _actions(message.actions, actions_cache)
        return flow_mod(xid, message.cookie, message.table_id, message.priority,
                        encode_match(message.match), actions, message.idle_timeout,
                        message.hard_timeout, message.flags, message.goto)
    if type(message) is PacketOut:
        return packet_out(xid, message.in_port, _actions(message.actions, actions_cache),
                          message.data)
    if type(message) is FlowDelete:
        return flow_delete(xid, message.table_id, message.cookie, message.cookie_mask,
                           encode_match(message.match), message.strict_priority)
    if type(message) is SetConfig:
        return set_config(xid, message.flags, message.miss_send_len)
    if type(message) is FlowStatsRequest:
        return flow_stats_request(xid, message.table_id)
    raise TypeError(f"not an OpenFlow message value: {message!r}")


def _actions(actions: Sequence[Action], cache: dict[int, bytes] | None) -> bytes:
    if cache is None:
        return encode_actions(actions)
    key = id(actions)
    encoded = cache.get(key)
    if encoded is None:
        encoded = cache[key] = encode_actions(actions)
    return encoded


# -- decoding -----------------------------------------------------------------------------
class MalformedMessage(ValueError):
    """A message from the switch that does not parse."""


_OXM_IN_PORT = (_BASIC << 16) | (0 << 9) | 4
_OXM_TUNNEL_ID = (_BASIC << 16) | (38 << 9) | 8
_NXM_TUN_IPV4_SRC = (_NXM1 << 16) | (31 << 9) | 4


def decode_packet_in(buf: bytes | bytearray | memoryview) -> PacketIn:
    """The in port, tunnel id, tunnel source and frame of an OFPT_PACKET_IN
    (other match fields are skipped). Raises :class:`MalformedMessage` on a short or
    inconsistent message, never anything else."""
    size = len(buf)
    if size < _PACKET_IN.size:
        raise MalformedMessage(f"packet-in of {size} bytes is too short")
    (_v, msg_type, length, _xid, _buffer, _total, _reason, table_id, cookie, match_type,
     match_len) = _PACKET_IN.unpack_from(buf, 0)
    if msg_type != OFPT_PACKET_IN or length > size or match_type != 1 or match_len < 4:
        raise MalformedMessage("not a well-formed OpenFlow 1.3 packet-in")
    start = 24  # the match, after the 8-byte header and 16-byte body
    end = start + match_len
    data_at = start + match_len + (-match_len % 8) + 2  # padded match, then 2 pad bytes
    if data_at > length:
        raise MalformedMessage("packet-in match runs past the message")
    in_port = tunnel_id = tun_src = None
    at = start + 4
    unpack = struct.unpack_from
    while at + 4 <= end:
        (header,) = unpack("!I", buf, at)
        payload = header & 0xFF
        if at + 4 + payload > end:
            raise MalformedMessage("packet-in OXM field runs past the match")
        if header == _OXM_IN_PORT:
            (in_port,) = unpack("!I", buf, at + 4)
        elif header == _OXM_TUNNEL_ID:
            (tunnel_id,) = unpack("!Q", buf, at + 4)
        elif header == _NXM_TUN_IPV4_SRC:
            tun_src = socket.inet_ntoa(bytes(buf[at + 4:at + 8]))
        at += 4 + payload
    if at != end:
        raise MalformedMessage("packet-in match ends inside an OXM field header")
    return PacketIn(in_port, tunnel_id, bytes(buf[data_at:length]), table_id, cookie, tun_src)
