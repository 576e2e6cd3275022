"""parse_frame agrees with os_ken.lib.packet on generated frames.

Frames are packed here with ``struct`` (not with our builders), decoded by
``os_ken.lib.packet.Packet`` as the reference, and every FlowMatch field is
compared. Malformed frames must raise MalformedPacket and nothing else.

Where the two differ on purpose (each has a test below that pins our side):

* Later IPv4 fragments: os_ken decodes the first payload bytes of any
  fragment as a TCP/UDP/ICMP header; we follow OVS (``nw_frag=later``) and
  set no transport fields, since those bytes are the middle of a datagram.
* Stacked tags (QinQ): os_ken decodes both; we read the outer tag only (OVS's
  ``dl_vlan``) and leave ``eth_type`` at the inner TPID, parsing no further.
* Short transport headers: we need only the 4 port bytes of TCP/UDP/SCTP
  (all a flow match uses) and 4 bytes of ICMP; os_ken needs the whole header
  (20 TCP, 8 UDP, 8 for echo/unreachable/time-exceeded ICMP) or it drops the
  layer. Generated well-formed frames carry whole headers.
* All-zero remainders: os_ken treats a remainder of zero bytes as padding
  and stops, so a header of all zeros (say UDP ports 0) is not decoded. The
  generator avoids all-zero headers; we decode them.
* Structural checks: os_ken does not check the IP version, IHL >= 5, the
  total length against the frame, or ARP's htype/ptype/hlen/plen, and
  returns whatever layers it could unpack from a truncated frame. We raise
  MalformedPacket for all of these: the simulation must not act on a
  half-read header.
"""
from __future__ import annotations

import ipaddress
import struct
import uuid

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from os_ken.lib.packet import arp, ethernet, icmp, ipv4, packet, sctp, tcp, udp, vlan

from midonet_ryu.simulation.packet import (
    FRAG_FIRST,
    FRAG_LATER,
    FRAG_NONE,
    MATCH_FIELDS,
    MalformedPacket,
    parse_frame,
)

PORT = uuid.UUID("6e1ba5b4-25c1-4a5d-9a49-1f2f3f0e0c01")
SETTINGS = settings(max_examples=250, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

TPID_8021Q = 0x8100
TPID_8021AD = 0x88A8
# ports at which os_ken decodes the TCP/UDP payload as an application protocol (DHCP, DHCPv6,
# VXLAN, Geneve, BGP, OpenFlow, zebra); the generated payloads are random, so stay off them.
OSKEN_APP_PORTS = {67, 68, 546, 547, 4789, 8472, 6081, 179, 6633, 6653, 2600}
# IP protocols os_ken decodes further (ICMP, IGMP, TCP, UDP, GRE, ICMPv6, OSPF, VRRP, SCTP
# and whatever else its registry holds: a random payload crashes some of its parsers)
OSKEN_IP_PROTOS = {p for p in ipv4.ipv4._TYPES if p < 256} | {112}
# EtherTypes os_ken has no decoder for (so the payload stays raw on both sides)
OTHER_ETH_TYPES = [0x0842, 0x22F0, 0x88B5, 0x88B6, 0x9000, 0xFFFF]
# ICMP types whose body os_ken decodes (echo reply, unreachable, echo, time exceeded)
OSKEN_ICMP_BODIES = {0, 3, 8, 11}


def _ip(text: str) -> int:
    return int(ipaddress.IPv4Address(text))


def expected(frame: bytes, port: uuid.UUID) -> dict[str, object]:
    """FlowMatch fields as os_ken decodes ``frame`` (with the documented differences)."""
    pkt = packet.Packet(frame)
    eth = pkt.get_protocol(ethernet.ethernet)
    fields: dict[str, object] = dict.fromkeys(MATCH_FIELDS)
    fields.update(in_port=port, eth_src=eth.src, eth_dst=eth.dst, eth_type=eth.ethertype)
    tags = [p for p in pkt.protocols if isinstance(p, (vlan.vlan, vlan.svlan))]
    if tags:
        fields.update(vlan_id=tags[0].vid, eth_type=tags[0].ethertype)
        if len(tags) > 1:
            return fields  # QinQ: the outer tag only
    a = pkt.get_protocol(arp.arp)
    if a is not None:
        fields.update(arp_op=a.opcode, arp_sha=a.src_mac, arp_spa=_ip(a.src_ip),
                      arp_tha=a.dst_mac, arp_tpa=_ip(a.dst_ip))
    ip = pkt.get_protocol(ipv4.ipv4)
    if ip is None:
        return fields
    more_fragments = ip.flags & 0x1
    fields.update(ip_src=_ip(ip.src), ip_dst=_ip(ip.dst), ip_proto=ip.proto, ip_tos=ip.tos,
                  ip_ttl=ip.ttl, ip_frag=FRAG_LATER if ip.offset
                  else FRAG_FIRST if more_fragments else FRAG_NONE)
    if ip.offset:
        return fields  # later fragment: no transport header (OVS), whatever os_ken decoded
    l4 = pkt.get_protocol(tcp.tcp) or pkt.get_protocol(udp.udp) or pkt.get_protocol(sctp.sctp)
    if l4 is not None:
        fields.update(tp_src=l4.src_port, tp_dst=l4.dst_port)
    ic = pkt.get_protocol(icmp.icmp)
    if ic is not None:
        fields.update(icmp_type=ic.type, icmp_code=ic.code)
        if isinstance(ic.data, icmp.echo):
            fields.update(icmp_id=ic.data.id)
    return fields


def check(frame: bytes) -> None:
    assert parse_frame(frame, PORT).fields() == expected(frame, PORT)


# -- frame generators --------------------------------------------------------------------------

_mac = st.binary(min_size=6, max_size=6)
_u8 = st.integers(0, 0xFF)
_u16 = st.integers(0, 0xFFFF)
_u32 = st.integers(0, 0xFFFFFFFF)
_port = _u16.filter(lambda p: p not in OSKEN_APP_PORTS)


def _not_all_zero(header: bytes) -> bool:
    return any(header)


@st.composite
def tcp_segment(draw) -> bytes:
    # options: NOPs and MSS, padded with NOPs to a 4-byte boundary (os_ken decodes them)
    options = b"".join(draw(st.lists(st.sampled_from([b"\x01", b"\x02\x04\x05\xb4"]),
                                     max_size=6)))
    options += b"\x01" * (-len(options) % 4)
    offset = (20 + len(options)) // 4
    header = struct.pack("!HHIIBBHHH", draw(_port), draw(_port), draw(_u32), draw(_u32),
                         offset << 4, draw(st.integers(0, 0x3F)), draw(_u16), draw(_u16),
                         draw(_u16))
    assume(_not_all_zero(header))
    return header + options + draw(st.binary(max_size=16))


@st.composite
def udp_datagram(draw) -> bytes:
    payload = draw(st.binary(max_size=16))
    header = struct.pack("!HHHH", draw(_port), draw(_port), 8 + len(payload), draw(_u16))
    assume(_not_all_zero(header))
    return header + payload


@st.composite
def sctp_packet(draw) -> bytes:
    header = struct.pack("!HHII", draw(_u16), draw(_u16), draw(_u32), draw(_u32))
    assume(_not_all_zero(header))
    return header  # no chunks: os_ken's chunk decoders are beside the point here


@st.composite
def icmp_message(draw) -> bytes:
    itype = draw(st.sampled_from([0, 8, 3, 11]) | _u8)
    body = draw(st.binary(min_size=4 if itype in OSKEN_ICMP_BODIES else 0, max_size=28))
    message = struct.pack("!BBH", itype, draw(_u8), draw(_u16)) + body
    assume(_not_all_zero(message))
    return message


@st.composite
def ipv4_packet(draw, fragment: bool | None = None) -> tuple[bytes, int]:
    """(packet, proto) with a consistent total length; IHL 5..15 with random option bytes."""
    ihl = draw(st.sampled_from([5, 5, 5, 6, 10, 15]))
    options = draw(st.binary(min_size=(ihl - 5) * 4, max_size=(ihl - 5) * 4))
    kind = draw(st.sampled_from(["tcp", "udp", "sctp", "icmp", "other"]))
    if kind == "other":
        proto = draw(_u8.filter(lambda p: p not in OSKEN_IP_PROTOS))
        payload = draw(st.binary(max_size=24))
    else:
        proto = {"tcp": 6, "udp": 17, "sctp": 132, "icmp": 1}[kind]
        payload = draw({"tcp": tcp_segment(), "udp": udp_datagram(), "sctp": sctp_packet(),
                        "icmp": icmp_message()}[kind])
    if fragment is None:
        fragment = draw(st.booleans())
    offset = draw(st.integers(1, 0x1FFF)) if fragment and draw(st.booleans()) else 0
    # reserved bit, DF, MF (MF only on fragments)
    flags = draw(st.integers(0, 7) if fragment else st.sampled_from([0, 2, 4, 6]))
    total = ihl * 4 + len(payload)
    header = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, draw(_u8), total, draw(_u16),
                         flags << 13 | offset, draw(_u8), proto, draw(_u16),
                         draw(st.binary(min_size=4, max_size=4)),
                         draw(st.binary(min_size=4, max_size=4)))
    return header + options + payload, proto


@st.composite
def arp_packet(draw) -> bytes:
    return struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, draw(st.sampled_from([1, 2]) | _u16),
                       draw(_mac), draw(st.binary(min_size=4, max_size=4)), draw(_mac),
                       draw(st.binary(min_size=4, max_size=4)))


@st.composite
def ethernet_frame(draw, l3=None) -> tuple[bytes, int]:
    """(frame, required): ``required`` is the length below which parse_frame must refuse it."""
    kind = draw(st.sampled_from(["ipv4", "ipv4", "arp", "other"]))
    if kind == "ipv4":
        payload, _ = draw(l3 if l3 is not None else ipv4_packet())
        eth_type = 0x0800
    elif kind == "arp":
        payload = draw(arp_packet())
        eth_type = 0x0806
    else:
        payload = draw(st.binary(max_size=32))
        eth_type = draw(st.sampled_from(OTHER_ETH_TYPES))
    tpid = draw(st.sampled_from([None, None, TPID_8021Q, TPID_8021AD]))
    header = draw(_mac) + draw(_mac)
    if tpid is not None:
        header += struct.pack("!HHH", tpid, draw(_u16), eth_type)
    else:
        header += struct.pack("!H", eth_type)
    required = len(header) + {"ipv4": len(payload), "arp": 28, "other": 0}[kind]
    # Ethernet padding or trailer after the IP datagram / ARP body
    trailer = draw(st.sampled_from([b"", b"\x00" * 6]) | st.binary(max_size=8))
    return header + payload + trailer, required


# -- well-formed frames agree ------------------------------------------------------------------

@SETTINGS
@given(ethernet_frame())
def test_every_field_matches_osken(case):
    check(case[0])


@SETTINGS
@given(ethernet_frame(l3=ipv4_packet(fragment=True)))
def test_fragments_match_osken(case):
    check(case[0])


def _frame(ip_payload: bytes, eth_type: int = 0x0800, tag: bytes = b"") -> bytes:
    return b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + tag + \
        struct.pack("!H", eth_type) + ip_payload


def _ipv4(proto: int, payload: bytes, *, ihl: int = 5, frag: int = 0, total: int | None = None,
          version: int = 4) -> bytes:
    total = ihl * 4 + len(payload) if total is None else total
    return struct.pack("!BBHHHBBH4s4s", version << 4 | ihl, 0x10, total, 1, frag, 64, proto, 0,
                       bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])) + b"\x00" * (ihl * 4 - 20) \
        + payload


TCP_HEADER = struct.pack("!HHIIBBHHH", 1234, 80, 1, 0, 5 << 4, 0x02, 1024, 0, 0)


@pytest.mark.parametrize("frame", [
    _frame(_ipv4(6, TCP_HEADER)),
    _frame(_ipv4(17, struct.pack("!HHHH", 5353, 53, 8, 0))),
    _frame(_ipv4(1, struct.pack("!BBHHH", 8, 0, 0, 0xBEEF, 1))),      # echo request
    _frame(_ipv4(1, struct.pack("!BBHHH", 0, 0, 0, 0xBEEF, 1))),      # echo reply
    _frame(_ipv4(1, struct.pack("!BBHHH", 3, 3, 0, 0, 0) + _ipv4(17, b"\x00" * 8))),
    _frame(_ipv4(1, struct.pack("!BBH", 13, 0, 0) + b"\x00" * 16)),    # timestamp: no id
    _frame(_ipv4(50, b"esp!" * 4)),
    _frame(_ipv4(6, TCP_HEADER, frag=0x2000)),                         # first fragment
    _frame(_ipv4(6, TCP_HEADER, ihl=15)),
    _frame(_ipv4(6, TCP_HEADER), tag=struct.pack("!HH", TPID_8021Q, 0xF00D)),
    _frame(_ipv4(6, TCP_HEADER), tag=struct.pack("!HH", TPID_8021AD, 7)),
], ids=["tcp", "udp", "echo", "echo-reply", "unreach", "timestamp", "esp", "first-frag",
        "options", "vlan", "s-tag"])
def test_known_frames_match_osken(frame):
    check(frame)


# -- documented differences: our side pinned ---------------------------------------------------

def test_later_fragment_has_no_transport_fields():
    frame = _frame(_ipv4(6, TCP_HEADER, frag=185))
    assert packet.Packet(frame).get_protocol(tcp.tcp) is not None  # os_ken reads a "header"
    m = parse_frame(frame, PORT)
    assert m.ip_frag == FRAG_LATER and m.tp_src is None and m.tp_dst is None
    check(frame)


def test_qinq_reads_the_outer_tag_only():
    tags = struct.pack("!HHHH", TPID_8021AD, 100, TPID_8021Q, 200)
    frame = _frame(_ipv4(6, TCP_HEADER), tag=tags)
    assert packet.Packet(frame).get_protocol(vlan.vlan).vid == 200  # os_ken decodes both
    m = parse_frame(frame, PORT)
    assert (m.vlan_id, m.eth_type, m.ip_src) == (100, TPID_8021Q, None)
    check(frame)


@pytest.mark.parametrize("proto,l4", [
    (6, struct.pack("!HH", 1, 2)),                       # 4 of TCP's 20 bytes
    (17, struct.pack("!HHH", 1, 2, 6)),                  # 6 of UDP's 8
    (1, struct.pack("!BBHH", 8, 0, 0, 7)),               # echo without its sequence number
])
def test_short_transport_header_gives_what_is_there(proto, l4):
    frame = _frame(_ipv4(proto, l4))
    pkt = packet.Packet(frame)
    assert pkt.get_protocol(tcp.tcp) is None and pkt.get_protocol(udp.udp) is None
    assert pkt.get_protocol(icmp.icmp) is None  # os_ken drops the short layer
    m = parse_frame(frame, PORT)
    if proto == 1:
        assert (m.icmp_type, m.icmp_code, m.icmp_id) == (8, 0, None)
    else:
        assert (m.tp_src, m.tp_dst) == (1, 2)


def test_all_zero_udp_header_is_decoded():
    frame = _frame(_ipv4(17, b"\x00" * 8))
    assert packet.Packet(frame).get_protocol(udp.udp) is None  # os_ken: zeros are padding
    assert (parse_frame(frame, PORT).tp_src, parse_frame(frame, PORT).tp_dst) == (0, 0)


# -- malformed frames raise MalformedPacket, and only that -------------------------------------

def _refused(frame: bytes) -> None:
    with pytest.raises(MalformedPacket):
        parse_frame(frame, PORT)


@SETTINGS
@given(ethernet_frame(), st.data())
def test_truncated_frames_are_refused(case, data):
    frame, required = case
    assume(required > 0)
    _refused(frame[:data.draw(st.integers(0, required - 1))])


@pytest.mark.parametrize("frame", [
    _frame(_ipv4(6, TCP_HEADER, version=6)),             # version 6 in an IPv4 EtherType
    _frame(_ipv4(6, TCP_HEADER, ihl=4)),                 # IHL below 5
    _frame(_ipv4(6, TCP_HEADER, total=19)),              # total length below the header
    _frame(_ipv4(6, TCP_HEADER, total=200)),             # total length past the frame
    _frame(_ipv4(6, b"\x00\x01")),                       # 2 bytes of TCP
    _frame(_ipv4(17, b"")),                              # no UDP header at all
    _frame(_ipv4(132, b"\x00\x01\x00")),                 # 3 bytes of SCTP
    _frame(_ipv4(1, b"\x08\x00")),                       # 2 bytes of ICMP
    _frame(struct.pack("!HHBBH", 6, 0x0800, 6, 4, 1) + b"\x00" * 20, 0x0806),   # htype 6
    _frame(struct.pack("!HHBBH", 1, 0x86DD, 6, 4, 1) + b"\x00" * 20, 0x0806),   # ptype IPv6
    _frame(struct.pack("!HHBBH", 1, 0x0800, 8, 4, 1) + b"\x00" * 20, 0x0806),   # hlen 8
    _frame(struct.pack("!HHBBH", 1, 0x0800, 6, 16, 1) + b"\x00" * 20, 0x0806),  # plen 16
    _frame(b"", TPID_8021Q)[:16],                        # half a VLAN tag
], ids=["version", "ihl", "total-short", "total-long", "tcp-2", "udp-0", "sctp-3", "icmp-2",
        "arp-htype", "arp-ptype", "arp-hlen", "arp-plen", "vlan-half"])
def test_inconsistent_frames_are_refused(frame):
    packet.Packet(frame)  # os_ken decodes what it can without complaint (see the docstring)
    _refused(frame)


@SETTINGS
@given(ethernet_frame(), st.lists(st.tuples(st.integers(0, 200), _u8), min_size=1, max_size=4))
def test_corrupted_frames_parse_or_raise_malformed(case, flips):
    frame = bytearray(case[0])
    for pos, value in flips:
        if pos < len(frame):
            frame[pos] = value
    try:
        parse_frame(bytes(frame), PORT)
    except MalformedPacket:
        pass


@SETTINGS
@given(st.binary(max_size=80))
def test_random_bytes_parse_or_raise_malformed(frame):
    try:
        parse_frame(frame, PORT)
    except MalformedPacket:
        pass


@pytest.mark.parametrize("not_bytes", [None, "frame", 14, [0] * 20])
def test_non_bytes_raise_malformed(not_bytes):
    _refused(not_bytes)
