"""parse_frame and the frame builders."""
from __future__ import annotations

import struct
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from midonet_ryu.simulation import packet_builders
from midonet_ryu.simulation.addr import int_to_ip, ip_to_int
from midonet_ryu.simulation.packet import (
    ETH_ARP,
    ETH_IPV4,
    FRAG_FIRST,
    FRAG_LATER,
    FRAG_NONE,
    MalformedPacket,
    parse_frame,
)

PORT = uuid.uuid4()
A, B = "02:00:00:00:00:01", "02:00:00:00:00:02"
IP_A, IP_B = ip_to_int("10.0.0.1"), ip_to_int("10.0.0.2")


def test_udp_frame_fields():
    m = parse_frame(packet_builders.udp_frame(A, B, IP_A, IP_B, 1234, 53, b"hi", ttl=7), PORT)
    assert (m.in_port, m.eth_src, m.eth_dst, m.eth_type) == (PORT, A, B, ETH_IPV4)
    assert (int_to_ip(m.ip_src), int_to_ip(m.ip_dst)) == ("10.0.0.1", "10.0.0.2")
    assert (m.ip_proto, m.ip_ttl, m.tp_src, m.tp_dst, m.ip_frag) == (17, 7, 1234, 53, FRAG_NONE)
    assert m.vlan_id is None and m.icmp_type is None


def test_vlan_tag_is_parsed():
    m = parse_frame(packet_builders.tcp_frame(A, B, IP_A, IP_B, 1, 80, vlan_id=42), PORT)
    assert m.vlan_id == 42 and m.eth_type == ETH_IPV4 and m.tp_dst == 80


def test_arp_request_fields():
    m = parse_frame(packet_builders.arp_request(A, IP_A, IP_B), PORT)
    assert m.eth_type == ETH_ARP and m.eth_dst == "ff:ff:ff:ff:ff:ff"
    assert (m.arp_op, m.arp_spa, m.arp_tpa, m.arp_sha) == (1, IP_A, IP_B, A)


def test_icmp_echo_fields():
    m = parse_frame(packet_builders.icmp_echo_request(A, B, IP_A, IP_B, ident=77), PORT)
    assert (m.ip_proto, m.icmp_type, m.icmp_code, m.icmp_id) == (1, 8, 0, 77)
    assert m.tp_src is None


def test_fragments():
    first = parse_frame(packet_builders.tcp_frame(A, B, IP_A, IP_B, 1, 80, frag=0x2000), PORT)
    later = parse_frame(packet_builders.tcp_frame(A, B, IP_A, IP_B, 1, 80, frag=0x0010), PORT)
    assert first.ip_frag == FRAG_FIRST and first.tp_dst == 80
    assert later.ip_frag == FRAG_LATER and later.tp_src is None and later.tp_dst is None


@pytest.mark.parametrize("cut", [0, 5, 13, 16, 20, 33, 37])
def test_truncated_frames_raise_malformed(cut):
    frame = packet_builders.udp_frame(A, B, IP_A, IP_B, 1, 2, vlan_id=5)
    with pytest.raises(MalformedPacket):
        parse_frame(frame[:cut], PORT)


def test_wrong_ip_version_and_bad_ihl():
    frame = bytearray(packet_builders.udp_frame(A, B, IP_A, IP_B, 1, 2))
    frame[14] = 0x65
    with pytest.raises(MalformedPacket, match="version"):
        parse_frame(bytes(frame), PORT)
    frame[14] = 0x43
    with pytest.raises(MalformedPacket, match="header length"):
        parse_frame(bytes(frame), PORT)


def test_non_ethernet_arp_is_rejected():
    frame = bytearray(packet_builders.arp_request(A, IP_A, IP_B))
    frame[14:16] = struct.pack("!H", 6)
    with pytest.raises(MalformedPacket, match="ARP"):
        parse_frame(bytes(frame), PORT)


def test_not_bytes_is_rejected():
    with pytest.raises(MalformedPacket):
        parse_frame("abc", PORT)  # type: ignore[arg-type]


@given(st.binary(max_size=120))
def test_garbage_never_crashes(data):
    try:
        parse_frame(data, PORT)
    except MalformedPacket:
        pass


def test_icmp_error_quotes_original_header():
    orig = parse_frame(packet_builders.udp_frame(A, B, IP_A, IP_B, 1, 2, b"payload"), PORT)
    reply = parse_frame(packet_builders.icmp_time_exceeded(orig, B, IP_B), PORT)
    assert (reply.icmp_type, reply.ip_src, reply.ip_dst, reply.eth_dst) == (11, IP_B, IP_A, A)
    quoted = reply.frame[14 + 20 + 8:]
    assert quoted[:20] == orig.frame[14:34] and len(quoted) == 28


def test_ipv4_checksum_is_valid():
    frame = packet_builders.udp_frame(A, B, IP_A, IP_B, 1, 2)
    assert packet_builders.checksum(frame[14:34]) == 0


def test_echo_reply_ignores_ethernet_padding():
    request = packet_builders.icmp_echo_request(A, B, IP_A, IP_B, ident=3, payload=b"abc")
    padded = request + b"\x00" * (60 - len(request))
    m = parse_frame(padded, PORT)
    reply = packet_builders.icmp_echo_reply(m, B, IP_B)
    assert reply[14 + 28:] == b"abc"
    assert packet_builders.checksum(reply[14 + 20:]) == 0
