"""Shared scenario: two networks joined by a router.

    vm a1, a2 -- net A (10.0.1.0/24) -- router -- net B (10.0.2.0/24) -- vm b1, b2
"""
from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from midonet_ryu.simulation.addr import ip_to_int
from midonet_ryu.simulation.scenario import VM, Scenario


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

    def mac_of(self, rport: Any) -> str:
        return rport.port_mac


def build_routed(**router_fields: Any) -> Routed:
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


@pytest.fixture
def routed() -> Routed:
    return build_routed()
