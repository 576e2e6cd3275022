"""A small builder for scenario topologies (tests, benchmarks, agent tests).

It builds real model objects with their back-references filled in, the way
the store would, so the engine sees exactly what it sees in production::

    s = Scenario()
    net = s.network()
    a, b = s.vm_port(net), s.vm_port(net)
    result = s.simulate(s.frame_udp(a, b))
"""
from __future__ import annotations

import dataclasses
import itertools
import uuid
from typing import Any

from midonet_ryu.simulation import packet_builders
from midonet_ryu.simulation.addr import ip_to_int
from midonet_ryu.simulation.cache import VersionedSnapshot
from midonet_ryu.simulation.engine import simulate
from midonet_ryu.simulation.packet import FlowMatch, parse_frame
from midonet_ryu.simulation.result import SimulationResult
from midonet_ryu.simulation.state import InMemoryState
from midonet_ryu.topology.base import ModelObject
from midonet_ryu.topology.model import Network, Port
from midonet_ryu.topology.router import NextHop, Route, Router
from midonet_ryu.topology.rules import Chain, Rule

_HOST = uuid.UUID(int=1)


@dataclasses.dataclass
class VM:
    """An exterior port with the MAC and IP of the VM behind it."""

    port_id: uuid.UUID
    mac: str
    ip: int


class Scenario:
    def __init__(self, versioned: bool = True) -> None:
        self.topology = VersionedSnapshot() if versioned else _plain()
        self.state = InMemoryState()
        self.now = 1000.0
        self._macs = itertools.count(1)

    # --- objects ------------------------------------------------------------

    def put(self, obj: ModelObject) -> Any:
        self.topology.put(obj)
        return obj

    def get(self, cls: type, obj_id: uuid.UUID) -> Any:
        return self.topology.get(cls, obj_id)

    def update(self, obj: ModelObject, **changes: Any) -> Any:
        current = self.topology.get(type(obj), obj.id)
        return self.put(current.replace(**changes))

    def _append(self, cls: type, obj_id: uuid.UUID, field: str, value: uuid.UUID) -> None:
        obj = self.topology.get(cls, obj_id)
        self.put(obj.replace(**{field: getattr(obj, field) + (value,)}))

    def network(self, **fields: Any) -> Network:
        return self.put(Network(id=uuid.uuid4(), **fields))

    def port(self, network: Network | None = None, **fields: Any) -> Port:
        port = Port(id=uuid.uuid4(), network_id=network.id if network else None, **fields)
        self.put(port)
        if network is not None:
            self._append(Network, network.id, "port_ids", port.id)
        return port

    def next_mac(self) -> str:
        n = next(self._macs)
        return "02:00:" + ":".join(f"{n >> s & 255:02x}" for s in (24, 16, 8, 0))

    def vm_port(self, network: Network, ip: str | None = None, **fields: Any) -> VM:
        """An exterior (bound) port on ``network`` with a fresh MAC."""
        port = self.port(network, host_id=_HOST, interface_name="tap", **fields)
        return VM(port.id, self.next_mac(), ip_to_int(ip) if ip else 0)

    def link(self, a: uuid.UUID, b: uuid.UUID) -> None:
        self.update(self.get(Port, a), peer_id=b)
        self.update(self.get(Port, b), peer_id=a)

    def router(self, **fields: Any) -> Router:
        return self.put(Router(id=uuid.uuid4(), **fields))

    def router_port(self, router: Router, address: str, subnet: str,
                    mac: str | None = None, **fields: Any) -> Port:
        port = Port(id=uuid.uuid4(), router_id=router.id, port_address=address,
                    port_subnet=subnet, port_mac=mac or self.next_mac(), **fields)
        self.put(port)
        self._append(Router, router.id, "port_ids", port.id)
        return port

    def attach(self, router: Router, network: Network, address: str, subnet: str) -> Port:
        """A router port on ``subnet`` linked to a new port of ``network``."""
        rport = self.router_port(router, address, subnet)
        bport = self.port(network)
        self.link(rport.id, bport.id)
        return self.get(Port, rport.id)

    def route(self, router: Router, dst: str, port: Port | None = None,
              gateway: str | None = None, next_hop: NextHop = NextHop.PORT,
              weight: int = 100, src: str = "0.0.0.0/0") -> Route:
        route = Route(id=uuid.uuid4(), router_id=router.id, dst_subnet=dst, src_subnet=src,
                      next_hop=next_hop, next_hop_port_id=port.id if port else None,
                      next_hop_gateway=gateway, weight=weight)
        self.put(route)
        self._append(Router, router.id, "route_ids", route.id)
        return route

    def chain(self, *rules: Rule, **fields: Any) -> Chain:
        chain = Chain(id=uuid.uuid4(), **fields)
        ids = []
        for rule in rules:
            self.put(rule.replace(chain_id=chain.id))
            ids.append(rule.id)
        return self.put(chain.replace(rule_ids=tuple(ids)))

    def arp(self, router: Router, ip: str, mac: str) -> None:
        self.state.set_arp(router.id, ip_to_int(ip), mac)

    # --- traffic ------------------------------------------------------------

    def learn(self, network: Network, vm: VM, vlan: int | None = None) -> None:
        self.state.learn_mac(network.id, vlan, vm.mac, vm.port_id)

    def udp(self, src: VM, dst_mac: str, dst_ip: int, sport: int = 1000, dport: int = 53,
            ttl: int = 64, vlan_id: int | None = None) -> FlowMatch:
        frame = packet_builders.udp_frame(src.mac, dst_mac, src.ip, dst_ip, sport, dport, b"x", ttl,
                                 vlan_id)
        return parse_frame(frame, src.port_id)

    def tcp(self, src: VM, dst_mac: str, dst_ip: int, sport: int = 1000, dport: int = 80,
            ttl: int = 64, vlan_id: int | None = None, frag: int = 0) -> FlowMatch:
        frame = packet_builders.tcp_frame(src.mac, dst_mac, src.ip, dst_ip, sport, dport, ttl,
                                          vlan_id, frag)
        return parse_frame(frame, src.port_id)

    def icmp_echo(self, src: VM, dst_mac: str, dst_ip: int, ident: int = 1,
                  ttl: int = 64) -> FlowMatch:
        frame = packet_builders.icmp_echo_request(src.mac, dst_mac, src.ip, dst_ip, ident, ttl=ttl)
        return parse_frame(frame, src.port_id)

    def simulate(self, match: FlowMatch, apply: bool = True) -> SimulationResult:
        result = simulate(match, self.topology, self.state, self.now)
        if apply:
            self.state.apply(result, self.now)
        return result


@dataclasses.dataclass
class Routed:
    s: Scenario
    net_a: Any
    net_b: Any
    router: Any
    rport_a: Any
    rport_b: Any
    a1: VM
    a2: VM
    b1: VM
    b2: VM


def build_routed(**router_fields: Any) -> Routed:
    """vm a1, a2 -- net A (10.0.1.0/24) -- router -- net B (10.0.2.0/24) -- vm b1, b2.

    MACs are learned and the router knows every VM's MAC.
    """
    s = Scenario()
    net_a, net_b = s.network(name="A"), s.network(name="B")
    router = s.router(**router_fields)
    rport_a = s.attach(router, net_a, "10.0.1.1", "10.0.1.0/24")
    rport_b = s.attach(router, net_b, "10.0.2.1", "10.0.2.0/24")
    a1, a2 = s.vm_port(net_a, "10.0.1.10"), s.vm_port(net_a, "10.0.1.11")
    b1, b2 = s.vm_port(net_b, "10.0.2.10"), s.vm_port(net_b, "10.0.2.11")
    for net, vm in ((net_a, a1), (net_a, a2), (net_b, b1), (net_b, b2)):
        s.learn(net, vm)
    s.state.set_arp(router.id, ip_to_int("10.0.2.10"), b1.mac)
    s.state.set_arp(router.id, ip_to_int("10.0.2.11"), b2.mac)
    s.state.set_arp(router.id, ip_to_int("10.0.1.10"), a1.mac)
    s.state.set_arp(router.id, ip_to_int("10.0.1.11"), a2.mac)
    return Routed(s, net_a, net_b, router, rport_a, rport_b, a1, a2, b1, b2)


def _plain() -> Any:
    from midonet_ryu.topology.snapshot import TopologySnapshot

    return TopologySnapshot()


def rule(action: Any = None, **condition: Any) -> Rule:
    """A literal rule with the given condition fields (default action ACCEPT)."""
    from midonet_ryu.topology.rules import Condition, RuleAction

    return Rule(id=uuid.uuid4(), action=action or RuleAction.ACCEPT,
                condition=Condition(**condition))
