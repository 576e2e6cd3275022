"""Builders for the frames the simulation generates (and tests send).

Generated packets leave the engine as bytes so the agent can packet-out them
without knowing what they are: ARP requests for unknown next hops, ARP
replies (router ports, ARP suppression), ICMP echo replies and errors, DHCP
offers and acks. IPs are ints, MACs strings (see :mod:`packet`).

This module must not import :mod:`packet` at import time (packet re-exports
these builders), so it duck-types the ``FlowMatch`` it is given.
"""
from __future__ import annotations

import struct
from typing import Any

from midonet_ryu.simulation.addr import BROADCAST_MAC, ZERO_MAC, mac_to_bytes

_IPV4 = struct.Struct("!BBHHHBBH4s4s")
_U32 = struct.Struct("!I")
_U16 = struct.Struct("!H")


def checksum(data: bytes) -> int:
    """Internet checksum (RFC 1071)."""
    if len(data) % 2:
        data += b"\x00"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ethernet(dst: str, src: str, eth_type: int, payload: bytes,
             vlan_id: int | None = None) -> bytes:
    head = mac_to_bytes(dst) + mac_to_bytes(src)
    if vlan_id is not None:
        head += struct.pack("!HH", 0x8100, vlan_id & 0x0FFF)
    return head + _U16.pack(eth_type) + payload


def ipv4(src: int, dst: int, proto: int, payload: bytes, ttl: int = 64, tos: int = 0,
         ident: int = 0, frag: int = 0) -> bytes:
    """An IPv4 packet; ``frag`` is the raw flags+offset field (0x2000 = more fragments)."""
    header = _IPV4.pack(0x45, tos, 20 + len(payload), ident, frag, ttl, proto, 0,
                        _U32.pack(src), _U32.pack(dst))
    csum = checksum(header)
    return header[:10] + _U16.pack(csum) + header[12:] + payload


def _arp(op: int, sha: str, spa: int, tha: str, tpa: int) -> bytes:
    return (struct.pack("!HHBBH", 1, 0x0800, 6, 4, op) + mac_to_bytes(sha) + _U32.pack(spa)
            + mac_to_bytes(tha) + _U32.pack(tpa))


def arp_request(src_mac: str, src_ip: int, target_ip: int, vlan_id: int | None = None) -> bytes:
    """Broadcast "who has ``target_ip``? tell ``src_ip``"."""
    return ethernet(BROADCAST_MAC, src_mac, 0x0806,
                    _arp(1, src_mac, src_ip, ZERO_MAC, target_ip), vlan_id)


def arp_reply(src_mac: str, src_ip: int, dst_mac: str, dst_ip: int,
              vlan_id: int | None = None) -> bytes:
    """Unicast "``src_ip`` is at ``src_mac``" to the asker."""
    return ethernet(dst_mac, src_mac, 0x0806, _arp(2, src_mac, src_ip, dst_mac, dst_ip), vlan_id)


def icmp(icmp_type: int, code: int, rest: bytes, body: bytes) -> bytes:
    """An ICMP message; ``rest`` is the 4 bytes after the checksum (id/seq, unused, mtu)."""
    msg = struct.pack("!BBH", icmp_type, code, 0) + rest + body
    return msg[:2] + _U16.pack(checksum(msg)) + msg[4:]


def _ip_payload(match: Any) -> bytes:
    """The original IP packet, from the raw frame when there is one."""
    frame = getattr(match, "frame", None)
    if frame is not None:
        packet = frame[match.l3_offset:]
        return packet[:int.from_bytes(packet[2:4], "big")]  # without Ethernet padding
    # Synthesize a header from the match (tests build matches by hand).
    l4 = b""
    if match.tp_src is not None:
        l4 = struct.pack("!HHI", match.tp_src, match.tp_dst or 0, 0)
    elif match.icmp_type is not None:
        l4 = struct.pack("!BBHHH", match.icmp_type, match.icmp_code or 0, 0,
                         match.icmp_id or 0, 0)
    return ipv4(match.ip_src, match.ip_dst, match.ip_proto or 0, l4, ttl=match.ip_ttl or 64,
                tos=match.ip_tos or 0)


def icmp_echo_reply(request: Any, src_mac: str, src_ip: int) -> bytes:
    """Answer an echo request ``request`` (a FlowMatch) from ``src_ip``/``src_mac``."""
    original = _ip_payload(request)
    ihl = (original[0] & 0x0F) * 4
    echo = original[ihl:]
    ident_seq = echo[4:8] if len(echo) >= 8 else struct.pack("!HH", request.icmp_id or 0, 0)
    body = echo[8:]
    packet = ipv4(src_ip, request.ip_src, 1, icmp(0, 0, ident_seq, body))
    return ethernet(request.eth_src, src_mac, 0x0800, packet, request.vlan_id)


def icmp_error(icmp_type: int, code: int, original: Any, src_mac: str, src_ip: int) -> bytes:
    """ICMP error about ``original`` (a FlowMatch), quoting its IP header + 8 bytes."""
    ip_packet = _ip_payload(original)
    ihl = (ip_packet[0] & 0x0F) * 4
    quoted = ip_packet[:ihl + 8]
    packet = ipv4(src_ip, original.ip_src, 1, icmp(icmp_type, code, b"\x00" * 4, quoted))
    return ethernet(original.eth_src, src_mac, 0x0800, packet, original.vlan_id)


def icmp_unreachable(code: int, original: Any, src_mac: str, src_ip: int) -> bytes:
    """Destination unreachable: code 0 net, 1 host, 13 administratively prohibited."""
    return icmp_error(3, code, original, src_mac, src_ip)


def icmp_time_exceeded(original: Any, src_mac: str, src_ip: int) -> bytes:
    return icmp_error(11, 0, original, src_mac, src_ip)


def udp(src_ip: int, dst_ip: int, sport: int, dport: int, payload: bytes) -> bytes:
    """A UDP segment with its checksum computed over the pseudo-header."""
    length = 8 + len(payload)
    seg = struct.pack("!HHHH", sport, dport, length, 0) + payload
    pseudo = _U32.pack(src_ip) + _U32.pack(dst_ip) + struct.pack("!BBH", 0, 17, length)
    csum = checksum(pseudo + seg) or 0xFFFF
    return seg[:6] + _U16.pack(csum) + seg[8:]


def tcp(sport: int, dport: int, flags: int = 0x02, seq: int = 0) -> bytes:
    """A bare TCP header (checksum left zero: the simulation never reads it)."""
    return struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 5 << 4, flags, 65535, 0, 0)


def tcp_segment(src_ip: int, dst_ip: int, sport: int, dport: int, seq: int, ack: int,
                flags: int, window: int = 65535) -> bytes:
    """A TCP segment with its checksum: a real stack drops one without (the
    health monitor's probes reach kernels)."""
    seg = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, window, 0, 0)
    pseudo = _U32.pack(src_ip) + _U32.pack(dst_ip) + struct.pack("!BBH", 0, 6, len(seg))
    return seg[:16] + _U16.pack(checksum(pseudo + seg)) + seg[18:]


# --- complete frames, mostly for tests and benchmarks ------------------------

def udp_frame(src_mac: str, dst_mac: str, src_ip: int, dst_ip: int, sport: int, dport: int,
              payload: bytes = b"", ttl: int = 64, vlan_id: int | None = None) -> bytes:
    packet = ipv4(src_ip, dst_ip, 17, udp(src_ip, dst_ip, sport, dport, payload), ttl=ttl)
    return ethernet(dst_mac, src_mac, 0x0800, packet, vlan_id)


def tcp_frame(src_mac: str, dst_mac: str, src_ip: int, dst_ip: int, sport: int, dport: int,
              ttl: int = 64, vlan_id: int | None = None, frag: int = 0) -> bytes:
    packet = ipv4(src_ip, dst_ip, 6, tcp(sport, dport), ttl=ttl, frag=frag)
    return ethernet(dst_mac, src_mac, 0x0800, packet, vlan_id)


def icmp_echo_request(src_mac: str, dst_mac: str, src_ip: int, dst_ip: int, ident: int = 1,
                      seq: int = 1, payload: bytes = b"ping", ttl: int = 64,
                      vlan_id: int | None = None) -> bytes:
    msg = icmp(8, 0, struct.pack("!HH", ident, seq), payload)
    return ethernet(dst_mac, src_mac, 0x0800, ipv4(src_ip, dst_ip, 1, msg, ttl=ttl), vlan_id)


# --- DHCP -------------------------------------------------------------------

DHCP_MAGIC = b"\x63\x82\x53\x63"
DHCP_DISCOVER, DHCP_OFFER, DHCP_REQUEST, DHCP_DECLINE, DHCP_ACK, DHCP_NAK = 1, 2, 3, 4, 5, 6


def dhcp_message(op: int, xid: int, chaddr: str, options: list[tuple[int, bytes]],
                 yiaddr: int = 0, siaddr: int = 0, ciaddr: int = 0, flags: int = 0) -> bytes:
    """A BOOTP/DHCP message (RFC 2131) with ``options`` as (code, value) pairs."""
    head = struct.pack("!BBBBIHHIIII", op, 1, 6, 0, xid, 0, flags, ciaddr, yiaddr, siaddr, 0)
    chaddr_field = mac_to_bytes(chaddr) + b"\x00" * 10
    body = head + chaddr_field + b"\x00" * 192 + DHCP_MAGIC
    for code, val in options:
        body += bytes((code, len(val))) + val
    return body + b"\xff"


def dhcp_request_frame(client_mac: str, msg_type: int, xid: int = 1,
                       requested_ip: int | None = None, vlan_id: int | None = None) -> bytes:
    """A client's broadcast DISCOVER or REQUEST (tests use it)."""
    options = [(53, bytes((msg_type,)))]
    if requested_ip is not None:
        options.append((50, _U32.pack(requested_ip)))
    msg = dhcp_message(1, xid, client_mac, options)
    packet = ipv4(0, 0xFFFFFFFF, 17, udp(0, 0xFFFFFFFF, 68, 67, msg))
    return ethernet(BROADCAST_MAC, client_mac, 0x0800, packet, vlan_id)


def dhcp_reply(msg_type: int, xid: int, client_mac: str, your_ip: int, server_ip: int,
               server_mac: str, options: list[tuple[int, bytes]],
               vlan_id: int | None = None) -> bytes:
    """Server's OFFER/ACK, sent to the client's MAC and the offered address."""
    opts = [(53, bytes((msg_type,))), (54, _U32.pack(server_ip))] + options
    msg = dhcp_message(2, xid, client_mac, opts, yiaddr=your_ip, siaddr=server_ip)
    packet = ipv4(server_ip, your_ip, 17, udp(server_ip, your_ip, 67, 68, msg))
    return ethernet(client_mac, server_mac, 0x0800, packet, vlan_id)


def parse_dhcp_options(msg: bytes) -> dict[int, bytes]:
    """Options of a DHCP message; raises ValueError when it is not one."""
    if len(msg) < 240 or msg[236:240] != DHCP_MAGIC:
        raise ValueError("not a DHCP message")
    options: dict[int, bytes] = {}
    i = 240
    while i < len(msg):
        code = msg[i]
        if code == 255:
            break
        if code == 0:
            i += 1
            continue
        if i + 1 >= len(msg):
            raise ValueError("truncated DHCP option")
        length = msg[i + 1]
        if i + 2 + length > len(msg):
            raise ValueError("truncated DHCP option")
        options[code] = msg[i + 2:i + 2 + length]
        i += 2 + length
    return options
