"""The wildcard promise: a flow serves every packet that agrees on the fields read.

For random packets through a topology with VLANs, a router, a security group
(conntrack, address groups), SNAT and a load balancer, any packet that
differs from the simulated one only in fields *outside* the result's
wildcard must get the very same actions, from the same state. If a device
read a field without recording it, some mutation of that field changes the
outcome and this test finds it.
"""
from __future__ import annotations

import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from midonet_ryu.simulation.addr import ip_to_int
from midonet_ryu.simulation.engine import simulate
from midonet_ryu.simulation.packet import ETH_ARP, ETH_IPV4, MATCH_FIELDS, FlowMatch
from midonet_ryu.simulation.result import ResultKind
from midonet_ryu.topology.lb import LoadBalancer, Pool, PoolMember, Vip
from midonet_ryu.topology.model import Network, Port
from midonet_ryu.topology.router import NextHop, Router
from midonet_ryu.topology.rules import (
    FragmentPolicy,
    IPAddrGroup,
    IPAddrPorts,
    NatRuleData,
    NatTarget,
    PortRange,
    RuleAction,
    RuleType,
)
from tools.scenario import build_routed, rule

IP = ip_to_int


def _world():
    r = build_routed()
    s = r.s
    uplink = s.router_port(r.router, "192.0.2.1", "192.0.2.0/24", host_id=uuid.UUID(int=1),
                           interface_name="eth1")
    s.route(r.router, "0.0.0.0/0", uplink, gateway="192.0.2.254")
    s.route(r.router, "198.51.100.0/24", next_hop=NextHop.REJECT)
    s.route(r.router, "203.0.113.0/24", uplink, gateway="192.0.2.254", weight=100)
    s.route(r.router, "203.0.113.0/24", uplink, gateway="192.0.2.253", weight=100)
    s.arp(r.router, "192.0.2.254", "02:fe:00:00:00:01")
    s.arp(r.router, "192.0.2.253", "02:fe:00:00:00:02")
    group = s.put(IPAddrGroup(id=uuid.uuid4(), ip_addr_ports=(IPAddrPorts("10.0.1.10"),)))
    sg = s.chain(rule(RuleAction.ACCEPT, match_return_flow=True),
                 rule(RuleAction.ACCEPT, nw_proto=6, tp_dst=PortRange(22, 22),
                      ip_addr_group_id_src=group.id),
                 rule(RuleAction.DROP, fragment_policy=FragmentPolicy.NONHEADER),
                 rule(RuleAction.ACCEPT, nw_proto=1),
                 rule(RuleAction.DROP))
    s.update(s.get(Port, r.b1.port_id), outbound_filter_id=sg.id)
    snat = rule(RuleAction.ACCEPT, out_port_ids=(uplink.id,)).replace(
        type=RuleType.NAT_RULE,
        nat_rule_data=NatRuleData(nat_targets=(NatTarget("192.0.2.1", "192.0.2.1", 1024,
                                                         2047),)))
    unsnat = rule(RuleAction.ACCEPT, in_port_ids=(uplink.id,)).replace(
        type=RuleType.NAT_RULE, nat_rule_data=NatRuleData(reverse=True))
    s.update(s.get(Router, r.router.id), outbound_filter_id=s.chain(snat).id,
             inbound_filter_id=s.chain(unsnat).id)
    for block in range(16, 32):
        s.state.lease_snat_block(r.router.id, IP("192.0.2.1"), block)
    lb = LoadBalancer(id=uuid.uuid4(), router_id=r.router.id)
    pool = Pool(id=uuid.uuid4(), load_balancer_id=lb.id)
    member = s.put(PoolMember(id=uuid.uuid4(), pool_id=pool.id, address="10.0.2.11",
                              protocol_port=8080))
    vip = s.put(Vip(id=uuid.uuid4(), pool_id=pool.id, address="10.0.1.100", protocol_port=80))
    s.put(pool.replace(pool_member_ids=(member.id,), vip_ids=(vip.id,)))
    s.put(lb.replace(pool_ids=(pool.id,)))
    s.update(s.get(Router, r.router.id), load_balancer_id=lb.id)
    trunk = s.vm_port(r.net_a)
    access = s.vm_port(r.net_a, vlan_id=10)
    s.learn(r.net_a, access, vlan=10)
    s.update(s.get(Network, r.net_a.id))
    # Established connections, so return flows and reverse NAT have state.
    ports = []
    for sport in (1000, 2000):
        res = s.simulate(s.tcp(r.a1, r.rport_a.port_mac, IP("8.8.8.8"), sport=sport, dport=80))
        ports += [a.value for a in res.actions if getattr(a, "name", "") == "tp_src"]
        s.simulate(s.tcp(r.a1, r.rport_a.port_mac, r.b1.ip, sport=sport, dport=22))
    return r, trunk, access, uplink, ports


R, TRUNK, ACCESS, UPLINK, NAT_PORTS = _world()
MACS = [R.a1.mac, R.a2.mac, R.b1.mac, R.rport_a.port_mac, R.rport_b.port_mac,
        UPLINK.port_mac, "ff:ff:ff:ff:ff:ff",
        "01:00:5e:00:00:01", "02:12:34:56:78:9a", ACCESS.mac]
IPS = [IP(x) for x in ("10.0.1.10", "10.0.1.11", "10.0.2.10", "10.0.2.11", "10.0.1.1",
                       "10.0.2.1", "10.0.1.100", "8.8.8.8", "198.51.100.7", "203.0.113.9",
                       "192.0.2.1")]
PORTS = [R.a1.port_id, R.a2.port_id, TRUNK.port_id, ACCESS.port_id, UPLINK.id, R.b1.port_id]
CHOICES = {
    "in_port": (PORTS),
    "eth_src": (MACS[:3] + [ACCESS.mac, "02:00:00:00:99:99"]),
    "eth_dst": (MACS + [R.rport_a.port_mac, UPLINK.port_mac] * 3),  # routed
    "eth_type": ([ETH_IPV4] * 6 + [ETH_ARP, 0x86DD]),
    "vlan_id": ([None, None, 10, 20]),
    "ip_src": (IPS),
    "ip_dst": (IPS),
    "ip_proto": ([6, 17, 1]),
    "ip_tos": ([0, 32]),
    "ip_ttl": ([1, 2, 64]),
    "ip_frag": ([0, 0, 1, 2]),
    "tp_src": ([1000, 2000, 22, 80] + NAT_PORTS),
    "tp_dst": ([22, 80, 53, 1000, 2000] + NAT_PORTS),
    "icmp_type": ([None, 8, 0]),
    "icmp_code": ([None, 0]),
    "icmp_id": ([None, 1, 2]),
    "arp_op": ([1, 2]),
    "arp_spa": (IPS),
    "arp_tpa": (IPS),
    "arp_sha": (MACS[:3]),
    "arp_tha": (["00:00:00:00:00:00", R.a1.mac]),
}


VALUES = {name: st.sampled_from(list(c)) for name, c in CHOICES.items()}


def _consistent(m: FlowMatch) -> FlowMatch:
    """Keep combinations a parser could produce (no ports on later fragments...)."""
    if m.eth_type != ETH_IPV4:
        for f in ("ip_src", "ip_dst", "ip_proto", "ip_tos", "ip_ttl", "ip_frag", "tp_src",
                  "tp_dst", "icmp_type", "icmp_code", "icmp_id"):
            setattr(m, f, None)
    if m.eth_type != ETH_ARP:
        for f in ("arp_op", "arp_spa", "arp_tpa", "arp_sha", "arp_tha"):
            setattr(m, f, None)
    if m.eth_type == ETH_IPV4:
        if m.ip_proto == 1 or m.ip_frag == 2:
            m.tp_src = m.tp_dst = None
        if m.ip_proto != 1 or m.ip_frag == 2:
            m.icmp_type = m.icmp_code = m.icmp_id = None
        elif m.icmp_type is None:
            m.icmp_type, m.icmp_code = 8, 0
        if m.ip_proto == 1 and m.icmp_type in (0, 8) and m.icmp_id is None and m.ip_frag != 2:
            m.icmp_id = 1
    return m


matches = st.builds(lambda **kw: _consistent(FlowMatch(**kw)), **VALUES)


def _outcome(res):
    return (res.kind, res.actions, res.drop_timeout)


def _reply_to_snat() -> FlowMatch:
    return FlowMatch(in_port=UPLINK.id, eth_src="02:fe:00:00:00:01", eth_dst=UPLINK.port_mac,
                     eth_type=ETH_IPV4, ip_src=IP("8.8.8.8"), ip_dst=IP("192.0.2.1"), ip_proto=6,
                     ip_tos=0, ip_ttl=60, ip_frag=0, tp_src=80, tp_dst=NAT_PORTS[0])


def _return_into_sg() -> FlowMatch:
    return FlowMatch(in_port=R.b1.port_id, eth_src=R.b1.mac, eth_dst=R.rport_b.port_mac,
                     eth_type=ETH_IPV4, ip_src=R.b1.ip, ip_dst=R.a1.ip, ip_proto=6, ip_tos=0,
                     ip_ttl=60, ip_frag=0, tp_src=22, tp_dst=1000)


def check_free_fields(m: FlowMatch) -> None:
    """Try every candidate value of every field outside the wildcard, one at a time."""
    s = R.s
    first = simulate(m, s.topology, s.state, s.now)
    if first.kind is ResultKind.CONSUMED or (first.kind is ResultKind.DROP
                                             and first.drop_timeout == 0.0):
        return  # no flow is installed for these: nothing to share
    for name in MATCH_FIELDS:
        if name in first.wildcard:
            continue
        for value in CHOICES[name]:
            other = m.copy()
            other.frame = None
            setattr(other, name, value)
            other = _consistent(other)
            if any(getattr(other, f) != getattr(m, f) for f in first.wildcard):
                continue  # the consistency fix touched a read field
            second = simulate(other, s.topology, s.state, s.now)
            assert _outcome(second) == _outcome(first), (
                f"{name}={value!r} changed the outcome although it is outside the wildcard "
                f"{sorted(first.wildcard)}: {m}: {first.reason!r} vs {second.reason!r}")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(matches)
def test_packets_agreeing_on_the_wildcard_get_the_same_result(m):
    check_free_fields(m)


def test_reply_through_reverse_snat_and_a_reply_across_the_router():
    reply = FlowMatch(in_port=UPLINK.id, eth_src="02:fe:00:00:00:01", eth_dst=UPLINK.port_mac,
                      eth_type=ETH_IPV4, ip_src=IP("8.8.8.8"), ip_dst=IP("192.0.2.1"),
                      ip_proto=6, ip_tos=0, ip_ttl=60, ip_frag=0, tp_src=80,
                      tp_dst=NAT_PORTS[0])
    back = FlowMatch(in_port=R.b1.port_id, eth_src=R.b1.mac, eth_dst=R.rport_b.port_mac,
                     eth_type=ETH_IPV4, ip_src=R.b1.ip, ip_dst=R.a1.ip, ip_proto=6, ip_tos=0,
                     ip_ttl=60, ip_frag=0, tp_src=22, tp_dst=1000)
    res = simulate(reply, R.s.topology, R.s.state, R.s.now)
    assert res.kind is ResultKind.FORWARD and res.stateful  # translated back by NAT state
    assert simulate(back, R.s.topology, R.s.state, R.s.now).kind is ResultKind.FORWARD
    check_free_fields(reply)
    check_free_fields(back)
