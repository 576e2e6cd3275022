"""Ethernet frames for tests: build with real checksums, parse for assertions.

Built with os_ken.lib.packet, the same library the agent parses packet-ins
with, so a test's frame is exactly what the controller would see. Every
builder takes ``vlan=<vid>`` to add an 802.1Q tag.
"""
from __future__ import annotations

from os_ken.lib.packet import arp, icmp, ipv4, packet, tcp, udp
from os_ken.lib.packet import ether_types as ether
from os_ken.lib.packet import ethernet as eth
from os_ken.lib.packet import in_proto as inet
from os_ken.lib.packet import vlan as dot1q

BROADCAST = "ff:ff:ff:ff:ff:ff"
ZERO_MAC = "00:00:00:00:00:00"

_TCP_FLAGS = {"F": tcp.TCP_FIN, "S": tcp.TCP_SYN, "R": tcp.TCP_RST, "P": tcp.TCP_PSH,
              "A": tcp.TCP_ACK, "U": tcp.TCP_URG, "E": tcp.TCP_ECE, "C": tcp.TCP_CWR}


def _l2(src: str, dst: str, ethertype: int, vlan_id: int | None) -> list:
    if vlan_id is None:
        return [eth.ethernet(dst=dst, src=src, ethertype=ethertype)]
    return [eth.ethernet(dst=dst, src=src, ethertype=ether.ETH_TYPE_8021Q),
            dot1q.vlan(vid=vlan_id, ethertype=ethertype)]


def _build(protocols: list, payload: bytes = b"") -> bytes:
    pkt = packet.Packet()
    for p in protocols:
        pkt.add_protocol(p)
    if payload:
        pkt.add_protocol(payload)
    pkt.serialize()
    return bytes(pkt.data)


def ethernet(src: str, dst: str, ethertype: int, payload: bytes = b"",
             vlan: int | None = None) -> bytes:
    """An Ethernet frame carrying ``payload``, padded to the 60-byte minimum."""
    return _build(_l2(src, dst, ethertype, vlan), payload)


def arp_request(src_mac: str, src_ip: str, dst_ip: str, vlan: int | None = None,
                dst_mac: str = BROADCAST) -> bytes:
    """Who-has ``dst_ip``, broadcast (an agent's ARP responder answers these)."""
    return _build(_l2(src_mac, dst_mac, ether.ETH_TYPE_ARP, vlan) + [
        arp.arp(opcode=arp.ARP_REQUEST, src_mac=src_mac, src_ip=src_ip,
                dst_mac=ZERO_MAC, dst_ip=dst_ip)])


def arp_reply(src_mac: str, src_ip: str, dst_mac: str, dst_ip: str,
              vlan: int | None = None) -> bytes:
    """``src_ip`` is-at ``src_mac``, unicast to the asker."""
    return _build(_l2(src_mac, dst_mac, ether.ETH_TYPE_ARP, vlan) + [
        arp.arp(opcode=arp.ARP_REPLY, src_mac=src_mac, src_ip=src_ip,
                dst_mac=dst_mac, dst_ip=dst_ip)])


def _ip(src_ip: str, dst_ip: str, proto: int, ttl: int) -> ipv4.ipv4:
    return ipv4.ipv4(src=src_ip, dst=dst_ip, proto=proto, ttl=ttl)


def ipv4_udp(src_mac: str, dst_mac: str, src_ip: str, dst_ip: str,
             sport: int = 12345, dport: int = 53, payload: bytes = b"",
             vlan: int | None = None, ttl: int = 64) -> bytes:
    return _build(_l2(src_mac, dst_mac, ether.ETH_TYPE_IP, vlan) + [
        _ip(src_ip, dst_ip, inet.IPPROTO_UDP, ttl),
        udp.udp(src_port=sport, dst_port=dport)], payload)


def ipv4_icmp_echo(src_mac: str, dst_mac: str, src_ip: str, dst_ip: str,
                   ident: int = 1, seq: int = 1, payload: bytes = b"midonet-ryu",
                   reply: bool = False, vlan: int | None = None, ttl: int = 64) -> bytes:
    """An ICMP echo request (or reply with ``reply=True``)."""
    kind = icmp.ICMP_ECHO_REPLY if reply else icmp.ICMP_ECHO_REQUEST
    return _build(_l2(src_mac, dst_mac, ether.ETH_TYPE_IP, vlan) + [
        _ip(src_ip, dst_ip, inet.IPPROTO_ICMP, ttl),
        icmp.icmp(type_=kind, code=0, data=icmp.echo(id_=ident, seq=seq, data=payload))])


def tcp_flags(flags: str | int) -> int:
    """"SA" -> SYN|ACK; ints pass through."""
    if isinstance(flags, int):
        return flags
    value = 0
    for c in flags.upper():
        value |= _TCP_FLAGS[c]
    return value


def ipv4_tcp(src_mac: str, dst_mac: str, src_ip: str, dst_ip: str,
             sport: int = 40000, dport: int = 80, flags: str | int = "S",
             seq: int = 1000, ack: int = 0, payload: bytes = b"",
             vlan: int | None = None, ttl: int = 64, window: int = 65535) -> bytes:
    return _build(_l2(src_mac, dst_mac, ether.ETH_TYPE_IP, vlan) + [
        _ip(src_ip, dst_ip, inet.IPPROTO_TCP, ttl),
        tcp.tcp(src_port=sport, dst_port=dport, seq=seq, ack=ack, bits=tcp_flags(flags),
                window_size=window)], payload)


def parse(frame: bytes) -> packet.Packet:
    """Parse a frame for assertions: ``parse(f).get_protocol(ipv4.ipv4).dst``."""
    return packet.Packet(frame)


def describe(frame: bytes) -> str:
    """One line naming the layers and addresses, for assertion messages."""
    parts = []
    for p in parse(frame).protocols:
        if isinstance(p, bytes | bytearray):
            parts.append(f"payload[{len(p)}]")
        elif isinstance(p, eth.ethernet):
            parts.append(f"eth {p.src}>{p.dst} 0x{p.ethertype:04x}")
        elif isinstance(p, dot1q.vlan):
            parts.append(f"vlan {p.vid}")
        elif isinstance(p, arp.arp):
            parts.append(f"arp op={p.opcode} {p.src_ip}({p.src_mac})>{p.dst_ip}")
        elif isinstance(p, ipv4.ipv4):
            parts.append(f"ipv4 {p.src}>{p.dst} proto={p.proto} ttl={p.ttl}")
        elif isinstance(p, udp.udp | tcp.tcp):
            parts.append(f"{p.protocol_name} {p.src_port}>{p.dst_port}")
        elif isinstance(p, icmp.icmp):
            parts.append(f"icmp type={p.type}")
        else:
            parts.append(getattr(p, "protocol_name", type(p).__name__))
    return " | ".join(parts)


def matches(frame: bytes, **fields: object) -> bool:
    """True when the frame has every given field, e.g. ``matches(f, ipv4_dst="192.0.2.9",
    udp_dst_port=53)``; names are ``<protocol>_<attribute>`` of os_ken's classes."""
    pkt = parse(frame)
    for key, want in fields.items():
        proto_name, _, attr = key.partition("_")
        found = False
        for p in pkt.protocols:
            if getattr(p, "protocol_name", None) == proto_name:
                found = getattr(p, attr, object()) == want
                break
        if not found:
            return False
    return True


__all__ = ["BROADCAST", "ZERO_MAC", "arp_reply", "arp_request", "describe", "ethernet",
           "ipv4_icmp_echo", "ipv4_tcp", "ipv4_udp", "matches", "parse",
           "tcp_flags"]
