"""Frame builders produce what os_ken parses back, with VLAN tags where asked."""
from __future__ import annotations

import pytest
from os_ken.lib.packet import arp, ethernet, icmp, ipv4, tcp, udp, vlan

from tools.lab import traffic

A, B = "02:00:00:00:00:0a", "02:00:00:00:00:0b"


def test_ethernet_with_and_without_vlan():
    f = traffic.ethernet(A, B, 0x88B5, b"hello")
    eth = traffic.parse(f).get_protocol(ethernet.ethernet)
    assert (eth.src, eth.dst, eth.ethertype) == (A, B, 0x88B5)
    assert len(f) == 60
    tagged = traffic.parse(traffic.ethernet(A, B, 0x88B5, b"hello", vlan=100))
    assert tagged.get_protocol(vlan.vlan).vid == 100
    assert tagged.get_protocol(vlan.vlan).ethertype == 0x88B5


def test_arp_request_and_reply():
    req = traffic.parse(traffic.arp_request(A, "192.0.2.10", "192.0.2.20"))
    assert req.get_protocol(ethernet.ethernet).dst == traffic.BROADCAST
    a = req.get_protocol(arp.arp)
    assert (a.opcode, a.src_ip, a.dst_ip, a.src_mac) == (arp.ARP_REQUEST, "192.0.2.10",
                                                         "192.0.2.20", A)
    rep = traffic.parse(traffic.arp_reply(B, "192.0.2.20", A, "192.0.2.10", vlan=7))
    assert rep.get_protocol(arp.arp).opcode == arp.ARP_REPLY
    assert rep.get_protocol(vlan.vlan).vid == 7


def test_ipv4_udp_tcp_icmp():
    u = traffic.parse(traffic.ipv4_udp(A, B, "198.51.100.1", "198.51.100.2", 1000, 2000, b"x",
                                     vlan=3))
    assert u.get_protocol(ipv4.ipv4).dst == "198.51.100.2"
    assert (u.get_protocol(udp.udp).src_port, u.get_protocol(udp.udp).dst_port) == (1000, 2000)
    t = traffic.parse(traffic.ipv4_tcp(A, B, "198.51.100.1", "198.51.100.2", flags="SA",
                                     seq=7, ack=9))
    seg = t.get_protocol(tcp.tcp)
    assert seg.has_flags(tcp.TCP_SYN, tcp.TCP_ACK) and (seg.seq, seg.ack) == (7, 9)
    i = traffic.parse(traffic.ipv4_icmp_echo(A, B, "203.0.113.1", "203.0.113.2", ident=5, seq=6))
    echo = i.get_protocol(icmp.icmp)
    assert echo.type == icmp.ICMP_ECHO_REQUEST and (echo.data.id, echo.data.seq) == (5, 6)


def test_checksums_are_valid():
    f = traffic.ipv4_udp(A, B, "198.51.100.1", "198.51.100.2")
    # os_ken recomputes and checks nothing on parse; verify the IPv4 header sum by hand
    hdr = f[14:34]
    total = sum(int.from_bytes(hdr[i:i + 2], "big") for i in range(0, 20, 2))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    assert total == 0xFFFF


def test_matches_and_describe():
    f = traffic.ipv4_udp(A, B, "198.51.100.1", "198.51.100.2", dport=53, vlan=9)
    assert traffic.matches(f, ipv4_dst="198.51.100.2", udp_dst_port=53, vlan_vid=9)
    assert not traffic.matches(f, ipv4_dst="198.51.100.3")
    assert not traffic.matches(f, tcp_dst_port=53)
    assert "vlan 9" in traffic.describe(f) and "udp" in traffic.describe(f)


def test_tcp_flags():
    assert traffic.tcp_flags("SA") == tcp.TCP_SYN | tcp.TCP_ACK
    assert traffic.tcp_flags(0x10) == 0x10
    with pytest.raises(KeyError):
        traffic.tcp_flags("Z")
