"""The router: ARP, ICMP, filters, load balancer, routing, next-hop resolution.

Order of processing for a packet entering a router port (MidoNet's
``Router``):

1. L2: ARP is answered (requests for the port's address) or learned
   (replies, and senders of requests on the port's subnet); other frames
   must be addressed to the port's MAC; non-IPv4 is dropped.
2. Load balancer (VIP -> member DNAT, and its reverse on replies), then the
   router's inbound filter (pre-routing: floating-IP DNAT, reverse SNAT).
3. Packets for one of the router's own addresses: ICMP echo is answered,
   anything else dropped.
4. TTL <= 1: ICMP time exceeded, drop.
5. Route lookup (longest prefix, lowest weight, ECMP by flow hash):
   no route or REJECT -> ICMP net unreachable; BLACKHOLE -> drop.
6. The outbound filter (post-routing: SNAT).
7. TTL is decremented; MACs are rewritten: source = egress port's MAC,
   destination = next hop's MAC, from the peer port when it is another
   router, else from the ARP table. If the ARP table has no live entry the
   router emits an ARP request from the egress port and the packet is
   dropped without a flow (drop_timeout 0); the drop is tagged with the ARP
   entry, and the next packet after the reply takes the path. A stale entry
   is used and refreshed with a new request.
"""
from __future__ import annotations

import uuid
from typing import Any

from midonet_ryu.simulation import chains, loadbalancer, tags
from midonet_ryu.simulation.addr import (
    BROADCAST_MAC,
    in_subnet,
    ip_to_int,
    normalize_mac,
    parse_cidr,
)
from midonet_ryu.simulation.cache import deps_of
from midonet_ryu.simulation.context import Context, SimulationError
from midonet_ryu.simulation.packet import (
    ARP_REPLY,
    ARP_REQUEST,
    ETH_ARP,
    ETH_IPV4,
    FIELD_BIT,
    ICMP_ECHO_REQUEST,
    PROTO_ICMP,
)
from midonet_ryu.simulation.packet_builders import (
    arp_reply,
    arp_request,
    icmp_echo_reply,
    icmp_time_exceeded,
    icmp_unreachable,
)
from midonet_ryu.simulation.result import ARP_WAIT_DROP_TIMEOUT, ICMP_ERROR_DROP_TIMEOUT, ArpLearned
from midonet_ryu.simulation.routing import RouteEntry, RoutingTable, entry
from midonet_ryu.simulation.state import ArpEntry
from midonet_ryu.simulation.steps import Consumed, Drop, Step, ToDevicePort
from midonet_ryu.topology.model import Port
from midonet_ryu.topology.router import NextHop, Route, Router

_L2 = FIELD_BIT["eth_dst"] | FIELD_BIT["eth_type"]
_DST = FIELD_BIT["ip_dst"]
_SRC = FIELD_BIT["ip_src"]
_TTL = FIELD_BIT["ip_ttl"]
_ICMP = FIELD_BIT["ip_proto"] | FIELD_BIT["icmp_type"]
_ROUTED_WRITES = (FIELD_BIT["eth_src"] | FIELD_BIT["eth_dst"] | FIELD_BIT["vlan_id"]
                  | FIELD_BIT["ip_ttl"])
ICMP_NET_UNREACHABLE = 0

_ROUTER_DOWN = Drop(None, "router is administratively down")
_NOT_FOR_PORT = Drop(None, "frame not addressed to the router port")
_NOT_IPV4 = Drop(None, "router drops non-IPv4 traffic")
_TTL_EXPIRED = Drop(0.0, "TTL expired")  # no flow: every traceroute probe is answered
_NO_ROUTE = Drop(ICMP_ERROR_DROP_TIMEOUT, "no route")
_REJECT_ROUTE = Drop(ICMP_ERROR_DROP_TIMEOUT, "reject route")
_BLACKHOLE = Drop(None, "blackhole route")
_ARP_WAIT = Drop(ARP_WAIT_DROP_TIMEOUT, "next hop MAC unknown; ARP request sent")
_FOR_ROUTER = Drop(None, "packet for the router itself")
_ECHO_ANSWERED = Consumed("ICMP echo to the router answered")
_ARP_UNADDRESSED = Consumed("ARP on an unaddressed router port")
_ARP_OTHER = Consumed("ARP request for another address")
_ARP_ANSWERED = Consumed("ARP request for the router port answered")
_ARP_LEARNED = Consumed("ARP reply learned")
_ARP_IGNORED = Consumed("ARP ignored")


class RouterPort:
    """A router port compiled: parsed addresses, its peer, and ``egress``, the
    step out of it, built once rather than for every routed packet."""

    __slots__ = ("port", "mac", "ip", "net", "plen", "peer_is_router", "peer_mac", "egress")

    def __init__(self, port: Port, peer: Port | None) -> None:
        self.port = port
        self.egress = ToDevicePort(port)
        self.mac = normalize_mac(port.port_mac) if port.port_mac else None
        self.ip = ip_to_int(port.port_address) if port.port_address else None
        if port.port_subnet:
            self.net, self.plen = parse_cidr(port.port_subnet)
        else:
            self.net, self.plen = None, 32
        self.peer_is_router = peer is not None and peer.router_id is not None
        self.peer_mac = normalize_mac(peer.port_mac) if self.peer_is_router and peer and \
            peer.port_mac else None


class CompiledRouter:
    __slots__ = ("router", "ports", "local_ips", "table")

    def __init__(self, router: Router, ports: dict[uuid.UUID, RouterPort],
                 table: RoutingTable) -> None:
        self.router = router
        self.ports = ports
        self.local_ips = {rp.ip: rp for rp in ports.values() if rp.ip is not None}
        self.table = table


def compile_router(ctx: Context, router: Router) -> CompiledRouter:
    def build() -> tuple[CompiledRouter, Any]:
        get = ctx.topology.get
        seen: list[Any] = [router]
        ports: dict[uuid.UUID, RouterPort] = {}
        entries: list[RouteEntry] = []
        route_ids: list[uuid.UUID] = list(router.route_ids)
        for pid in router.port_ids:
            port = get(Port, pid)
            if port is None:
                continue
            peer = get(Port, port.peer_id) if port.peer_id else None
            seen += [port, peer]
            rp = RouterPort(port, peer)
            ports[pid] = rp
            route_ids.extend(port.route_ids)
            if port.port_subnet:
                entries.append(entry(port.port_subnet, "0.0.0.0/0", NextHop.PORT, pid, None, 0,
                                     None))
            if port.port_address:
                entries.append(entry(port.port_address + "/32", "0.0.0.0/0", NextHop.LOCAL,
                                     None, None, 0, None))
        for rid in dict.fromkeys(route_ids):
            route = get(Route, rid)
            if route is None:
                continue
            seen.append(route)
            entries.append(entry(route.dst_subnet, route.src_subnet, route.next_hop,
                                 route.next_hop_port_id, route.next_hop_gateway, route.weight,
                                 route.id))
        return CompiledRouter(router, ports, RoutingTable(entries)), deps_of(seen)

    return ctx.cache.get(("router", router.id), build)


def process(ctx: Context, in_port: Port) -> Step:
    """Simulate ``ctx.match`` entering a router through ``in_port``: a
    ``ToDevicePort`` towards the next hop, else ``Drop`` or ``Consumed``."""
    router = ctx.topology.get(Router, in_port.router_id)
    if router is None:
        raise SimulationError(f"port {in_port.id} on missing router {in_port.router_id}")
    ctx.tags.add(tags.device(router.id))
    if not router.admin_state_up:
        return _ROUTER_DOWN
    cr = compile_router(ctx, router)
    rp = cr.ports.get(in_port.id)
    if rp is None:
        raise SimulationError(f"port {in_port.id} is not in router {router.id}'s port list")
    m = ctx.match
    ctx.wc |= _L2
    if m.eth_type == ETH_ARP:
        return _arp(ctx, router, rp)
    if m.eth_dst != rp.mac and m.eth_dst != BROADCAST_MAC:
        return _NOT_FOR_PORT
    if m.eth_type != ETH_IPV4 or m.ip_src is None:
        return _NOT_IPV4

    if router.load_balancer_id is not None:
        dropped = loadbalancer.process(ctx, router)
        if dropped is not None:
            return dropped
    if router.inbound_filter_id is not None:
        verdict = chains.run_filter(ctx, router.inbound_filter_id, router.id, "device-inbound")
        if verdict is not None:
            return verdict

    ctx.wc |= _DST
    dst = m.ip_dst
    local = cr.local_ips.get(dst)
    if local is not None:
        return _local(ctx, rp, local)
    ctx.wc |= _TTL
    if m.ip_ttl is not None and m.ip_ttl <= 1:
        _icmp_error(ctx, rp, time_exceeded=True)
        return _TTL_EXPIRED

    table = cr.table
    if table.has_src_routes:
        ctx.wc |= _SRC
    route = table.lookup(dst, m.ip_src, ctx.hash5)
    ctx.tags.add(tags.routed(router.id, dst, -1 if route is None else route.dst_plen))
    if ctx.trace is not None:
        ctx.trace.append(("route", _route_detail(m.ip_src, dst, route)))
    if route is None or route.next_hop is NextHop.REJECT:
        _icmp_error(ctx, rp, time_exceeded=False)
        return _NO_ROUTE if route is None else _REJECT_ROUTE
    if route.route_id is not None:
        ctx.tags.add(tags.device(route.route_id))
    if route.next_hop is NextHop.BLACKHOLE:
        return _BLACKHOLE
    if route.next_hop is NextHop.LOCAL:
        return _local(ctx, rp, rp)
    out = cr.ports.get(route.port_id) if route.port_id else None
    if out is None:
        return Drop(None, f"route via port {route.port_id} not on this router")

    ctx.out_port = out.port.id
    if router.outbound_filter_id is not None:
        verdict = chains.run_filter(ctx, router.outbound_filter_id, router.id,
                                    "device-outbound")
        if verdict is not None:
            return verdict

    next_hop = route.gateway if route.gateway is not None else m.ip_dst
    mac = _next_hop_mac(ctx, router, out, next_hop)
    if mac is None:
        return _ARP_WAIT
    if m.ip_ttl is not None:
        m.ip_ttl -= 1
    m.eth_src = out.mac
    m.eth_dst = mac
    m.vlan_id = None  # a routed frame leaves untagged; the next bridge decides
    ctx.written |= _ROUTED_WRITES
    return out.egress


def _route_detail(src: int | None, dst: int | None,
                  route: RouteEntry | None) -> dict[str, Any]:
    """What a trace shows of a route lookup (traces only)."""
    if route is None:
        return {"srcIp": src, "dstIp": dst, "result": "none"}
    return {"srcIp": src, "dstIp": dst, "result": route.next_hop, "route": route.route_id,
            "prefixIp": route.dst_net, "prefixLen": route.dst_plen, "port": route.port_id,
            "gatewayIp": route.gateway, "weight": route.weight}


def _next_hop_mac(ctx: Context, router: Router, out: RouterPort, ip: int) -> str | None:
    if out.peer_is_router:
        if ctx.trace is not None:
            _trace_next_hop(ctx, out, ip, out.peer_mac, "peer-router")
        return out.peer_mac
    ctx.tags.add(tags.arp_entry(router.id, ip))
    found = ctx.state.arp_table(router.id).get(ip)
    now = ctx.now
    if found is not None:
        if type(found) is str:
            if ctx.trace is not None:
                _trace_next_hop(ctx, out, ip, found, "arp-table")
            return found
        assert isinstance(found, ArpEntry)
        if found.expiry > now:
            if found.stale <= now:
                _arp_request(ctx, out, ip)
            if ctx.trace is not None:
                _trace_next_hop(ctx, out, ip, found.mac,
                                "arp-stale" if found.stale <= now else "arp-table")
            return found.mac
    _arp_request(ctx, out, ip)
    if ctx.trace is not None:
        _trace_next_hop(ctx, out, ip, None, "arp-miss" if found is None else "arp-expired")
    return None


def _trace_next_hop(ctx: Context, out: RouterPort, ip: int, mac: str | None,
                    result: str) -> None:
    """Record where the next hop's MAC came from (traces only)."""
    assert ctx.trace is not None
    ctx.trace.append(("next-hop", {"nextHopIp": ip, "mac": mac, "port": out.port.id,
                                   "result": result}))


def _arp_request(ctx: Context, out: RouterPort, ip: int) -> None:
    if out.mac is None or out.ip is None:
        return
    ctx.generate(out.port.id, arp_request(out.mac, out.ip, ip))


def _arp(ctx: Context, router: Router, rp: RouterPort) -> Consumed:
    """Answer requests for the port's address and learn from the subnet; an ARP
    frame never goes further than the router port."""
    m = ctx.match
    if rp.ip is None or rp.mac is None:
        return _ARP_UNADDRESSED
    spa, sha = m.arp_spa, m.arp_sha
    on_subnet = spa is not None and rp.net is not None and in_subnet(spa, rp.net, rp.plen)
    if m.arp_op == ARP_REQUEST:
        if m.arp_tpa != rp.ip:
            return _ARP_OTHER
        if on_subnet and sha:
            _learn(ctx, router, spa, sha)
        ctx.generate(rp.port.id, arp_reply(rp.mac, rp.ip, sha or m.eth_src, spa or 0,
                                           m.vlan_id))
        return _ARP_ANSWERED
    if m.arp_op == ARP_REPLY and on_subnet and sha and m.arp_tpa == rp.ip:
        _learn(ctx, router, spa, sha)
        return _ARP_LEARNED
    return _ARP_IGNORED


def _learn(ctx: Context, router: Router, ip: int, mac: str) -> None:
    current = ctx.state.arp_table(router.id).get(ip)
    known = current if type(current) is str or current is None else current.mac
    if known != mac or (current is not None and type(current) is not str
                        and current.stale <= ctx.now):
        ctx.learned.append(ArpLearned(router.id, ip, mac))


def _local(ctx: Context, in_rp: RouterPort, local: RouterPort) -> Consumed | Drop:
    """A packet for the router itself: answer echo requests, drop the rest."""
    m = ctx.match
    ctx.wc |= _ICMP
    if ctx.trace is not None:
        ctx.trace.append(("local", {"dstIp": m.ip_dst, "port": local.port.id}))
    if m.ip_proto == PROTO_ICMP and m.icmp_type == ICMP_ECHO_REQUEST and in_rp.mac:
        ctx.generate(in_rp.port.id, icmp_echo_reply(m, in_rp.mac, m.ip_dst))
        return _ECHO_ANSWERED
    return _FOR_ROUTER


def _icmp_error(ctx: Context, rp: RouterPort, time_exceeded: bool) -> None:
    """Send time exceeded (``time_exceeded``) or net unreachable back out of ``rp``."""
    m = ctx.match
    ctx.wc |= _ICMP  # whether an error is sent depends on it
    if rp.mac is None or rp.ip is None:
        return
    if m.ip_proto == PROTO_ICMP and m.icmp_type not in (0, 8):
        return  # no errors about errors
    if time_exceeded:
        frame = icmp_time_exceeded(m, rp.mac, rp.ip)
    else:
        frame = icmp_unreachable(ICMP_NET_UNREACHABLE, m, rp.mac, rp.ip)
    ctx.generate(rp.port.id, frame)
