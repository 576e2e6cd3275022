"""Connection tracking through security-group style chains."""
from __future__ import annotations

from midonet_ryu.simulation import tags
from midonet_ryu.simulation.packet import PROTO_TCP
from midonet_ryu.simulation.result import ResultKind, ToPort
from midonet_ryu.simulation.state import ConntrackKey
from midonet_ryu.topology.model import Port
from midonet_ryu.topology.rules import PortRange, RuleAction
from tools.scenario import Scenario, rule

ACCEPT, DROP = RuleAction.ACCEPT, RuleAction.DROP


def sg_bridge():
    """VM b only admits tcp/22 and return traffic; VM a only admits return traffic."""
    s = Scenario()
    net = s.network()
    a, b = s.vm_port(net, "10.0.0.1"), s.vm_port(net, "10.0.0.2")
    s.learn(net, a)
    s.learn(net, b)
    to_b = s.chain(rule(ACCEPT, match_return_flow=True),
                   rule(ACCEPT, nw_proto=PROTO_TCP, tp_dst=PortRange(22, 22)), rule(DROP))
    to_a = s.chain(rule(ACCEPT, match_return_flow=True), rule(DROP))
    from_vm = s.chain(rule(ACCEPT, match_forward_flow=True), rule(ACCEPT))
    s.update(s.get(Port, b.port_id), outbound_filter_id=to_b.id, inbound_filter_id=from_vm.id)
    s.update(s.get(Port, a.port_id), outbound_filter_id=to_a.id, inbound_filter_id=from_vm.id)
    return s, net, a, b


def test_forward_flow_creates_the_return_key_and_replies_pass():
    s, net, a, b = sg_bridge()
    fwd = s.simulate(s.tcp(a, b.mac, b.ip, sport=40000, dport=22))
    assert fwd.actions == (ToPort(b.port_id),) and fwd.stateful
    ret_key = ConntrackKey(net.id, b.ip, 22, a.ip, 40000, PROTO_TCP)
    assert ret_key in fwd.created_keys
    reply = s.simulate(s.tcp(b, a.mac, a.ip, sport=22, dport=40000))
    assert reply.actions == (ToPort(a.port_id),)
    assert tags.state_key(ret_key) in reply.tags
    assert reply.created_keys == frozenset()  # a return flow creates nothing


def test_new_connection_from_the_other_side_is_dropped():
    s, net, a, b = sg_bridge()
    s.simulate(s.tcp(a, b.mac, b.ip, sport=40000, dport=22))
    res = s.simulate(s.tcp(b, a.mac, a.ip, sport=22, dport=40001))
    assert res.kind is ResultKind.DROP
    assert s.simulate(s.tcp(a, b.mac, b.ip, dport=80)).kind is ResultKind.DROP


def test_replies_are_dropped_once_state_expires():
    s, net, a, b = sg_bridge()
    s.simulate(s.tcp(a, b.mac, b.ip, sport=40000, dport=22))
    s.state.expire(s.now + 61)
    assert s.simulate(s.tcp(b, a.mac, a.ip, sport=22, dport=40000)).kind is ResultKind.DROP


def test_icmp_echo_is_tracked_by_id():
    s, net, a, b = sg_bridge()
    s.update(s.get(Port, b.port_id), outbound_filter_id=None)
    s.simulate(s.icmp_echo(a, b.mac, b.ip, ident=321))
    from midonet_ryu.simulation import packet_builders
    from midonet_ryu.simulation.packet import parse_frame

    reply = packet_builders.icmp_echo_request(b.mac, a.mac, b.ip, a.ip, ident=321)
    m = parse_frame(reply, b.port_id)
    m.icmp_type = 0
    assert s.simulate(m).actions == (ToPort(a.port_id),)
    m2 = parse_frame(packet_builders.icmp_echo_request(b.mac, a.mac, b.ip, a.ip, ident=999),
                     b.port_id)
    assert s.simulate(m2).kind is ResultKind.DROP


def test_flows_that_never_ask_are_not_stateful():
    s = Scenario()
    net = s.network()
    a, b = s.vm_port(net, "10.0.0.1"), s.vm_port(net, "10.0.0.2")
    s.learn(net, b)
    res = s.simulate(s.tcp(a, b.mac, b.ip))
    assert not res.stateful and res.state_keys == ()


def test_routed_conntrack_key_belongs_to_the_egress_device(routed):
    r = routed
    chain = r.s.chain(rule(ACCEPT, match_return_flow=True), rule(ACCEPT))
    r.s.update(r.s.get(Port, r.a1.port_id), inbound_filter_id=chain.id)
    res = r.s.simulate(r.s.tcp(r.a1, r.rport_a.port_mac, r.b1.ip, sport=1111, dport=80))
    assert ConntrackKey(r.net_b.id, r.b1.ip, 80, r.a1.ip, 1111, PROTO_TCP) in res.created_keys
