"""Invalidation precision: ``python -m benchmarks invalidation [--quick] [--json]``.

For each kind of topology change, a host's agent core (``FlowSetup``, the
real one) first installs the flows of a traffic mix: unicast between VMs of
a network here and on another host, routed traffic to a second network, ARP
floods. The change is applied as the agent sees it (the topology events
with their back-references, each turned into tags by
``topology_change_tags``), and the flows it removed are compared with the
flows that had to go, found by an oracle: every flow's first packet is
simulated again on the changed topology by a fresh core, and a flow had to
go when the flow-mod it would install now differs (match, actions or
priority). Per change and overall:

* ``removed``: flows the invalidation deleted;
* ``had_to_go``: flows whose flow-mod changed;
* ``stale``: flows that had to go and stayed (a correctness bug: must be 0);
* ``invalidation_precision``: had_to_go / removed (1.0: nothing removed for
  nothing), with ``broad_precision`` the same for the previous rule (every
  device a changed object references), measured on the same flows.
Pure core, no I/O.
"""
from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from typing import Any

from midonet_ryu.datapath import invalidation as inv
from midonet_ryu.datapath import ofwire as of
from midonet_ryu.datapath.agent_state import AgentState
from midonet_ryu.datapath.flow_setup import FlowPolicy, FlowSetup
from midonet_ryu.datapath.local_ports import LocalBinding
from midonet_ryu.datapath.port_map import PortMap
from midonet_ryu.simulation import packet_builders as pb
from midonet_ryu.simulation.addr import ip_to_int
from midonet_ryu.topology.model import Host, HostToIp, Network, Port, TunnelZone
from midonet_ryu.topology.router import NextHop, Route, Router
from tools.scenario import VM, Scenario

HERE, OTHER, THIRD = uuid.UUID(int=0xA), uuid.UUID(int=0xB), uuid.UUID(int=0xC)
TUNNEL_OFPORT = 2


class World:
    """Network A: ``n`` VMs here and ``n`` on OTHER; network B: ``n`` VMs
    here; a router between them; this host's core and its installed flows."""

    def __init__(self, n: int, seed: int) -> None:
        self.rng = random.Random(seed)
        s = self.s = Scenario()
        for host in (HERE, OTHER, THIRD):
            s.put(Host(id=host))
        s.put(TunnelZone(id=uuid.uuid4(), hosts=tuple(
            HostToIp(h, f"192.0.2.{i + 1}") for i, h in enumerate((HERE, OTHER, THIRD))),
            host_ids=(HERE, OTHER, THIRD)))
        self.net_a, self.net_b = s.network(name="A"), s.network(name="B")
        self.router = s.router()
        self.rport_a = s.attach(self.router, self.net_a, "10.0.1.1", "10.0.1.0/24")
        self.rport_b = s.attach(self.router, self.net_b, "10.0.2.1", "10.0.2.0/24")
        self.local_a = [self._vm(self.net_a, f"10.0.1.{10 + i}", HERE) for i in range(n)]
        self.remote_a = [self._vm(self.net_a, f"10.0.1.{100 + i}", OTHER) for i in range(n)]
        self.local_b = [self._vm(self.net_b, f"10.0.2.{10 + i}", HERE) for i in range(n)]
        for vm in (*self.local_a, *self.remote_a):
            s.learn(self.net_a, vm)
            s.state.set_arp(self.router.id, vm.ip, vm.mac)
        for vm in self.local_b:
            s.learn(self.net_b, vm)
            s.state.set_arp(self.router.id, vm.ip, vm.mac)
        self.remote = {vm.port_id: (OTHER, 0x200000 + i) for i, vm in enumerate(self.remote_a)}
        self.ofport = {vm.port_id: 10 + i for i, vm in enumerate((*self.local_a, *self.local_b))}
        self.core = self.new_core()
        self.first: dict[int, tuple[int, bytes]] = {}  # cookie -> (in_ofport, frame)
        self.flow_mods: dict[int, Any] = {}

    def _vm(self, net: Network, ip: str, host: uuid.UUID) -> VM:
        port = self.s.port(net, host_id=host)
        return VM(port.id, self.s.next_mac(), ip_to_int(ip))

    def new_core(self) -> FlowSetup:
        state = AgentState(self.s.state)
        for net in (self.net_a, self.net_b):
            state.attach(("mac", net.id, None), self.s.state.mac_table(net.id, None))
            state.attach(("ip4mac", net.id, None), self.s.state.ip4_mac_table(net.id))
        state.attach(("arp", self.router.id, None), self.s.state.arp_table(self.router.id))
        ports = PortMap(HERE, self.s.topology, self.remote)
        ports.tunnel_ofports = {"vxlan": TUNNEL_OFPORT}
        for i, (port_id, ofport) in enumerate(self.ofport.items()):
            ports.bindings[port_id] = LocalBinding(port_id, f"tap{i}", ofport, 0x100000 | i)
            ports.ofport_to_port[ofport] = port_id
        return FlowSetup(HERE, 1, self.s.topology, state, ports,
                         FlowPolicy(idle_timeout=60, hard_timeout=0, drop_hard_timeout=5))

    def traffic(self) -> None:
        """Unicast within A (local and remote peers), routed A -> B, floods."""
        rmac = self.s.get(Port, self.rport_a.id).port_mac
        peers = self.local_a + self.remote_a
        for vm in self.local_a:
            for dst in self.rng.sample(peers, 4):
                if dst is not vm:
                    self.send(vm, pb.udp_frame(vm.mac, dst.mac, vm.ip, dst.ip, 1000, 53, b"x"))
            for dst in self.rng.sample(self.local_b, 2):
                self.send(vm, pb.udp_frame(vm.mac, rmac, vm.ip, dst.ip, 1000, 53, b"x"))
            self.send(vm, pb.arp_request(vm.mac, vm.ip, ip_to_int("10.0.1.250")))

    def send(self, vm: VM, frame: bytes) -> None:
        in_ofport = self.ofport[vm.port_id]
        out = self.core.packet_in(of.PacketIn(in_ofport, None, frame, 1, 0), 1000.0)
        for m in out.messages:
            if type(m) is of.FlowMod and m.table_id == 1:
                self.first[m.cookie] = (in_ofport, frame)
                self.flow_mods[m.cookie] = _comparable(m)

    def apply(self, events: list[tuple[str, Any, Any]], rule: Callable) -> set[int]:
        """Apply topology events; the cookies ``rule`` would have removed."""
        changed: list[Any] = []
        for kind, old, new in events:
            obj = new if new is not None else old
            if new is None:
                self.s.topology.remove(type(old), old.id)
            else:
                self.s.put(new)
            changed.extend(rule(kind, obj.id, old, new))
        return {r.cookie for r in self.core.flows.invalidate(changed)}

    def had_to_go(self) -> set[int]:
        """Flows whose first packet now makes another flow-mod (a fresh core)."""
        fresh = self.new_core()
        gone = set()
        for cookie, (in_ofport, frame) in self.first.items():
            out = fresh.packet_in(of.PacketIn(in_ofport, None, frame, 1, 0), 1000.0)
            mods = [_comparable(m) for m in out.messages
                    if type(m) is of.FlowMod and m.table_id == 1]
            if mods[:1] != [self.flow_mods[cookie]]:
                gone.add(cookie)
        return gone


def _comparable(m: Any) -> tuple[Any, ...]:
    return (tuple(m.match), tuple(m.actions or ()), m.priority)


def _changes(w: World) -> dict[str, list[tuple[str, Any, Any]]]:
    """The topology events of each change, as the agent's cache reports them."""
    s = w.s
    net_a = s.get(Network, w.net_a.id)
    new_port = Port(id=uuid.uuid4(), network_id=net_a.id, host_id=OTHER)
    victim = s.get(Port, w.local_a[0].port_id)
    mover = s.get(Port, w.remote_a[0].port_id)
    router = s.get(Router, w.router.id)
    host_route = Route(id=uuid.uuid4(), dst_subnet="10.0.2.10/32",
                       next_hop=NextHop.BLACKHOLE, router_id=router.id)
    other_route = Route(id=uuid.uuid4(), dst_subnet="203.0.113.0/24",
                        next_hop_port_id=w.rport_b.id, router_id=router.id)
    with_route = router.replace(route_ids=router.route_ids + (host_route.id,))
    return {
        "boot_vm": [("Port", None, new_port),
                    ("Network", net_a, net_a.replace(port_ids=net_a.port_ids + (new_port.id,)))],
        "disable_vm": [("Port", victim, victim.replace(admin_state_up=False))],
        "move_vm": [("Port", mover, mover.replace(host_id=THIRD))],
        "more_specific_route": [("Route", None, host_route), ("Router", router, with_route)],
        "unrelated_route": [("Route", None, other_route),
                            ("Router", router, router.replace(
                                route_ids=router.route_ids + (other_route.id,)))],
    }


def _measure(n: int, name: str, rule: Callable) -> dict[str, int]:
    w = World(n, seed=7)
    w.traffic()
    events = _changes(w)[name]
    # where the shell's watches put the ports once their hosts publish them
    if name == "move_vm":
        w.remote[w.remote_a[0].port_id] = (THIRD, 0x300000)
    elif name == "boot_vm":
        w.remote[events[0][2].id] = (OTHER, 0x300001)
    removed = w.apply(events, rule)
    had_to_go = w.had_to_go()
    return {"flows": len(w.first), "removed": len(removed), "had_to_go": len(had_to_go),
            "stale": len(had_to_go - removed)}


def run(quick: bool = False) -> dict[str, Any]:
    n = 10 if quick else 40
    out: dict[str, Any] = {"vms_per_group": n}
    totals = {"new": [0, 0, 0], "broad": [0, 0, 0]}
    for name in _changes(World(2, seed=1)):
        for label, rule in (("new", inv.topology_change_tags),
                            ("broad", inv.broad_change_tags)):
            r = _measure(n, name, rule)
            prefix = name if label == "new" else f"broad_{name}"
            for key, value in r.items():
                out[f"{prefix}_{key}"] = value
            t = totals[label]
            t[0] += r["removed"]
            t[1] += r["had_to_go"]
            t[2] += r["stale"]
    for label, (removed, had_to_go, stale) in totals.items():
        key = "invalidation_precision" if label == "new" else "broad_precision"
        out[key] = round(had_to_go / removed, 4) if removed else 1.0
        out["stale_flows" if label == "new" else "broad_stale_flows"] = stale
    return out
