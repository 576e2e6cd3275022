"""The bridge (a ``Network``): VLAN-aware MAC learning, flooding, ARP suppression.

Behaviour, following MidoNet's ``Bridge``:

* VLANs: a port with ``vlan_id`` is an access port: untagged frames entering
  it belong to that VLAN, frames leaving it lose their tag, and a frame tagged
  with another VLAN entering it is dropped. A port without ``vlan_id`` is a
  trunk: tags pass unchanged. MAC tables are per (network, vlan).
* Learning: the source MAC of a unicast frame entering an exterior port is
  learned (reported in ``learned``); if the table maps it to another port the
  MAC moved and the entry is overwritten. Interior ports (links to routers)
  are never learned: their MACs are known from the topology.
* Forwarding: router port MACs first, then the MAC table, else flood to every
  exterior port of the frame's VLAN except the ingress port. A frame whose
  destination is on its own ingress port is dropped.
* ARP requests for a router port's IP go to that router only; for an IP in
  the network's IPv4->MAC table the bridge answers itself (suppression).
* DHCP from exterior ports of a network with ``Dhcp`` subnets is answered
  first (see :mod:`dhcp`), then the inbound filter runs, then the forwarding
  decision, then the outbound filter.
"""
from __future__ import annotations

import uuid
from typing import Any

from midonet_ryu.simulation import dhcp, tags
from midonet_ryu.simulation.addr import BROADCAST_MAC, ip_to_int, normalize_mac
from midonet_ryu.simulation.cache import deps_of
from midonet_ryu.simulation.chains import run_filter
from midonet_ryu.simulation.context import Context
from midonet_ryu.simulation.packet import ARP_REQUEST, ETH_ARP, ETH_IPV4, FIELD_BIT
from midonet_ryu.simulation.packet_builders import arp_reply
from midonet_ryu.simulation.result import MacLearned
from midonet_ryu.simulation.steps import Consumed, Drop, Flood, Step, ToDevicePort
from midonet_ryu.topology.model import Network, Port

_ETH_SRC = FIELD_BIT["eth_src"]
_ETH_DST = FIELD_BIT["eth_dst"]
_VLAN = FIELD_BIT["vlan_id"]
_ARP_REQ_FIELDS = FIELD_BIT["eth_type"] | FIELD_BIT["arp_op"] | FIELD_BIT["arp_tpa"]
_ETH_TYPE = FIELD_BIT["eth_type"]


_NETWORK_DOWN = Drop(None, "network is administratively down")
_HAIRPIN = Drop(None, "destination MAC is on the ingress port")
_ARP_SUPPRESSED = Consumed("ARP request answered from the IPv4->MAC table")


class CompiledBridge:
    """A network's ports arranged for O(1) forwarding decisions.

    ``router_macs`` and ``router_ips`` map a router's MAC or address to the
    step towards the bridge port linked to it, built once here rather than
    on every packet.
    """

    __slots__ = ("network", "router_macs", "router_ips", "exterior", "_flood")

    def __init__(self, network: Network, router_macs: dict[str, ToDevicePort],
                 router_ips: dict[int, ToDevicePort], exterior: tuple[Port, ...]) -> None:
        self.network = network
        self.router_macs = router_macs
        self.router_ips = router_ips
        self.exterior = exterior
        self._flood: dict[int | None, tuple[Port, ...]] = {}

    def flood_ports(self, vlan: int | None) -> tuple[Port, ...]:
        """Exterior ports carrying ``vlan``: trunks, and access ports of that VLAN."""
        ports = self._flood.get(vlan)
        if ports is None:
            ports = tuple(p for p in self.exterior if p.vlan_id is None or p.vlan_id == vlan)
            if len(self._flood) < 4096:
                self._flood[vlan] = ports
        return ports


def compile_bridge(ctx: Context, network: Network) -> CompiledBridge:
    def build() -> tuple[CompiledBridge, Any]:
        get = ctx.topology.get
        router_macs: dict[str, ToDevicePort] = {}
        router_ips: dict[int, ToDevicePort] = {}
        exterior: list[Port] = []
        seen: list[Any] = [network]
        for pid in network.port_ids:
            port = get(Port, pid)
            if port is None:
                continue
            seen.append(port)
            if port.peer_id is not None:
                peer = get(Port, port.peer_id)
                seen.append(peer)
                if peer is not None and peer.router_id is not None:
                    step = ToDevicePort(port)
                    if peer.port_mac:
                        router_macs[normalize_mac(peer.port_mac)] = step
                    if peer.port_address:
                        router_ips[ip_to_int(peer.port_address)] = step
            elif port.is_exterior:
                exterior.append(port)
        compiled = CompiledBridge(network, router_macs, router_ips, tuple(exterior))
        return compiled, deps_of(seen)

    return ctx.cache.get(("bridge", network.id), build)


def process(ctx: Context, network: Network, in_port: Port) -> Step:
    """Simulate ``ctx.match`` entering ``network`` through ``in_port``.

    Returns a step (:mod:`steps`): ``ToDevicePort``, ``Flood`` (the exterior
    ports of the frame's VLAN but the ingress one), ``Drop`` or ``Consumed``.
    """
    match = ctx.match
    nid = network.id
    ctx.tags.add(tags.device(nid))
    if not network.admin_state_up:
        return _NETWORK_DOWN
    bridge = compile_bridge(ctx, network)

    # VLAN of the frame inside the bridge.
    ctx.wc |= _VLAN
    vlan = match.vlan_id
    if in_port.vlan_id is not None:
        if vlan is None:
            vlan = match.vlan_id = in_port.vlan_id
            ctx.written |= _VLAN
        elif vlan != in_port.vlan_id:
            return Drop(None, f"VLAN {vlan} on access port of VLAN {in_port.vlan_id}")

    # DHCP is answered by the agent, before any filter (as MidoNet does).
    if network.dhcp_ids and in_port.peer_id is None:
        ctx.wc |= _ETH_TYPE
        if match.eth_type == ETH_IPV4 and dhcp.is_dhcp_request(ctx):
            answered = dhcp.answer(ctx, network, in_port.id,
                                   None if in_port.vlan_id is not None else match.vlan_id)
            if answered is not None:
                return answered

    # Inbound filter of the bridge.
    if network.inbound_filter_id is not None:
        verdict = ctx_filter(ctx, network.inbound_filter_id, network.id, "device-inbound")
        if verdict is not None:
            return verdict

    src = match.eth_src
    dst = match.eth_dst
    ctx.wc |= _ETH_SRC | _ETH_DST
    if in_port.peer_id is None and int(src[1], 16) & 1 == 0:
        learned_port = ctx.state.mac_table(nid, vlan).get(src)
        if learned_port != in_port.id:
            _learn(ctx, nid, vlan, src, in_port.id, learned_port)
        else:
            # already known: reported all the same, since the agent ages an
            # entry by the flows simulated from it (nothing is written)
            ctx.learned.append(MacLearned(nid, vlan, src, in_port.id))

    out: ToDevicePort | None  # None: flood, once the outbound filter let it go
    if dst == BROADCAST_MAC and match.eth_type == ETH_ARP:
        ctx.wc |= _ARP_REQ_FIELDS
        if match.arp_op == ARP_REQUEST:
            step = _arp_request(ctx, bridge, in_port, vlan)
            if step is not None:
                return step
        out = None
    elif int(dst[1], 16) & 1:
        ctx.wc |= _ETH_TYPE
        out = None
    else:
        out = bridge.router_macs.get(dst)
        if out is None:
            ctx.tags.add(tags.mac_entry(nid, vlan, dst))
            pid = ctx.state.mac_table(nid, vlan).get(dst)
            if pid is not None:
                if pid == in_port.id:
                    return _hairpin(ctx, bridge, vlan)
                port = ctx.topology.get(Port, pid)
                if port is not None and _carries(port, nid, vlan):
                    out = ToDevicePort(port)
                # else a stale entry (port gone, moved or of another VLAN): flood
    if ctx.trace is not None:
        _trace_lookup(ctx, bridge, vlan, out, "")

    if network.outbound_filter_id is not None:
        ctx.out_port = None if out is None else out.port.id
        verdict = ctx_filter(ctx, network.outbound_filter_id, network.id, "device-outbound")
        if verdict is not None:
            return verdict
    if out is None:
        ctx.tags.add(tags.flood(nid, vlan))
        ctx.tags.add(tags.floods(nid))
        return Flood(tuple(p for p in bridge.flood_ports(vlan) if p.id != in_port.id))
    return out


def _learn(ctx: Context, nid: uuid.UUID, vlan: int | None, mac: str, port_id: uuid.UUID,
           previous: uuid.UUID | None) -> None:
    """Report ``mac`` as learned on ``port_id`` (apart: rarely run, and traced)."""
    ctx.learned.append(MacLearned(nid, vlan, mac, port_id))
    if ctx.trace is not None:
        ctx.trace.append(("mac-learn", {"mac": mac, "vlan": vlan, "port": port_id,
                                        "previous": previous}))


def _hairpin(ctx: Context, bridge: CompiledBridge, vlan: int | None) -> Drop:
    """The destination is on the ingress port: drop (apart: rare, and traced)."""
    if ctx.trace is not None:
        _trace_lookup(ctx, bridge, vlan, None, "hairpin")
    return _HAIRPIN


def _trace_lookup(ctx: Context, bridge: CompiledBridge, vlan: int | None,
                  out: ToDevicePort | None, result: str) -> None:
    """Record the forwarding decision just taken (traces only).

    Rebuilt from what ``process`` decided rather than recorded at each of its
    branches, so the packet path keeps a single test for it: the MAC table is
    read again (reads have no side effects) to tell a miss from a stale entry.
    """
    m = ctx.match
    dst = m.eth_dst
    assert ctx.trace is not None
    pid = None if out is None else out.port.id
    if result:
        pid = ctx.in_port
    elif dst == BROADCAST_MAC:
        result = "broadcast"
    elif int(dst[1], 16) & 1:
        result = "multicast"
    elif out is not None:
        result = "router-port" if bridge.router_macs.get(dst) is out else "hit"
    else:
        pid = ctx.state.mac_table(bridge.network.id, vlan).get(dst)
        result = "miss" if pid is None else "stale"
    ctx.trace.append(("mac-lookup", {"mac": dst, "vlan": vlan, "result": result,
                                     "port": pid}))


def _carries(port: Port, network_id: uuid.UUID, vlan: int | None) -> bool:
    """Whether ``port`` is a port of the network that carries ``vlan``."""
    return port.network_id == network_id and (port.vlan_id is None or port.vlan_id == vlan)


def _arp_request(ctx: Context, bridge: CompiledBridge, in_port: Port,
                 vlan: int | None) -> ToDevicePort | Consumed | None:
    """Send a request for a router's address to that router, answer one for
    a known address; None to flood it."""
    match = ctx.match
    tpa = match.arp_tpa
    to_router = bridge.router_ips.get(tpa)
    trace = ctx.trace
    if to_router is not None:
        if trace is not None:
            trace.append(("arp-suppress", {"targetIp": tpa, "result": "router-port",
                                           "port": to_router.port.id}))
        return to_router
    nid = bridge.network.id
    ctx.tags.add(tags.ip4_mac_entry(nid, tpa))
    mac = ctx.state.ip4_mac_table(nid).get(tpa)
    if trace is not None:
        trace.append(("arp-suppress", {"targetIp": tpa, "mac": mac,
                                       "result": "miss" if mac is None else "answered"}))
    if mac is None:
        return None
    ctx.wc |= FIELD_BIT["arp_spa"] | FIELD_BIT["arp_sha"]
    out_vlan = match.vlan_id if in_port.vlan_id is None else None
    reply = arp_reply(mac, tpa, match.arp_sha or match.eth_src, match.arp_spa or 0, out_vlan)
    ctx.generate(in_port.id, reply)
    return _ARP_SUPPRESSED


def ctx_filter(ctx: Context, chain_id: uuid.UUID, device_id: uuid.UUID,
               hook: str = "") -> Drop | None:
    """Run a filter chain; None to continue, else the drop that ends the path
    (``hook`` names the filter in traces)."""
    return run_filter(ctx, chain_id, device_id, hook)
