"""Two agents' replicators end to end, over the real simulation engine: the
return packet simulated on the other host is translated only with the state."""
from __future__ import annotations

import copy
import uuid

import pytest

from midonet_ryu.flowstate.replicator import FlowStateReplicator
from midonet_ryu.metrics import AgentCounter as C
from midonet_ryu.simulation.addr import ip_to_int
from midonet_ryu.simulation.result import ResultKind, SetField, ToPort
from midonet_ryu.simulation.state import NatKey, NatKeyType
from midonet_ryu.topology.model import HostToIp, Port, TunnelZone
from midonet_ryu.topology.router import Router
from midonet_ryu.topology.rules import NatRuleData, NatTarget, RuleType
from tools.scenario import VM, build_routed, rule

HA, HB, HC = uuid.UUID(int=0xA), uuid.UUID(int=0xB), uuid.UUID(int=0xC)
IPS = {HA: "192.0.2.1", HB: "192.0.2.2"}
PUBLIC = "203.0.113.1"
GW_MAC = "02:fe:00:00:00:01"


def nat_rule(dnat=False, reverse=False, targets=(), **condition):
    return rule(**condition).replace(type=RuleType.NAT_RULE, nat_rule_data=NatRuleData(
        dnat=dnat, reverse=reverse, nat_targets=targets))


class TwoHosts:
    """VM a1 on host A behind a masquerading router whose uplink is on host B."""

    def __init__(self) -> None:
        r = build_routed()
        s = self.s = r.s
        self.r = r
        self.uplink = s.router_port(r.router, PUBLIC, "203.0.113.0/24", host_id=HB,
                                    interface_name="eth1")
        s.route(r.router, "0.0.0.0/0", self.uplink, gateway="203.0.113.254")
        s.arp(r.router, "203.0.113.254", GW_MAC)
        out = s.chain(nat_rule(targets=(NatTarget(PUBLIC, PUBLIC, 1024, 65535),),
                               out_port_ids=(self.uplink.id,)))
        inb = s.chain(nat_rule(reverse=True, in_port_ids=(self.uplink.id,),
                               nw_dst_ip=PUBLIC + "/32"))
        s.update(s.get(Router, r.router.id), outbound_filter_id=out.id,
                 inbound_filter_id=inb.id)
        for vm in (r.a1, r.a2, r.b1, r.b2):
            s.update(s.get(Port, vm.port_id), host_id=HA)
        for block in range(1024 // 64, 65536 // 64):
            s.state.lease_snat_block(r.router.id, ip_to_int(PUBLIC), block)
        self.state_a = s.state
        self.state_b = copy.deepcopy(s.state)  # same tables, no flow state yet
        self.a = FlowStateReplicator(HA, s.topology, self.state_a, IPS.get)
        self.b = FlowStateReplicator(HB, s.topology, self.state_b, IPS.get)

    def forward(self, sport=1000):
        s = self.s
        res = s.simulate(s.tcp(self.r.a1, self.r.rport_a.port_mac, ip_to_int("8.8.8.8"),
                               sport=sport, dport=80))
        assert res.kind is ResultKind.FORWARD and res.egress_port_ids == (self.uplink.id,)
        return res

    def reply_on_b(self, nat_port):
        s = self.s
        outside = VM(self.uplink.id, GW_MAC, ip_to_int("8.8.8.8"))
        saved, s.state = s.state, self.state_b
        try:
            return s.simulate(s.tcp(outside, self.uplink.port_mac, ip_to_int(PUBLIC),
                                    sport=80, dport=nat_port))
        finally:
            s.state = saved


def fields(res):
    return {a.name: a.value for a in res.actions if isinstance(a, SetField)}


def test_snat_state_reaches_the_uplink_host_and_translates_the_reply():
    w = TwoHosts()
    fwd = w.forward()
    nat_port = fields(fwd)["tp_src"]
    # without the state, host B takes the reply for the router's own address
    assert w.reply_on_b(nat_port).kind is ResultKind.DROP
    packets = w.a.outgoing(fwd, w.r.a1.port_id, w.s.now)
    assert packets and {ip for ip, _ in packets} == {IPS[HB]}
    news = []
    for _, frame in packets:
        news += w.b.incoming(frame, w.s.now + 0.001)
    assert {k.type for k in news if isinstance(k, NatKey)} == {NatKeyType.FWD_SNAT,
                                                                 NatKeyType.REV_SNAT}
    back = w.reply_on_b(nat_port)
    assert back.actions[-1] == ToPort(w.r.a1.port_id)
    assert fields(back)["ip_dst"] == w.r.a1.ip and fields(back)["tp_dst"] == 1000


def test_refresh_is_paced_and_return_traffic_does_not_echo_state_back():
    w = TwoHosts()
    fwd = w.forward()
    now = w.s.now
    for _, frame in w.a.outgoing(fwd, w.r.a1.port_id, now):
        w.b.incoming(frame, now)
    # the same flow simulated again within half a TTL: nothing to send
    assert w.a.outgoing(fwd, w.r.a1.port_id, now + 29.0) == []
    # at half the TTL (the stateful flow's hard timeout) the peer is refreshed
    assert w.a.outgoing(fwd, w.r.a1.port_id, now + 30.0)
    # B's reply uses the keys A sent it: it does not send them back to A
    back = w.reply_on_b(fields(fwd)["tp_src"])
    assert back.state_keys
    assert w.b.outgoing(back, w.uplink.id, now + 1.0) == []


def test_imported_keys_last_one_and_a_half_ttl():
    w = TwoHosts()
    fwd = w.forward()
    t0 = w.s.now
    for _, frame in w.a.outgoing(fwd, w.r.a1.port_id, t0):
        w.b.incoming(frame, t0)
    rev = next(k for k, _ in fwd.state_keys if getattr(k, "type", None) is NatKeyType.REV_SNAT)
    w.state_b.expire(t0 + 89.0)
    assert rev in w.state_b.nat
    w.state_b.expire(t0 + 90.0)
    assert rev not in w.state_b.nat


def test_a_repeated_packet_reports_no_news_so_flows_are_not_invalidated_again():
    w = TwoHosts()
    frames = [f for _, f in w.a.outgoing(w.forward(), w.r.a1.port_id, w.s.now)]
    assert w.b.incoming(frames[0], w.s.now)
    assert w.b.incoming(frames[0], w.s.now + 1) == []


def test_own_and_malformed_packets():
    w = TwoHosts()
    frames = [f for _, f in w.a.outgoing(w.forward(), w.r.a1.port_id, w.s.now)]
    assert w.a.incoming(frames[0], w.s.now) == []  # our own, reflected
    before = len(w.state_b)
    with pytest.raises(ValueError):
        w.b.incoming(frames[0][:-3], w.s.now)
    assert len(w.state_b) == before  # nothing half-imported


def test_peer_without_underlay_address_is_skipped():
    w = TwoHosts()
    shell = FlowStateReplicator(HA, w.s.topology, w.state_a, lambda host: None)
    assert shell.outgoing(w.forward(), w.r.a1.port_id, w.s.now) == []
    assert shell.counts[C.FLOW_STATE_PEER_UNREACHABLE] == 1


def test_local_flow_sends_nothing():
    w = TwoHosts()
    s = w.s
    # a1 -> b1 through the router, both on host A, with a conntrack-asking rule
    ch = s.chain(rule(match_forward_flow=True))
    s.update(s.get(Port, w.r.a1.port_id), inbound_filter_id=ch.id)
    res = s.simulate(s.tcp(w.r.a1, w.r.rport_a.port_mac, w.r.b1.ip, sport=5, dport=6))
    assert res.state_keys
    assert w.a.outgoing(res, w.r.a1.port_id, s.now) == []


def test_dnat_state_reaches_the_backend_host_and_restores_the_reply_source():
    """Port forwarding: the request enters on the uplink host (B), the backend's
    reply on the backend's host (A), which needs B's reverse DNAT key."""
    from midonet_ryu.topology.rules import PortRange

    w = TwoHosts()
    s, r = w.s, w.r
    inb = s.chain(nat_rule(dnat=True, targets=(NatTarget("10.0.2.10", "10.0.2.10", 8080, 8080),),
                           nw_dst_ip=PUBLIC + "/32", tp_dst=PortRange(80, 80)))
    out = s.chain(nat_rule(dnat=True, reverse=True))
    s.update(s.get(Router, r.router.id), inbound_filter_id=inb.id, outbound_filter_id=out.id)
    outside = VM(w.uplink.id, GW_MAC, ip_to_int("8.8.8.8"))
    saved, s.state = s.state, w.state_b  # the request is simulated on host B
    try:
        req = s.simulate(s.tcp(outside, w.uplink.port_mac, ip_to_int(PUBLIC), sport=5555,
                               dport=80))
    finally:
        s.state = saved
    assert fields(req)["ip_dst"] == r.b1.ip and req.egress_port_ids == (r.b1.port_id,)

    def reply():
        return s.simulate(s.tcp(r.b1, r.rport_b.port_mac, ip_to_int("8.8.8.8"), sport=8080,
                                dport=5555), apply=False)

    assert fields(reply()).get("ip_src") != ip_to_int(PUBLIC)  # host A alone cannot undo it
    for ip, frame in w.b.outgoing(req, w.uplink.id, s.now):
        assert ip == IPS[HA]
        w.a.incoming(frame, s.now)
    back = reply()
    assert fields(back)["ip_src"] == ip_to_int(PUBLIC) and fields(back)["tp_src"] == 80
    assert back.egress_port_ids == (w.uplink.id,)


def test_state_is_imported_only_from_its_senders_address_in_a_shared_zone():
    w = TwoHosts()
    w.s.put(TunnelZone(id=uuid.uuid4(), name="default", hosts=(
        HostToIp(HA, IPS[HA]), HostToIp(HB, IPS[HB]), HostToIp(HC, "192.0.2.3")),
        host_ids=(HA, HB, HC)))
    frames = [f for _, f in w.a.outgoing(w.forward(), w.r.a1.port_id, w.s.now)]
    before = len(w.state_b)
    # another member, or anything else on the underlay, claiming to be A
    for forged_from in ("192.0.2.3", "198.51.100.7"):
        assert w.b.incoming(frames[0], w.s.now, source_ip=forged_from) == []
    assert len(w.state_b) == before
    assert w.b.counts[C.FLOW_STATE_UNTRUSTED] == 2
    assert w.b.incoming(frames[0], w.s.now, source_ip=IPS[HA])  # A, from A's address


def test_a_sender_in_no_zone_with_the_receiver_is_not_trusted():
    w = TwoHosts()
    w.s.put(TunnelZone(id=uuid.uuid4(), name="other", hosts=(HostToIp(HA, IPS[HA]),),
                       host_ids=(HA,)))
    frames = [f for _, f in w.a.outgoing(w.forward(), w.r.a1.port_id, w.s.now)]
    assert w.b.incoming(frames[0], w.s.now, source_ip=IPS[HA]) == []
    assert w.b.counts[C.FLOW_STATE_UNTRUSTED] == 1


def test_a_migrating_port_hands_its_live_keys_to_its_new_host_once():
    w = TwoHosts()
    ips = {**IPS, HC: "192.0.2.3"}
    a = FlowStateReplicator(HA, w.s.topology, w.state_a, ips.get)
    c_state = copy.deepcopy(w.state_b)
    c = FlowStateReplicator(HC, w.s.topology, c_state, ips.get)
    fwd = w.forward()
    a.outgoing(fwd, w.r.a1.port_id, w.s.now)
    packets = a.hand_over(w.r.a1.port_id, HC, w.s.now + 1)
    assert packets and {ip for ip, _ in packets} == {ips[HC]}
    news = [k for _, frame in packets for k in c.incoming(frame, w.s.now + 1)]
    assert set(news) == {k for k, _ in fwd.state_keys}
    assert a.counts[C.FLOW_STATE_HANDED_OVER] == len(news)
    assert a.hand_over(w.r.a1.port_id, HC, w.s.now + 2) == []  # handed over once


def test_expired_and_forgotten_ports_hand_nothing_over():
    w = TwoHosts()
    fwd = w.forward()
    w.a.outgoing(fwd, w.r.a1.port_id, w.s.now)
    w.state_a.expire(w.s.now + 1000.0)
    assert w.a.hand_over(w.r.a1.port_id, HB, w.s.now + 1000.0) == []
    w.a.outgoing(w.forward(sport=1001), w.r.a1.port_id, w.s.now)
    w.a.forget_port(w.r.a1.port_id)
    assert w.a.hand_over(w.r.a1.port_id, HB, w.s.now + 1) == []


def test_a_move_to_a_host_without_underlay_address_is_counted():
    w = TwoHosts()
    w.a.outgoing(w.forward(), w.r.a1.port_id, w.s.now)
    assert w.a.hand_over(w.r.a1.port_id, HC, w.s.now) == []
    assert w.a.counts[C.FLOW_STATE_PEER_UNREACHABLE] == 1
