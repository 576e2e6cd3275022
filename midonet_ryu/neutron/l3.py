"""Routers and floating IPs.

A router has a pre-routing (inbound) and a post-routing (outbound) chain.
Each first jumps to a chain of the router's floating IPs, so a floating IP's
static NAT wins over the gateway's SNAT whatever order they were made in;
then, when the gateway has SNAT on, the outbound chain masquerades what
leaves by the gateway port as the gateway address and the inbound chain
reverses it for replies. The gateway port itself, its address and default
route come from the gateway port's own translation (:mod:`l2`), as an
interface's do. Extra routes leave by the interface whose subnet holds the
next hop.

A floating IP associated with a port is a static DNAT of its address to the
port's fixed IP before routing, a static SNAT of that fixed IP leaving by
the gateway after, and an IPv4-to-MAC entry on the external network so the
external bridge answers ARP for it with the gateway port's MAC.
"""
from __future__ import annotations

import ipaddress
import uuid
from typing import Any

from midonet_ryu.neutron.desired import Desired, Ip4Mac
from midonet_ryu.neutron.errors import TranslationError
from midonet_ryu.neutron.ids import as_uuid, derived
from midonet_ryu.neutron.inputs import Inputs
from midonet_ryu.neutron.l2 import ETH_IPV4, ipv4, ipv4_cidr, name_of, tenant_of
from midonet_ryu.topology.model import Port
from midonet_ryu.topology.router import NextHop, Route, Router
from midonet_ryu.topology.rules import (
    Chain,
    Condition,
    NatRuleData,
    NatTarget,
    Rule,
    RuleAction,
    RuleType,
)

SNAT_PORTS = (1024, 65535)


def chains_of(router_id: uuid.UUID) -> dict[str, uuid.UUID]:
    return {role: derived(router_id, role)
            for role in ("inbound", "outbound", "fip-inbound", "fip-outbound")}


def _nat(rule_id: uuid.UUID, chain: uuid.UUID, data: NatRuleData, **condition: Any) -> Rule:
    return Rule(id=rule_id, chain_id=chain, type=RuleType.NAT_RULE, action=RuleAction.ACCEPT,
                condition=Condition(**condition), nat_rule_data=data)


def router(body: dict[str, Any], inputs: Inputs) -> Desired:
    router_id = as_uuid(body.get("id"), "id")
    tenant = tenant_of(body)
    chains = chains_of(router_id)
    out = Desired()
    for role, chain_id in chains.items():
        out.add(Chain(id=chain_id, name=f"OS_ROUTER_{router_id}_{role.upper()}",
                      tenant_id=tenant))
    out.add(Router(id=router_id, name=name_of(body), tenant_id=tenant,
                   admin_state_up=bool(body.get("admin_state_up", True)),
                   inbound_filter_id=chains["inbound"], outbound_filter_id=chains["outbound"]))
    for direction in ("inbound", "outbound"):
        out.add(Rule(id=derived(router_id, f"jump/fip-{direction}"), chain_id=chains[direction],
                     type=RuleType.JUMP_RULE, action=RuleAction.JUMP,
                     jump_chain_id=chains[f"fip-{direction}"]))
    gateway = body.get("external_gateway_info") or {}
    gw_port = body.get("gw_port_id")
    if gateway and gw_port and gateway.get("enable_snat", True):
        addresses = [f.get("ip_address") for f in gateway.get("external_fixed_ips") or ()
                     if ":" not in str(f.get("ip_address"))]
    else:
        addresses = []
    # A gateway on an external network without an IPv4 subnet has no
    # address to SNAT to (its port has no router side either, see l2).
    if addresses:
        address = ipv4(addresses[0], "external_fixed_ips")
        router_port = derived(as_uuid(gw_port, "gw_port_id"), "router-port")
        low, high = SNAT_PORTS
        out.add(_nat(derived(router_id, "snat"), chains["outbound"],
                     NatRuleData(nat_targets=(NatTarget(address, address, low, high),)),
                     out_port_ids=(router_port,), dl_type=ETH_IPV4),
                _nat(derived(router_id, "reverse-snat"), chains["inbound"],
                     NatRuleData(reverse=True), in_port_ids=(router_port,),
                     nw_dst_ip=f"{address}/32", dl_type=ETH_IPV4))
    for extra in body.get("routes") or ():
        destination = ipv4_cidr(extra.get("destination"), "routes destination")
        nexthop = ipv4(extra.get("nexthop"), "routes nexthop")
        port = _port_towards(router_id, nexthop, inputs)
        if port is None:
            # Neutron keeps a route whose next hop's interface (the gateway
            # most often) was removed; it routes nothing until an interface
            # on that subnet comes back, and the router is sent again then.
            continue
        out.add(Route(id=derived(router_id, f"route/{destination}/{nexthop}"),
                      router_id=router_id, dst_subnet=destination, next_hop=NextHop.PORT,
                      next_hop_port_id=port, next_hop_gateway=nexthop))
    return out


def _port_towards(router_id: uuid.UUID, nexthop: str, inputs: Inputs) -> uuid.UUID | None:
    found = inputs.find(Router, router_id)
    address = ipaddress.IPv4Address(nexthop)
    for port_id in found.port_ids if found else ():
        port = inputs.find(Port, port_id)
        if port and port.port_subnet and address in ipaddress.IPv4Network(port.port_subnet):
            return port_id
    return None


def floating_ip(body: dict[str, Any], inputs: Inputs) -> Desired:
    fip_id = as_uuid(body.get("id"), "id")
    if not (body.get("port_id") and body.get("router_id") and body.get("fixed_ip_address")):
        return Desired()  # not associated: nothing to translate
    router_id = as_uuid(body["router_id"], "router_id")
    address = ipv4(body.get("floating_ip_address"), "floating_ip_address")
    fixed = ipv4(body["fixed_ip_address"], "fixed_ip_address")
    external = as_uuid(body.get("floating_network_id"), "floating_network_id")
    gateway = _gateway_on(router_id, external, inputs)
    chains = chains_of(router_id)
    out = Desired()
    out.add(_nat(derived(fip_id, "dnat"), chains["fip-inbound"],
                 NatRuleData(dnat=True, nat_targets=(NatTarget(fixed, fixed),)),
                 nw_dst_ip=f"{address}/32", dl_type=ETH_IPV4),
            _nat(derived(fip_id, "snat"), chains["fip-outbound"],
                 NatRuleData(nat_targets=(NatTarget(address, address),)),
                 nw_src_ip=f"{fixed}/32", out_port_ids=(gateway.id,), dl_type=ETH_IPV4))
    if gateway.port_mac:
        out.contributions.add(Ip4Mac(external, address, gateway.port_mac))
    return out


def _gateway_on(router_id: uuid.UUID, network_id: uuid.UUID, inputs: Inputs) -> Port:
    found = inputs.find(Router, router_id)
    if found is None:
        raise TranslationError(f"router {router_id} is unknown")
    for port_id in found.port_ids:
        port = inputs.find(Port, port_id)
        peer = inputs.find(Port, port.peer_id) if port and port.peer_id else None
        if port and peer and peer.network_id == network_id:
            return port
    raise TranslationError(f"router {router_id} has no gateway on network {network_id}")
