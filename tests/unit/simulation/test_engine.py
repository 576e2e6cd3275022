"""Engine-level behaviour: caching across topology changes, timeouts, purity."""
from __future__ import annotations

import uuid

from midonet_ryu.simulation.addr import ip_to_int
from midonet_ryu.simulation.engine import simulate, simulate_generated
from midonet_ryu.simulation.result import (
    DROP_HARD_TIMEOUT,
    STATEFUL_HARD_TIMEOUT,
    ResultKind,
    ToPort,
)
from midonet_ryu.topology.model import Port
from tools.scenario import Scenario, build_routed


def test_linking_a_router_after_the_first_packet_is_seen():
    """The compiled bridge must notice a port that becomes interior later."""
    s = Scenario()
    net = s.network()
    a = s.vm_port(net, "10.0.0.10")
    b = s.vm_port(net, "10.0.0.11")
    s.simulate(s.udp(a, b.mac, b.ip))  # compiles the bridge
    router = s.router()
    rport = s.router_port(router, "10.0.0.1", "10.0.0.0/24")
    bport = s.port(net)
    s.link(rport.id, bport.id)
    res = s.simulate(s.icmp_echo(a, rport.port_mac, ip_to_int("10.0.0.1")))
    assert res.kind is ResultKind.CONSUMED and res.generated


def test_plain_snapshot_without_generation_gives_the_same_results():
    for versioned in (True, False):
        s = Scenario(versioned=versioned)
        net = s.network()
        a, b = s.vm_port(net), s.vm_port(net)
        s.learn(net, b)
        assert s.simulate(s.udp(a, b.mac, 1)).actions == (ToPort(b.port_id),)
        s.update(s.get(Port, b.port_id), admin_state_up=False)
        assert s.simulate(s.udp(a, b.mac, 1)).kind is ResultKind.DROP


def test_simulation_does_not_touch_its_inputs():
    r = build_routed()
    m = r.s.udp(r.a1, r.rport_a.port_mac, r.b1.ip)
    before = m.fields()
    n_state = len(r.s.state)
    res = simulate(m, r.s.topology, r.s.state, r.s.now)
    again = simulate(m, r.s.topology, r.s.state, r.s.now)
    assert m.fields() == before and len(r.s.state) == n_state
    assert res.actions == again.actions and res.wildcard == again.wildcard
    assert res.tags == again.tags


def test_timeouts():
    r = build_routed()
    fwd = r.s.simulate(r.s.udp(r.a1, r.rport_a.port_mac, r.b1.ip))
    assert fwd.hard_timeout is None and fwd.idle_timeout == 60.0
    m = r.s.udp(r.a1, r.rport_a.port_mac, ip_to_int("10.0.2.99"))
    assert r.s.simulate(m).hard_timeout == 0.0  # unknown next hop: no flow
    down = r.s.update(r.s.get(Port, r.b1.port_id), admin_state_up=False)
    assert down is not None
    drop = r.s.simulate(r.s.udp(r.a1, r.rport_a.port_mac, r.b1.ip))
    assert drop.kind is ResultKind.DROP and drop.hard_timeout == DROP_HARD_TIMEOUT
    assert STATEFUL_HARD_TIMEOUT == 30.0


def test_generated_on_exterior_port_is_not_resimulated():
    s = Scenario()
    net = s.network()
    a = s.vm_port(net)
    assert simulate_generated(a.port_id, b"\x00" * 60, s.topology, s.state, s.now) is None


def test_port_without_device_is_an_error_drop():
    s = Scenario()
    lonely = s.port(None, host_id=uuid.UUID(int=1), interface_name="x")
    m = s.udp(s.vm_port(s.network()), "02:00:00:00:00:09", 1)
    m.in_port = lonely.id
    res = s.simulate(m)
    assert res.kind is ResultKind.ERROR_DROP and "no device" in res.reason


def test_malformed_addresses_in_the_model_are_an_error_drop_not_a_crash():
    r = build_routed()
    r.s.update(r.s.get(Port, r.rport_b.id), port_subnet="10.0.2.0/99")
    res = r.s.simulate(r.s.udp(r.a1, r.rport_a.port_mac, r.b1.ip))
    assert res.kind is ResultKind.ERROR_DROP and "cannot compile router" in res.reason


def test_router_arp_request_is_answered_by_bridge_suppression_and_learned():
    """The full resolution loop the agent runs with simulate_generated."""
    r = build_routed()
    s = r.s
    target = ip_to_int("10.0.2.77")
    s.state.set_ip4_mac(r.net_b.id, target, "02:77:77:77:77:77")
    first = s.simulate(s.udp(r.a1, r.rport_a.port_mac, target))
    (arp,) = first.generated
    answered = simulate_generated(arp.port_id, arp.frame, s.topology, s.state, s.now)
    assert answered.kind is ResultKind.CONSUMED
    (reply,) = answered.generated
    learned = simulate_generated(reply.port_id, reply.frame, s.topology, s.state, s.now)
    s.state.apply(learned, s.now)
    assert learned.learned[0].mac == "02:77:77:77:77:77"
    assert s.simulate(s.udp(r.a1, r.rport_a.port_mac, target)).kind is ResultKind.FORWARD
