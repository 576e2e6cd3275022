"""Networks, subnets and ports.

* network -> bridge; a flat or VLAN provider network also gets a bridge port
  on each gateway host's uplink interface for its physical network.
* subnet -> the bridge's DHCP subnet (gateway, DNS servers, MTU, host routes
  as option 121). IPv4 only: an IPv6 subnet is refused, not half served.
* port -> bridge port (on a VLAN provider network an access port of the
  segment), its addresses as DHCP hosts and IPv4-to-MAC entries (so the
  bridge answers ARP for them), and with port security two filter chains:
  traffic from the VM must come from one of its (MAC, IP) pairs or allowed
  address pairs, then passes its security groups' egress rules; traffic to
  the VM passes their ingress rules; replies of accepted connections pass
  both ways (conntrack), and anything else is dropped.
* a router interface or gateway port -> the bridge port linked to a router
  port holding the address (see :mod:`l3` for the router itself).
"""
from __future__ import annotations

import ipaddress
import uuid
from typing import Any

from midonet_ryu.neutron.desired import Desired, DhcpHostEntry, GroupMember, Ip4Mac
from midonet_ryu.neutron.errors import TranslationError
from midonet_ryu.neutron.ids import as_uuid, derived
from midonet_ryu.neutron.inputs import Inputs
from midonet_ryu.topology.dhcp import Dhcp, DhcpRoute
from midonet_ryu.topology.model import Network, Port
from midonet_ryu.topology.router import NextHop, Route, Router
from midonet_ryu.topology.rules import Chain, Condition, PortRange, Rule, RuleAction, RuleType

ETH_IPV4, ETH_ARP = 0x0800, 0x0806
UDP = 17
NETWORK_TYPES = ("local", "flat", "vlan", "vxlan", "geneve", "gre")
ROUTER_OWNERS = ("network:router_interface", "network:router_gateway",
                 "network:router_interface_distributed")
# ports whose traffic no agent carries here: a floating IP's address is the
# router's (l3.floating_ip); DHCP is answered by the agents themselves
IGNORED_OWNERS = ("network:floatingip", "network:dhcp", "network:router_ha_interface")
MAX_HOST_ROUTES = 27  # option 121 is at most 255 bytes, a route at most 9


def tenant_of(body: dict[str, Any]) -> str:
    return str(body.get("tenant_id") or body.get("project_id") or "")


def name_of(body: dict[str, Any]) -> str:
    return str(body.get("name") or "")[:255]


def ipv4(value: Any, what: str) -> str:
    try:
        return str(ipaddress.IPv4Address(str(value)))
    except ValueError:
        raise TranslationError(f"{what}: {value!r} is not an IPv4 address") from None


def ipv4_cidr(value: Any, what: str) -> str:
    """A network in CIDR form; a bare address is its /32."""
    try:
        return str(ipaddress.IPv4Network(str(value), strict=False))
    except ValueError:
        raise TranslationError(f"{what}: {value!r} is not an IPv4 prefix") from None


def segment(network: dict[str, Any]) -> tuple[str | None, str | None, int | None]:
    """(network type, physical network, VLAN id) of a network's only segment."""
    ntype = network.get("provider:network_type")
    if ntype is None and network.get("segments"):
        first = network["segments"][0]
        ntype = first.get("provider:network_type")
        network = first
    if ntype is not None and ntype not in NETWORK_TYPES:
        raise TranslationError(f"network type {ntype!r} is not supported "
                               f"(supported: {', '.join(NETWORK_TYPES)})")
    vlan = network.get("provider:segmentation_id") if ntype == "vlan" else None
    if vlan is not None and not 1 <= int(vlan) <= 4094:
        raise TranslationError(f"VLAN {vlan} is out of range 1-4094")
    return ntype, network.get("provider:physical_network"), (
        int(vlan) if vlan is not None else None)


def network(body: dict[str, Any], inputs: Inputs) -> Desired:
    net_id = as_uuid(body.get("id"), "id")
    out = Desired()
    out.add(Network(id=net_id, name=name_of(body), tenant_id=tenant_of(body),
                    admin_state_up=bool(body.get("admin_state_up", True))))
    ntype, physnet, _vlan = segment(body)
    if ntype in ("flat", "vlan") and physnet:
        for uplink in inputs.uplinks:
            host_id = inputs.hosts.get(uplink.host)
            if uplink.physnet != physnet or host_id is None:
                continue  # a gateway without an agent yet: the next sync binds it
            # a trunk: on a VLAN network the VM ports are the segment's access ports
            out.add(Port(id=derived(net_id, f"uplink/{uplink.host}/{uplink.interface}"),
                         name=f"uplink {uplink.host}:{uplink.interface}", network_id=net_id,
                         host_id=host_id, interface_name=uplink.interface))
    return out


def subnet(body: dict[str, Any], inputs: Inputs) -> Desired:
    subnet_id = as_uuid(body.get("id"), "id")
    if int(body.get("ip_version", 4)) != 4:
        raise TranslationError(f"subnet {subnet_id} is IPv{body.get('ip_version')}: "
                               "midonet-ryu supports IPv4 subnets only")
    net_id = as_uuid(body.get("network_id"), "network_id")
    net = inputs.body("networks", net_id)
    if net is None:
        raise TranslationError(f"subnet {subnet_id}: network {net_id} is unknown")
    cidr = ipv4_cidr(body.get("cidr"), "cidr")
    gateway = body.get("gateway_ip")
    gateway = ipv4(gateway, "gateway_ip") if gateway else None
    dns = tuple(ipv4(d, "dns_nameservers") for d in body.get("dns_nameservers") or ())
    routes = [DhcpRoute(ipv4_cidr(r.get("destination"), "host_routes destination"),
                        ipv4(r.get("nexthop"), "host_routes nexthop"))
              for r in body.get("host_routes") or ()]
    if len(routes) > MAX_HOST_ROUTES:
        raise TranslationError(f"subnet {subnet_id}: {len(routes)} host routes, at most "
                               f"{MAX_HOST_ROUTES} fit in DHCP option 121")
    if routes and gateway and not any(r.dest == "0.0.0.0/0" for r in routes):
        # a client given option 121 ignores option 3 (RFC 3442)
        routes.insert(0, DhcpRoute("0.0.0.0/0", gateway))
    net_addr = ipaddress.IPv4Network(cidr)
    server = gateway or str(net_addr.broadcast_address - 1 if net_addr.prefixlen < 31
                            else net_addr.network_address)
    out = Desired()
    out.add(Dhcp(id=subnet_id, network_id=net_id, subnet_address=cidr, server_address=server,
                 default_gateway=gateway, dns_server_address=dns,
                 interface_mtu=int(net.get("mtu") or 0),
                 enabled=bool(body.get("enable_dhcp", True)),
                 opt121_routes=tuple(routes)))
    out.kept[subnet_id] = ("hosts",)  # the ports' contributions
    return out


def _fixed_ips(body: dict[str, Any], inputs: Inputs) -> list[tuple[uuid.UUID, str, str]]:
    """(subnet id, address, subnet CIDR) of each IPv4 fixed IP."""
    out = []
    for fixed in body.get("fixed_ips") or ():
        subnet_id = as_uuid(fixed.get("subnet_id"), "fixed_ips subnet_id")
        sub = inputs.body("subnets", subnet_id)
        if sub is None:
            raise TranslationError(f"port {body.get('id')}: subnet {subnet_id} is unknown")
        out.append((subnet_id, ipv4(fixed.get("ip_address"), "fixed_ips ip_address"),
                    ipv4_cidr(sub.get("cidr"), "cidr")))
    return out


def port(body: dict[str, Any], inputs: Inputs) -> Desired:
    port_id = as_uuid(body.get("id"), "id")
    owner = str(body.get("device_owner") or "")
    if owner in IGNORED_OWNERS:
        return Desired()
    net_id = as_uuid(body.get("network_id"), "network_id")
    net = inputs.body("networks", net_id)
    if net is None:
        raise TranslationError(f"port {port_id}: network {net_id} is unknown")
    _ntype, _physnet, vlan = segment(net)
    if owner in ROUTER_OWNERS and body.get("device_id"):
        return _router_port(body, port_id, net_id, vlan, owner, inputs)
    return _vm_port(body, port_id, net_id, vlan, inputs)


def _router_port(body: dict[str, Any], port_id: uuid.UUID, net_id: uuid.UUID,
                 vlan: int | None, owner: str, inputs: Inputs) -> Desired:
    router_id = as_uuid(body.get("device_id"), "device_id")
    if inputs.find(Router, router_id) is None:
        raise TranslationError(f"port {port_id}: router {router_id} is unknown")
    fixed = _fixed_ips(body, inputs)
    name, up = name_of(body), bool(body.get("admin_state_up", True))
    network_side = Port(id=port_id, name=name, network_id=net_id, vlan_id=vlan,
                        admin_state_up=up)
    out = Desired()
    if not fixed:
        # a gateway on an external network without an IPv4 subnet: the
        # router has no address there, so only the network's side exists
        out.add(network_side)
        return out
    subnet_id, address, cidr = fixed[0]
    router_port = derived(port_id, "router-port")
    out.add(network_side.replace(peer_id=router_port),
            Port(id=router_port, name=name, router_id=router_id, peer_id=port_id,
                 port_address=address, port_subnet=cidr, port_mac=str(body["mac_address"]),
                 admin_state_up=up))
    sub = inputs.body("subnets", subnet_id) or {}
    if owner == "network:router_gateway" and sub.get("gateway_ip"):
        out.add(Route(id=derived(port_id, "default-route"), router_id=router_id,
                      dst_subnet="0.0.0.0/0", next_hop=NextHop.PORT,
                      next_hop_port_id=router_port,
                      next_hop_gateway=ipv4(sub["gateway_ip"], "gateway_ip")))
    return out


def _vm_port(body: dict[str, Any], port_id: uuid.UUID, net_id: uuid.UUID,
             vlan: int | None, inputs: Inputs) -> Desired:
    mac = str(body.get("mac_address") or "")
    fixed = _fixed_ips(body, inputs)
    host = str(body.get("binding:host_id") or "")
    out = Desired()
    secure = bool(body.get("port_security_enabled", True))
    groups = [as_uuid(g, "security_groups") for g in body.get("security_groups") or ()]
    from_vm, to_vm = (_port_filters(out, body, port_id, mac, fixed, groups) if secure
                      else (None, None))
    out.add(Port(id=port_id, name=name_of(body), network_id=net_id, vlan_id=vlan,
                 admin_state_up=bool(body.get("admin_state_up", True)),
                 host_id=inputs.hosts.get(host) if host else None,
                 inbound_filter_id=from_vm, outbound_filter_id=to_vm))
    for subnet_id, address, _cidr in fixed:
        out.contributions.add(DhcpHostEntry(subnet_id, mac, address))
        out.contributions.add(Ip4Mac(net_id, address, mac))
        for group in groups:
            out.contributions.add(GroupMember(group, address, port_id))
    return out


def _rule(rule_id: uuid.UUID, chain: uuid.UUID, action: RuleAction,
          jump_to: uuid.UUID | None = None, **condition: Any) -> Rule:
    return Rule(id=rule_id, chain_id=chain, action=action,
                type=RuleType.JUMP_RULE if jump_to else RuleType.LITERAL_RULE,
                jump_chain_id=jump_to, condition=Condition(**condition))


def _port_filters(out: Desired, body: dict[str, Any], port_id: uuid.UUID, mac: str,
                  fixed: list[tuple[uuid.UUID, str, str]],
                  groups: list[uuid.UUID]) -> tuple[uuid.UUID, uuid.UUID]:
    """The chains from and to the VM (see the module's docstring)."""
    tenant = tenant_of(body)
    from_vm, to_vm = derived(port_id, "inbound"), derived(port_id, "outbound")
    egress = derived(port_id, "egress-groups")
    out.add(Chain(id=from_vm, name=f"OS_PORT_{port_id}_INBOUND", tenant_id=tenant),
            Chain(id=egress, name=f"OS_PORT_{port_id}_EGRESS_GROUPS", tenant_id=tenant),
            Chain(id=to_vm, name=f"OS_PORT_{port_id}_OUTBOUND", tenant_id=tenant))
    pairs = [(mac, f"{address}/32") for _s, address, _c in fixed]
    for pair in body.get("allowed_address_pairs") or ():
        pairs.append((str(pair.get("mac_address") or mac),
                      ipv4_cidr(pair.get("ip_address"), "allowed_address_pairs ip_address")))
    rules: list[Rule] = []
    # from the VM: only its own (MAC, source) pairs go on to its groups' rules
    for pair_mac, cidr in pairs:
        rules.append(_rule(derived(port_id, f"in/ip/{pair_mac}/{cidr}"), from_vm,
                           RuleAction.JUMP, egress, dl_src=pair_mac, dl_type=ETH_IPV4,
                           nw_src_ip=cidr))
    for pair_mac in dict.fromkeys(m for m, _ in pairs or [(mac, "")]):
        rules.append(_rule(derived(port_id, f"in/arp/{pair_mac}"), from_vm, RuleAction.ACCEPT,
                           dl_src=pair_mac, dl_type=ETH_ARP))
        # a DHCP client asks before it has an address (the filter runs before
        # the bridge's DHCP server answers)
        rules.append(_rule(derived(port_id, f"in/dhcp/{pair_mac}"), from_vm,
                           RuleAction.ACCEPT, dl_src=pair_mac, dl_type=ETH_IPV4,
                           nw_proto=UDP, tp_src=PortRange(68, 68), tp_dst=PortRange(67, 67)))
    rules.append(_rule(derived(port_id, "in/drop"), from_vm, RuleAction.DROP))
    for chain, direction, role in ((egress, "egress", "egress"), (to_vm, "ingress", "out")):
        rules.append(_rule(derived(port_id, f"{role}/return"), chain, RuleAction.ACCEPT,
                           match_return_flow=True))
        if chain == to_vm:
            rules.append(_rule(derived(port_id, "out/arp"), chain, RuleAction.ACCEPT,
                               dl_type=ETH_ARP))
        for group in groups:
            rules.append(_rule(derived(port_id, f"{role}/group/{group}"), chain,
                               RuleAction.JUMP, derived(group, direction)))
        rules.append(_rule(derived(port_id, f"{role}/drop"), chain, RuleAction.DROP))
    out.add(*rules)
    return from_vm, to_vm
