"""Executing results on frames in userspace (for results OpenFlow cannot express)."""
from __future__ import annotations

import struct
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from midonet_ryu.simulation import packet_builders
from midonet_ryu.simulation.addr import ip_to_int
from midonet_ryu.simulation.packet import parse_frame
from midonet_ryu.simulation.packet_builders import checksum
from midonet_ryu.simulation.result import SetField, ToPort
from midonet_ryu.simulation.rewrite import apply_actions

P1, P2 = uuid.uuid4(), uuid.uuid4()
A, B = "02:00:00:00:00:01", "02:00:00:00:00:02"


def l4_checksum_ok(frame: bytes) -> bool:
    m = parse_frame(frame, None)
    l3, l4 = m.l3_offset, m.l4_offset
    total = struct.unpack_from("!H", frame, l3 + 2)[0]
    seg = frame[l4:l3 + total]
    if m.ip_proto == 1:
        return checksum(seg) == 0
    pseudo = frame[l3 + 12:l3 + 20] + struct.pack("!BBH", 0, m.ip_proto, len(seg))
    return checksum(pseudo + seg) == 0


def test_icmp_echo_id_and_addresses_are_rewritten_with_valid_checksums():
    frame = packet_builders.icmp_echo_request(A, B, ip_to_int("10.0.0.1"), ip_to_int("8.8.8.8"),
                                              ident=7)
    (out,) = apply_actions(frame, [SetField("ip_src", ip_to_int("192.0.2.1")),
                                   SetField("icmp_id", 4242), ToPort(P1)])
    port, new = out
    m = parse_frame(new, None)
    assert port == P1 and m.icmp_id == 4242 and m.ip_src == ip_to_int("192.0.2.1")
    assert checksum(new[14:34]) == 0 and l4_checksum_ok(new)


@given(st.integers(1, 65535), st.integers(1, 65535), st.integers(0, 2**32 - 1),
       st.integers(1, 255), st.sampled_from(["tcp", "udp"]))
def test_transport_rewrites_keep_checksums_valid(sport, dport, ip, ttl, proto):
    build = packet_builders.tcp_frame if proto == "tcp" else packet_builders.udp_frame
    frame = build(A, B, ip_to_int("10.0.0.1"), ip_to_int("10.0.0.2"), 1, 2)
    (_, new), = apply_actions(frame, [SetField("tp_src", sport), SetField("tp_dst", dport),
                                      SetField("ip_dst", ip), SetField("ip_ttl", ttl),
                                      ToPort(P1)])
    m = parse_frame(new, None)
    assert (m.tp_src, m.tp_dst, m.ip_dst, m.ip_ttl) == (sport, dport, ip, ttl)
    assert checksum(new[14:34]) == 0 and l4_checksum_ok(new)


def test_vlan_push_set_pop_between_outputs():
    frame = packet_builders.udp_frame(A, B, 1, 2, 3, 4)
    outs = apply_actions(frame, [ToPort(P1), SetField("vlan_id", 10), ToPort(P2),
                                 SetField("vlan_id", 20), ToPort(P2),
                                 SetField("vlan_id", None), ToPort(P1)])
    vlans = [parse_frame(f, None).vlan_id for _, f in outs]
    assert vlans == [None, 10, 20, None]
    assert outs[3][1] == frame


def test_macs():
    (_, new), = apply_actions(packet_builders.udp_frame(A, B, 1, 2, 3, 4),
                              [SetField("eth_src", B), SetField("eth_dst", A), ToPort(P1)])
    m = parse_frame(new, None)
    assert (m.eth_src, m.eth_dst) == (B, A)


def test_inapplicable_rewrites_are_refused():
    with pytest.raises(ValueError):
        apply_actions(packet_builders.arp_request(A, 1, 2), [SetField("ip_src", 5)])
    later = packet_builders.tcp_frame(A, B, 1, 2, 3, 4, frag=0x0010)
    with pytest.raises(ValueError):
        apply_actions(later, [SetField("tp_src", 5)])
