"""L4 load balancer: VIP to healthy members, weights, stickiness, replies."""
from __future__ import annotations

import collections
import uuid

from midonet_ryu.simulation.addr import ip_to_int
from midonet_ryu.simulation.result import ResultKind, SetField, ToPort
from midonet_ryu.simulation.state import NatKeyType
from midonet_ryu.topology.lb import (
    LBStatus,
    LoadBalancer,
    Pool,
    PoolMember,
    SessionPersistence,
    Vip,
)
from midonet_ryu.topology.router import Router
from tools.scenario import build_routed

VIP = "10.0.1.100"


class LB:
    """Clients on net A reach VIP 10.0.1.100:80, balanced to b1/b2:8080 on net B."""

    def __init__(self, sticky=False, weights=(1, 1)):
        self.r = r = build_routed()
        s = self.s = r.s
        lb = LoadBalancer(id=uuid.uuid4(), router_id=r.router.id)
        pool = Pool(id=uuid.uuid4(), load_balancer_id=lb.id)
        self.members = [
            PoolMember(id=uuid.uuid4(), pool_id=pool.id, address=addr, protocol_port=8080,
                       weight=w)
            for addr, w in zip(("10.0.2.10", "10.0.2.11"), weights, strict=True)
        ]
        vip = Vip(id=uuid.uuid4(), pool_id=pool.id, address=VIP, protocol_port=80,
                  session_persistence=SessionPersistence.SOURCE_IP if sticky else None)
        for m in self.members:
            s.put(m)
        s.put(vip)
        s.put(pool.replace(pool_member_ids=tuple(m.id for m in self.members), vip_ids=(vip.id,)))
        s.put(lb.replace(pool_ids=(pool.id,)))
        s.update(s.get(Router, r.router.id), load_balancer_id=lb.id)
        self.lb = lb

    def connect(self, sport, client=None):
        client = client or self.r.a1
        return self.s.simulate(self.s.tcp(client, self.r.rport_a.port_mac, ip_to_int(VIP),
                                          sport=sport, dport=80))

    def set_health(self, index, status):
        self.s.update(self.members[index], status=status)

    def member_of(self, res):
        return {a.name: a.value for a in res.actions if isinstance(a, SetField)}["ip_dst"]


def test_connections_are_spread_over_members_and_stay_put():
    lb = LB()
    chosen = collections.Counter(lb.member_of(lb.connect(sport)) for sport in range(2000, 2200))
    assert set(chosen) == {ip_to_int("10.0.2.10"), ip_to_int("10.0.2.11")}
    assert min(chosen.values()) > 50
    first = lb.member_of(lb.connect(2000))
    assert lb.member_of(lb.connect(2000)) == first


def test_packets_are_delivered_to_the_member_port_with_port_rewrite():
    lb = LB()
    res = lb.connect(3000)
    f = {a.name: a.value for a in res.actions if isinstance(a, SetField)}
    assert f["tp_dst"] == 8080
    dest = lb.r.b1 if f["ip_dst"] == lb.r.b1.ip else lb.r.b2
    assert res.actions[-1] == ToPort(dest.port_id)
    kinds = {k.type for k in res.created_keys}
    assert kinds == {NatKeyType.FWD_DNAT, NatKeyType.REV_DNAT}


def test_reply_from_member_appears_to_come_from_vip():
    lb = LB()
    res = lb.connect(3001)
    member_ip = lb.member_of(res)
    member = lb.r.b1 if member_ip == lb.r.b1.ip else lb.r.b2
    reply = lb.s.simulate(lb.s.tcp(member, lb.r.rport_b.port_mac, lb.r.a1.ip, sport=8080,
                                   dport=3001))
    f = {a.name: a.value for a in reply.actions if isinstance(a, SetField)}
    assert (f["ip_src"], f["tp_src"]) == (ip_to_int(VIP), 80)
    assert reply.actions[-1] == ToPort(lb.r.a1.port_id)


def test_unhealthy_member_is_never_chosen_and_bound_flows_move():
    lb = LB()
    bound_to_b1 = [p for p in range(4000, 4100)
                   if lb.member_of(lb.connect(p)) == ip_to_int("10.0.2.10")]
    assert bound_to_b1
    lb.set_health(0, LBStatus.INACTIVE)
    for sport in bound_to_b1 + list(range(5000, 5050)):
        assert lb.member_of(lb.connect(sport)) == ip_to_int("10.0.2.11")


def test_no_healthy_member_drops():
    lb = LB()
    lb.set_health(0, LBStatus.INACTIVE)
    lb.set_health(1, LBStatus.INACTIVE)
    res = lb.connect(6000)
    assert res.kind is ResultKind.DROP and "healthy" in res.reason


def test_weights_bias_the_choice():
    lb = LB(weights=(0, 5))
    assert {lb.member_of(lb.connect(p)) for p in range(100)} == {ip_to_int("10.0.2.11")}
    lb2 = LB(weights=(1, 3))
    c = collections.Counter(lb2.member_of(lb2.connect(p)) for p in range(7000, 7400))
    assert c[ip_to_int("10.0.2.11")] > 2 * c[ip_to_int("10.0.2.10")]


def test_source_ip_stickiness_pins_a_client_across_connections():
    lb = LB(sticky=True)
    first = lb.connect(100)
    assert {k.type for k in first.created_keys} == {NatKeyType.FWD_STICKY_DNAT,
                                                    NatKeyType.REV_STICKY_DNAT}
    member = lb.member_of(first)
    assert all(lb.member_of(lb.connect(p)) == member for p in range(101, 160))
    other = {lb.member_of(lb.connect(p, client=lb.r.a2)) for p in range(100, 103)}
    assert len(other) == 1  # the second client is pinned too (possibly elsewhere)


def test_sticky_client_moves_when_its_member_fails():
    lb = LB(sticky=True)
    member = lb.member_of(lb.connect(100))
    index = 0 if member == ip_to_int("10.0.2.10") else 1
    lb.set_health(index, LBStatus.INACTIVE)
    assert lb.member_of(lb.connect(101)) != member


def test_non_vip_traffic_is_untouched():
    lb = LB()
    res = lb.s.simulate(lb.s.tcp(lb.r.a1, lb.r.rport_a.port_mac, lb.r.b1.ip, dport=80))
    f = {a.name: a.value for a in res.actions if isinstance(a, SetField)}
    assert f.get("ip_dst") is None and not res.stateful


def test_fragments_to_a_vip_are_dropped():
    from midonet_ryu.simulation.packet import FRAG_LATER

    lb = LB()
    first = lb.s.tcp(lb.r.a1, lb.r.rport_a.port_mac, ip_to_int(VIP), dport=80, frag=0x2000)
    assert lb.s.simulate(first).kind is ResultKind.DROP
    later = lb.s.tcp(lb.r.a1, lb.r.rport_a.port_mac, ip_to_int(VIP), frag=0x0010)
    assert later.ip_frag == FRAG_LATER
    assert lb.s.simulate(later).kind is ResultKind.DROP
