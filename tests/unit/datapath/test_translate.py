"""Simulation results become the OpenFlow a user sees in dump-flows."""
import uuid

import pytest
from os_ken.ofproto import ofproto_v1_3 as ofp

from midonet_ryu.datapath.pipeline import Cookie, Origin
from midonet_ryu.datapath.translate import (
    LocalPort,
    RemotePort,
    Untranslatable,
    build_actions,
    build_match,
)
from midonet_ryu.simulation.addr import ip_to_int
from midonet_ryu.simulation.packet import parse_frame
from midonet_ryu.simulation.result import SetField, ToPort
from tools.lab import traffic

A, B, C = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()


def match_of(frame):
    return parse_frame(frame, A)


def udp_frame():
    return traffic.ipv4_udp("02:00:00:00:00:01", "02:00:00:00:00:02", "198.51.100.1",
                           "198.51.100.2", 1000, 53)


def test_match_has_only_read_fields_plus_prerequisites():
    m = build_match(match_of(udp_frame()), {"in_port", "eth_dst", "tp_dst"}, 7)
    fields = dict(m)
    assert fields == {"in_port": 7, "eth_dst": "02:00:00:00:00:02", "eth_type": 0x0800,
                      "ip_proto": 17, "udp_dst": 53}


def test_vlan_untagged_matches_absence_of_tag():
    m = build_match(match_of(udp_frame()), {"vlan_id"}, 1)
    assert dict(m)["vlan_vid"] == ofp.OFPVID_NONE


def test_unmatchable_field_refuses_a_flow():
    icmp = traffic.ipv4_icmp_echo("02:00:00:00:00:01", "02:00:00:00:00:02", "198.51.100.1",
                                 "198.51.100.2")
    with pytest.raises(Untranslatable):
        build_match(match_of(icmp), {"icmp_id"}, 1)


def locate(port):
    return {A: LocalPort(3), B: LocalPort(4),
            C: RemotePort(tunnel_ofport=1, tunnel_key=0x100007, underlay_ip="192.0.2.2")}.get(
        port)


def test_local_remote_and_unknown_outputs():
    acts = build_actions([ToPort(B), ToPort(C), ToPort(uuid.uuid4())], match_of(udp_frame()),
                         3, locate)
    assert acts == [("output", 4), ("set_field", "tunnel_id", 0x100007),
                    ("set_field", "tun_ipv4_dst", ip_to_int("192.0.2.2")), ("output", 1)]
    # (the unknown port is skipped)


def test_output_to_ingress_port_uses_in_port():
    acts = build_actions([ToPort(A)], match_of(udp_frame()), 3, locate)
    assert acts == [("output", ofp.OFPP_IN_PORT)]


def test_rewrites_precede_outputs():
    acts = build_actions([SetField("ip_dst", ip_to_int("203.0.113.5")), SetField("tp_dst", 80),
                          ToPort(B)], match_of(udp_frame()), 3, locate)
    assert acts[:2] == [("set_field", "ipv4_dst", ip_to_int("203.0.113.5")),
                        ("set_field", "udp_dst", 80)]


def test_cookie_round_trip():
    c = Cookie(Origin.SIMULATION, 513, 123456)
    assert Cookie.decode(c.encode()) == c
    assert c.encode() >> 56 == Origin.SIMULATION


def test_vlan_push_set_and_pop_follow_the_packets_tag():
    m = match_of(udp_frame())  # untagged
    acts = build_actions([SetField("vlan_id", 10), ToPort(B), SetField("vlan_id", None),
                          ToPort(A)], m, 3, locate)
    assert [a[0] for a in acts] == ["push_vlan", "set_field", "output", "pop_vlan", "output"]
    assert acts[1] == ("set_field", "vlan_vid", ofp.OFPVID_PRESENT | 10)
    # popping a tag the packet does not have emits nothing
    assert build_actions([SetField("vlan_id", None), ToPort(B)], m, 3, locate) == [
        ("output", 4)]


def test_nicira_fields_come_after_their_prerequisites_on_the_wire():
    m = match_of(udp_frame())
    fields = build_match(m, {"ip_ttl", "ip_frag", "ip_dst", "tp_dst"}, 5)
    names = [name for name, _ in fields]
    assert names.index("eth_type") < names.index("nw_ttl")
    assert names.index("ip_proto") < names.index("ip_frag")
    # and the bytes parse back to the same fields, in that order
    from os_ken.ofproto import ofproto_v1_3_parser as parser

    from midonet_ryu.datapath.ofwire import encode_match

    parsed = parser.OFPMatch.parser(encode_match(fields), 0)
    assert [n for n, _ in parsed._fields2] == names


def test_reading_icmp_id_of_a_non_echo_packet_still_caches():
    m = match_of(udp_frame())
    assert "udp_dst" in dict(build_match(m, {"icmp_id", "tp_dst"}, 1))


def test_fields_a_packet_does_not_have_are_left_out():
    arp = match_of(traffic.arp_request("02:00:00:00:00:01", "198.51.100.1", "198.51.100.2"))
    # conntrack reads the IP 5-tuple of every packet; an ARP frame has none
    fields = dict(build_match(arp, {"ip_src", "ip_dst", "ip_proto", "tp_src", "arp_op"}, 1))
    assert "ipv4_src" not in fields and "ip_proto" not in fields
    assert not [k for k in build_match(arp, {"ip_frag", "ip_ttl", "arp_op"}, 1)
                if k[0] in ("ip_frag", "nw_ttl")]
    assert fields["arp_op"] == 1 and fields["eth_type"] == 0x0806
