"""Address helpers shared by the parser, the builders and the devices.

Inside the simulation IPv4 addresses are plain ``int`` (host order) because
integer comparisons, masks and hashes are the cheapest operations Python has;
MAC addresses are lowercase ``"aa:bb:cc:dd:ee:ff"`` strings because that is
what the state tables and OpenFlow matches use. These helpers convert at the
edges (model objects hold dotted strings and CIDR strings).
"""
from __future__ import annotations

import functools

BROADCAST_MAC = "ff:ff:ff:ff:ff:ff"
ZERO_MAC = "00:00:00:00:00:00"



@functools.lru_cache(maxsize=65536)
def ip_to_int(ip: str) -> int:
    """``"10.0.0.1"`` -> ``167772161``; raises ValueError on bad input."""
    try:
        parts = ip.split(".")
    except AttributeError:  # not a string at all
        raise ValueError(f"not an IPv4 address: {ip!r}") from None
    # four decimal octets, no leading zeros (ambiguous: octal to some parsers)
    if len(parts) != 4 or not all(p.isdigit() and p.isascii() and len(p) <= 3
                                  and (p[0] != "0" or p == "0") for p in parts):
        raise ValueError(f"not an IPv4 address: {ip!r}")
    a, b, c, d = (int(p) for p in parts)
    if max(a, b, c, d) > 255:
        raise ValueError(f"not an IPv4 address: {ip!r}")
    return (a << 24) | (b << 16) | (c << 8) | d


def int_to_ip(value: int) -> str:
    v = value & 0xFFFFFFFF
    return f"{v >> 24}.{v >> 16 & 255}.{v >> 8 & 255}.{v & 255}"


@functools.lru_cache(maxsize=16384)
def parse_cidr(cidr: str) -> tuple[int, int]:
    """``"10.0.0.0/24"`` -> ``(network int, prefix length)``; host bits cleared."""
    if "/" in cidr:
        addr, _, plen_s = cidr.partition("/")
        plen = int(plen_s)
    else:
        addr, plen = cidr, 32
    if not 0 <= plen <= 32:
        raise ValueError(f"bad prefix length in {cidr!r}")
    return ip_to_int(addr) & prefix_mask(plen), plen


def prefix_mask(plen: int) -> int:
    return (0xFFFFFFFF << (32 - plen)) & 0xFFFFFFFF if plen else 0


def in_subnet(ip: int, net: int, plen: int) -> bool:
    return (ip & prefix_mask(plen)) == net


def mac_to_bytes(mac: str) -> bytes:
    return bytes.fromhex(mac.replace(":", ""))


def mac_to_int(mac: str) -> int:
    return int(mac.replace(":", ""), 16)


def is_multicast_mac(mac: str) -> bool:
    """Group bit set (broadcast included): such frames are flooded, never learned."""
    return int(mac[1], 16) & 1 == 1


def normalize_mac(mac: str) -> str:
    raw = mac.replace(":", "").replace("-", "").lower()
    if len(raw) != 12:
        raise ValueError(f"not a MAC address: {mac!r}")
    int(raw, 16)
    return ":".join(raw[i:i + 2] for i in range(0, 12, 2))
