"""Router: forwarding, ARP, ICMP, routes (LPM, weights, ECMP, blackhole, reject)."""
from __future__ import annotations

import uuid

from midonet_ryu.simulation import packet_builders, tags
from midonet_ryu.simulation.addr import ip_to_int
from midonet_ryu.simulation.engine import simulate_generated
from midonet_ryu.simulation.packet import parse_frame
from midonet_ryu.simulation.result import ArpLearned, ResultKind, SetField, ToPort
from midonet_ryu.simulation.state import ArpEntry
from midonet_ryu.topology.router import NextHop
from tools.scenario import Scenario

IP = ip_to_int


def test_routed_packet_is_rewritten_and_delivered(routed):
    r = routed
    res = r.s.simulate(r.s.udp(r.a1, r.rport_a.port_mac, r.b1.ip, ttl=9))
    assert res.kind is ResultKind.FORWARD
    assert res.actions == (
        SetField("eth_src", r.rport_b.port_mac),
        SetField("eth_dst", r.b1.mac),
        SetField("ip_ttl", 8),
        ToPort(r.b1.port_id),
    )
    assert res.devices == (r.net_a.id, r.router.id, r.net_b.id)
    assert tags.arp_entry(r.router.id, r.b1.ip) in res.tags
    assert tags.device(r.router.id) in res.tags
    assert {"ip_dst", "ip_ttl", "eth_dst"} <= res.wildcard
    assert "tp_src" not in res.wildcard  # no ECMP, no rules: ports do not matter


def test_unknown_next_hop_sends_arp_request_and_drops_without_flow(routed):
    r = routed
    target = IP("10.0.2.99")
    res = r.s.simulate(r.s.udp(r.a1, r.rport_a.port_mac, target))
    assert res.kind is ResultKind.DROP and res.drop_timeout == 0.0
    assert tags.arp_entry(r.router.id, target) in res.tags
    (gen,) = res.generated
    assert gen.port_id == r.rport_b.id
    req = parse_frame(gen.frame, None)
    assert (req.arp_op, req.arp_tpa, req.arp_spa, req.eth_src) == (
        1, target, IP("10.0.2.1"), r.rport_b.port_mac)
    # the request, simulated from the peer bridge port, floods net B
    flood = simulate_generated(gen.port_id, gen.frame, r.s.topology, r.s.state, r.s.now)
    assert {a.port_id for a in flood.actions} == {r.b1.port_id, r.b2.port_id}


def test_arp_reply_to_router_is_learned(routed):
    r = routed
    vm_ip = IP("10.0.2.50")
    reply = packet_builders.arp_reply(r.b2.mac, vm_ip, r.rport_b.port_mac, IP("10.0.2.1"))
    res = r.s.simulate(parse_frame(reply, r.b2.port_id))
    assert res.kind is ResultKind.CONSUMED
    assert ArpLearned(r.router.id, vm_ip, r.b2.mac) in res.learned
    # once learned, traffic flows
    fwd = r.s.simulate(r.s.udp(r.a1, r.rport_a.port_mac, vm_ip))
    assert fwd.kind is ResultKind.FORWARD


def test_expired_arp_entry_is_not_used_and_stale_one_is_refreshed(routed):
    r = routed
    now = r.s.now
    r.s.state.set_arp(r.router.id, r.b1.ip, ArpEntry(r.b1.mac, expiry=now - 1))
    assert r.s.simulate(r.s.udp(r.a1, r.rport_a.port_mac, r.b1.ip)).kind is ResultKind.DROP
    r.s.state.set_arp(r.router.id, r.b1.ip, ArpEntry(r.b1.mac, expiry=now + 60, stale=now - 1))
    res = r.s.simulate(r.s.udp(r.a1, r.rport_a.port_mac, r.b1.ip))
    assert res.kind is ResultKind.FORWARD and len(res.generated) == 1


def test_vm_arp_for_gateway_reaches_router_and_is_answered(routed):
    r = routed
    req = packet_builders.arp_request(r.a1.mac, r.a1.ip, IP("10.0.1.1"))
    res = r.s.simulate(parse_frame(req, r.a1.port_id))
    assert res.kind is ResultKind.CONSUMED
    (gen,) = res.generated
    assert gen.port_id == r.rport_a.id  # out of the router port, towards net A
    ans = parse_frame(gen.frame, None)
    assert (ans.arp_op, ans.arp_sha, ans.arp_spa, ans.eth_dst) == (
        2, r.rport_a.port_mac, IP("10.0.1.1"), r.a1.mac)
    assert ArpLearned(r.router.id, r.a1.ip, r.a1.mac) not in res.learned  # already known
    # the reply, entering net A from the router, is unicast to a1
    back = simulate_generated(gen.port_id, gen.frame, r.s.topology, r.s.state, r.s.now)
    assert back.actions == (ToPort(r.a1.port_id),)


def test_ping_router_address(routed):
    r = routed
    res = r.s.simulate(r.s.icmp_echo(r.a1, r.rport_a.port_mac, IP("10.0.2.1"), ident=9))
    assert res.kind is ResultKind.CONSUMED
    (gen,) = res.generated
    reply = parse_frame(gen.frame, None)
    assert (reply.icmp_type, reply.icmp_id, reply.ip_src, reply.ip_dst) == (
        0, 9, IP("10.0.2.1"), r.a1.ip)


def test_other_traffic_to_router_is_dropped(routed):
    r = routed
    res = r.s.simulate(r.s.udp(r.a1, r.rport_a.port_mac, IP("10.0.1.1")))
    assert res.kind is ResultKind.DROP and not res.generated


def test_ttl_expiry_sends_time_exceeded(routed):
    r = routed
    res = r.s.simulate(r.s.udp(r.a1, r.rport_a.port_mac, r.b1.ip, ttl=1))
    assert res.kind is ResultKind.DROP and res.drop_timeout == 0.0  # every probe answered
    (gen,) = res.generated
    err = parse_frame(gen.frame, None)
    assert (err.icmp_type, err.ip_src, err.ip_dst) == (11, IP("10.0.1.1"), r.a1.ip)


def test_no_route_sends_net_unreachable(routed):
    r = routed
    res = r.s.simulate(r.s.udp(r.a1, r.rport_a.port_mac, IP("192.168.7.7")))
    assert res.kind is ResultKind.DROP and res.reason == "no route"
    assert res.drop_timeout == 5.0  # a short drop flow also rate-limits the ICMP
    err = parse_frame(res.generated[0].frame, None)
    assert (err.icmp_type, err.icmp_code) == (3, 0)


def test_blackhole_and_reject_routes(routed):
    r = routed
    r.s.route(r.router, "192.168.0.0/16", next_hop=NextHop.BLACKHOLE)
    r.s.route(r.router, "172.16.0.0/12", next_hop=NextHop.REJECT)
    hole = r.s.simulate(r.s.udp(r.a1, r.rport_a.port_mac, IP("192.168.1.1")))
    assert hole.kind is ResultKind.DROP and hole.generated == ()
    rej = r.s.simulate(r.s.udp(r.a1, r.rport_a.port_mac, IP("172.16.1.1")))
    assert rej.kind is ResultKind.DROP
    assert parse_frame(rej.generated[0].frame, None).icmp_type == 3


def test_longest_prefix_wins_over_overlapping_routes(routed):
    r = routed
    r.s.route(r.router, "10.0.2.0/25", next_hop=NextHop.BLACKHOLE)  # more specific than port
    r.s.route(r.router, "10.0.0.0/8", r.s.get(type(r.rport_a), r.rport_a.id))
    inside = r.s.simulate(r.s.udp(r.a1, r.rport_a.port_mac, r.b1.ip))  # 10.0.2.10 in /25
    assert inside.kind is ResultKind.DROP
    r.s.state.set_arp(r.router.id, IP("10.0.2.200"), r.b2.mac)
    outside = r.s.simulate(r.s.udp(r.a1, r.rport_a.port_mac, IP("10.0.2.200")))
    assert outside.actions[-1] == ToPort(r.b2.port_id)


def test_lower_weight_wins_and_equal_weights_balance_by_flow(routed):
    r = routed
    rb = r.s.get(type(r.rport_b), r.rport_b.id)
    ra = r.s.get(type(r.rport_a), r.rport_a.id)
    r.s.route(r.router, "8.8.8.0/24", rb, gateway="10.0.2.10", weight=10)
    r.s.route(r.router, "8.8.8.0/24", ra, gateway="10.0.1.10", weight=20)
    res = r.s.simulate(r.s.udp(r.b2, r.rport_b.port_mac, IP("8.8.8.8")))
    assert res.actions[-1] == ToPort(r.b1.port_id)
    r.s.route(r.router, "8.8.8.0/24", ra, gateway="10.0.1.10", weight=10)  # now a tie
    outs = set()
    for sport in range(1000, 1064):
        res = r.s.simulate(r.s.udp(r.b2, r.rport_b.port_mac, IP("8.8.8.8"), sport=sport))
        outs.add(res.actions[-1])
        assert "tp_src" in res.wildcard  # ECMP depends on the 5-tuple
        again = r.s.simulate(r.s.udp(r.b2, r.rport_b.port_mac, IP("8.8.8.8"), sport=sport))
        assert again.actions == res.actions  # deterministic per flow
    assert outs == {ToPort(r.b1.port_id), ToPort(r.a1.port_id)}


def test_source_routes(routed):
    r = routed
    r.s.route(r.router, "0.0.0.0/0", next_hop=NextHop.BLACKHOLE, src="10.0.1.11/32")
    r.s.route(r.router, "0.0.0.0/0", next_hop=NextHop.REJECT)
    assert r.s.simulate(r.s.udp(r.a2, r.rport_a.port_mac, IP("9.9.9.9"))).generated == ()
    assert r.s.simulate(r.s.udp(r.a1, r.rport_a.port_mac, IP("9.9.9.9"))).generated != ()


def test_frames_not_for_router_mac_are_dropped(routed):
    r = routed
    m = r.s.udp(r.a1, r.rport_a.port_mac, r.b1.ip)
    m.eth_dst = "02:aa:aa:aa:aa:aa"
    m.in_port = r.rport_a.id  # straight into the router port
    res = r.s.simulate(m)
    assert res.kind is ResultKind.DROP


def test_router_to_router_uses_peer_mac_without_arp():
    s = Scenario()
    net = s.network()
    vm = s.vm_port(net, "10.0.1.10")
    net2 = s.network()
    vm2 = s.vm_port(net2, "10.0.9.10")
    s.learn(net2, vm2)
    r1, r2 = s.router(), s.router()
    r1a = s.attach(r1, net, "10.0.1.1", "10.0.1.0/24")
    r1b = s.router_port(r1, "192.168.0.1", "192.168.0.0/30")
    r2a = s.router_port(r2, "192.168.0.2", "192.168.0.0/30")
    s.link(r1b.id, r2a.id)
    s.attach(r2, net2, "10.0.9.1", "10.0.9.0/24")
    s.route(r1, "10.0.9.0/24", s.get(type(r1b), r1b.id), gateway="192.168.0.2")
    s.arp(r2, "10.0.9.10", vm2.mac)
    res = s.simulate(s.udp(vm, r1a.port_mac, vm2.ip, ttl=10))
    assert res.kind is ResultKind.FORWARD and res.actions[-1] == ToPort(vm2.port_id)
    assert SetField("ip_ttl", 8) in res.actions
    assert len(res.devices) == 4


def test_routing_loop_hits_traversal_limit():
    s = Scenario()
    net = s.network()
    vm = s.vm_port(net, "10.0.1.10")
    r1, r2 = s.router(), s.router()
    r1a = s.attach(r1, net, "10.0.1.1", "10.0.1.0/24")
    r1b = s.router_port(r1, "192.168.0.1", "192.168.0.0/30")
    r2a = s.router_port(r2, "192.168.0.2", "192.168.0.0/30")
    s.link(r1b.id, r2a.id)
    s.route(r1, "0.0.0.0/0", s.get(type(r1b), r1b.id), gateway="192.168.0.2")
    s.route(r2, "0.0.0.0/0", s.get(type(r2a), r2a.id), gateway="192.168.0.1")
    res = s.simulate(s.udp(vm, r1a.port_mac, ip_to_int("1.2.3.4"), ttl=64))
    assert res.kind is ResultKind.ERROR_DROP and "12 devices" in res.reason


def test_thousand_route_router_picks_the_right_route():
    s = Scenario()
    net = s.network()
    vm = s.vm_port(net, "10.0.1.10")
    r = s.router()
    ra = s.attach(r, net, "10.0.1.1", "10.0.1.0/24")
    up = s.router_port(r, "192.168.0.1", "192.168.0.0/24", host_id=uuid.UUID(int=1),
                       interface_name="uplink")
    for i in range(1000):
        s.route(r, f"172.{16 + i // 256}.{i % 256}.0/24", s.get(type(up), up.id),
                gateway=f"192.168.0.{2 + i % 200}")
    s.arp(r, "192.168.0.7", "02:77:00:00:00:07")
    res = s.simulate(s.udp(vm, ra.port_mac, ip_to_int("172.16.5.9")))  # i=5 -> gw .7
    assert res.actions[-1] == ToPort(up.id)
    assert SetField("eth_dst", "02:77:00:00:00:07") in res.actions


def test_router_on_a_vlan_of_a_trunked_network():
    """The router's bridge port is an access port of VLAN 10: routed frames enter
    and leave VLAN 10 there, and do not carry the tag into the other network."""
    s = Scenario()
    net_a, net_b = s.network(), s.network()
    router = s.router()
    rport_a = s.router_port(router, "10.0.1.1", "10.0.1.0/24")
    bport = s.port(net_a, vlan_id=10)
    s.link(rport_a.id, bport.id)
    s.attach(router, net_b, "10.0.2.1", "10.0.2.0/24")
    vm_a = s.vm_port(net_a, "10.0.1.10", vlan_id=10)
    other_vlan = s.vm_port(net_a, "10.0.1.20", vlan_id=20)
    trunk = s.vm_port(net_a)
    vm_b = s.vm_port(net_b, "10.0.2.10")
    s.learn(net_b, vm_b)
    s.learn(net_a, vm_a, vlan=10)
    s.arp(router, "10.0.2.10", vm_b.mac)
    s.arp(router, "10.0.1.10", vm_a.mac)
    out = s.simulate(s.udp(vm_a, rport_a.port_mac, vm_b.ip))
    assert out.actions[-1] == ToPort(vm_b.port_id)
    assert not any(isinstance(a, SetField) and a.name == "vlan_id" for a in out.actions)
    rport_b = [p for p in s.get(type(router), router.id).port_ids if p != rport_a.id][0]
    back = s.simulate(s.udp(vm_b, s.get(type(rport_a), rport_b).port_mac, vm_a.ip))
    assert back.actions[-1] == ToPort(vm_a.port_id)
    assert not any(isinstance(a, SetField) and a.name == "vlan_id" for a in back.actions)
    # the router's ARP request floods VLAN 10 only: the trunk (tagged) and vm_a
    s.state.forget_mac(net_a.id, 10, vm_a.mac)
    miss = s.simulate(s.udp(vm_b, s.get(type(rport_a), rport_b).port_mac,
                            ip_to_int("10.0.1.99")))
    (arp,) = miss.generated
    flood = simulate_generated(arp.port_id, arp.frame, s.topology, s.state, s.now)
    outs = [a.port_id for a in flood.actions if isinstance(a, ToPort)]
    assert set(outs) == {vm_a.port_id, trunk.port_id} and other_vlan.port_id not in outs
    assert SetField("vlan_id", 10) in flood.actions


def test_learned_arp_entries_go_stale_then_expire(routed):
    r = routed
    vm_ip = IP("10.0.2.60")
    reply = packet_builders.arp_reply(r.b2.mac, vm_ip, r.rport_b.port_mac, IP("10.0.2.1"))
    r.s.simulate(parse_frame(reply, r.b2.port_id))  # learned at now
    start = r.s.now
    r.s.now = start + 30
    fresh = r.s.simulate(r.s.udp(r.a1, r.rport_a.port_mac, vm_ip))
    assert fresh.kind is ResultKind.FORWARD and fresh.generated == ()
    r.s.now = start + 61
    stale = r.s.simulate(r.s.udp(r.a1, r.rport_a.port_mac, vm_ip))
    assert stale.kind is ResultKind.FORWARD and len(stale.generated) == 1  # refresh request
    r.s.now = start + 91
    gone = r.s.simulate(r.s.udp(r.a1, r.rport_a.port_mac, vm_ip))
    assert gone.kind is ResultKind.DROP and len(gone.generated) == 1
