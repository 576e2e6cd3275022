"""DHCP answered by the agent for ports of networks with an enabled ``Dhcp``.

A DISCOVER gets an OFFER and a REQUEST an ACK with the host's address, the
subnet mask, the default gateway, DNS servers, the interface MTU and the
lease time. A REQUEST for another address than the configured one gets a
NAK. Clients whose MAC is not in any ``Dhcp.hosts`` are not answered here:
their packets continue through the bridge like any other broadcast (an
external DHCP server may answer). Malformed DHCP payloads are dropped.
"""
from __future__ import annotations

import struct
import uuid
from typing import Any

from midonet_ryu.simulation import tags
from midonet_ryu.simulation.addr import ip_to_int, normalize_mac, parse_cidr, prefix_mask
from midonet_ryu.simulation.cache import deps_of
from midonet_ryu.simulation.context import Context
from midonet_ryu.simulation.packet import FIELD_BIT, PROTO_UDP, l4_payload
from midonet_ryu.simulation.packet_builders import (
    DHCP_ACK,
    DHCP_DISCOVER,
    DHCP_NAK,
    DHCP_OFFER,
    DHCP_REQUEST,
    dhcp_reply,
    parse_dhcp_options,
)
from midonet_ryu.simulation.steps import Consumed, Drop
from midonet_ryu.topology.dhcp import Dhcp
from midonet_ryu.topology.model import Network

_U32 = struct.Struct("!I")
DHCP_FIELDS = FIELD_BIT["eth_type"] | FIELD_BIT["ip_proto"] | FIELD_BIT["tp_dst"]
SERVER_MAC = "ac:ca:ba:00:00:67"  # source MAC of the agent's answers
# No flow for a malformed message: the next one from that client may be fine.
_MALFORMED = Drop(0.0, "malformed DHCP message")
_NAK_SENT = Consumed("DHCP NAK: requested address is not the host's")
_OFFER_SENT = Consumed("DHCP OFFER sent")
_ACK_SENT = Consumed("DHCP ACK sent")


class HostConfig:
    __slots__ = ("dhcp", "ip", "mask", "server", "gateway", "dns", "mtu", "lease",
                 "classless_routes")

    def __init__(self, dhcp: Dhcp, ip: int) -> None:
        _net, plen = parse_cidr(dhcp.subnet_address)
        self.dhcp = dhcp
        self.ip = ip
        self.mask = prefix_mask(plen)
        self.server = ip_to_int(dhcp.server_address)
        self.gateway = ip_to_int(dhcp.default_gateway) if dhcp.default_gateway else None
        self.dns = tuple(ip_to_int(d) for d in dhcp.dns_server_address)
        self.mtu = dhcp.interface_mtu
        self.lease = dhcp.lease_time
        self.classless_routes = classless_routes(dhcp)


def classless_routes(dhcp: Dhcp) -> bytes:
    """Option 121's value: per route the prefix length, the prefix's
    significant octets, then the router (RFC 3442 section 3)."""
    out = bytearray()
    for route in dhcp.opt121_routes:
        net, plen = parse_cidr(route.dest)
        out.append(plen)
        out += _U32.pack(net)[:(plen + 7) // 8]
        out += _U32.pack(ip_to_int(route.gateway))
    return bytes(out)


def _hosts(ctx: Context, network: Network) -> dict[str, HostConfig]:
    def build() -> tuple[dict[str, HostConfig], Any]:
        table: dict[str, HostConfig] = {}
        seen: list[Any] = []
        for did in network.dhcp_ids:
            dhcp = ctx.topology.get(Dhcp, did)
            if dhcp is None:
                continue
            seen.append(dhcp)
            if not dhcp.enabled:
                continue
            for host in dhcp.hosts:
                table[normalize_mac(host.mac)] = HostConfig(dhcp, ip_to_int(host.ip_address))
        return table, deps_of([network, *seen])

    return ctx.cache.get(("dhcp", network.id), build)


def is_dhcp_request(ctx: Context) -> bool:
    m = ctx.match
    ctx.wc |= DHCP_FIELDS
    return m.ip_proto == PROTO_UDP and m.tp_dst == 67


def answer(ctx: Context, network: Network, in_port_id: uuid.UUID,
           reply_vlan: int | None) -> Consumed | Drop | None:
    """Answer a DHCP client message, or None to let the bridge handle it.

    ``reply_vlan`` is the tag the reply carries on the wire (None on access
    ports, whose frames are untagged outside the bridge)."""
    m = ctx.match
    try:
        options = parse_dhcp_options(l4_payload(m))
    except ValueError:
        return _MALFORMED
    msg_type = options.get(53, b"\x00")[0]
    hosts = _hosts(ctx, network)
    for did in network.dhcp_ids:
        ctx.tags.add(tags.device(did))
    payload = l4_payload(m)
    chaddr = payload[28:34].hex(":")
    host = hosts.get(chaddr)
    if host is None or msg_type not in (DHCP_DISCOVER, DHCP_REQUEST):
        return None
    xid = _U32.unpack_from(payload, 4)[0]
    if msg_type == DHCP_REQUEST:
        wanted = options.get(50)
        if wanted is not None and len(wanted) == 4 and _U32.unpack(wanted)[0] != host.ip:
            frame = dhcp_reply(DHCP_NAK, xid, chaddr, 0, host.server, SERVER_MAC, [],
                               reply_vlan)
            ctx.generate(in_port_id, frame)
            return _NAK_SENT
    opts: list[tuple[int, bytes]] = [(1, _U32.pack(host.mask)), (51, _U32.pack(host.lease))]
    if host.gateway is not None:
        opts.append((3, _U32.pack(host.gateway)))
    if host.dns:
        opts.append((6, b"".join(_U32.pack(d) for d in host.dns)))
    if host.mtu:
        opts.append((26, struct.pack("!H", host.mtu)))
    if host.classless_routes:
        opts.append((121, host.classless_routes))
    reply_type = DHCP_OFFER if msg_type == DHCP_DISCOVER else DHCP_ACK
    ctx.generate(in_port_id, dhcp_reply(reply_type, xid, chaddr, host.ip, host.server,
                                        SERVER_MAC, opts, reply_vlan))
    return _OFFER_SENT if reply_type == DHCP_OFFER else _ACK_SENT
