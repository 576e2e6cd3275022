"""NAT: SNAT with leased port blocks, DNAT, floating IPs, reverses, and properties."""
from __future__ import annotations

import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from midonet_ryu.simulation.addr import ip_to_int
from midonet_ryu.simulation.packet import FRAG_FIRST, PROTO_TCP, PROTO_UDP
from midonet_ryu.simulation.result import ResultKind, SetField, SnatBlockRequest, ToPort
from midonet_ryu.simulation.state import NatKeyType
from midonet_ryu.topology.router import Router
from midonet_ryu.topology.rules import NatRuleData, NatTarget, RuleAction, RuleType
from tools.scenario import VM, build_routed, rule

IP = ip_to_int
PUBLIC = "192.0.2.1"
GW_MAC = "02:fe:00:00:00:01"


def nat_rule(action=RuleAction.ACCEPT, dnat=False, reverse=False, targets=(), **cond):
    r = rule(action, **cond)
    return r.replace(type=RuleType.NAT_RULE,
                     nat_rule_data=NatRuleData(dnat=dnat, reverse=reverse, nat_targets=targets))


class Gateway:
    """The routed scenario plus an uplink (exterior router port) doing masquerade."""

    def __init__(self, snat_ports=(1024, 65535), lease=True):
        self.r = r = build_routed()
        s = r.s
        self.uplink = s.router_port(r.router, PUBLIC, "192.0.2.0/24",
                                    host_id=uuid.UUID(int=1), interface_name="eth1")
        s.route(r.router, "0.0.0.0/0", self.uplink, gateway="192.0.2.254")
        s.arp(r.router, "192.0.2.254", GW_MAC)
        out = s.chain(nat_rule(targets=(NatTarget(PUBLIC, PUBLIC, *snat_ports),),
                               out_port_ids=(self.uplink.id,)))
        inb = s.chain(nat_rule(reverse=True, in_port_ids=(self.uplink.id,),
                               nw_dst_ip=PUBLIC + "/32"))
        s.update(s.get(Router, r.router.id), outbound_filter_id=out.id, inbound_filter_id=inb.id)
        self.s = s
        if lease:
            for block in range(snat_ports[0] // 64, snat_ports[1] // 64 + 1):
                s.state.lease_snat_block(r.router.id, IP(PUBLIC), block)

    def out(self, sport=1000, dport=80, src=None, proto="tcp"):
        src = src or self.r.a1
        send = self.s.tcp if proto == "tcp" else self.s.udp
        return self.s.simulate(send(src, self.r.rport_a.port_mac, IP("8.8.8.8"), sport=sport,
                                    dport=dport))

    def reply(self, nat_port, sport=80, src_ip="8.8.8.8"):
        outside = VM(self.uplink.id, GW_MAC, IP(src_ip))
        return self.s.simulate(self.s.tcp(outside, self.uplink.port_mac, IP(PUBLIC), sport=sport,
                                          dport=nat_port))


def fields(res):
    return {a.name: a.value for a in res.actions if isinstance(a, SetField)}


def test_snat_translates_and_reply_is_restored():
    g = Gateway()
    res = g.out(sport=1000)
    assert res.kind is ResultKind.FORWARD and res.actions[-1] == ToPort(g.uplink.id)
    f = fields(res)
    assert f["ip_src"] == IP(PUBLIC) and 1024 <= f["tp_src"] <= 65535
    types = {k.type for k in res.created_keys if hasattr(k, "type")}
    assert types == {NatKeyType.FWD_SNAT, NatKeyType.REV_SNAT}
    back = g.reply(f["tp_src"])
    assert back.actions[-1] == ToPort(g.r.a1.port_id)
    assert fields(back)["ip_dst"] == g.r.a1.ip and fields(back)["tp_dst"] == 1000
    # the same flow keeps its binding
    again = g.out(sport=1000)
    assert fields(again)["tp_src"] == f["tp_src"] and again.created_keys == frozenset()


def test_reply_without_state_is_not_translated():
    g = Gateway()
    res = g.reply(5555)
    assert res.kind is ResultKind.DROP  # for the router itself: not echo, dropped


def test_snat_without_leased_blocks_asks_for_one_and_installs_no_flow():
    g = Gateway(lease=False)
    res = g.out()
    assert res.kind is ResultKind.DROP and res.drop_timeout == 0.0
    assert res.snat_requests == (SnatBlockRequest(g.r.router.id, IP(PUBLIC), 1024, 65535),)
    g.s.state.lease_snat_block(g.r.router.id, IP(PUBLIC), 20)
    ok = g.out()
    assert 20 * 64 <= fields(ok)["tp_src"] < 21 * 64


def test_exhausted_block_then_expiry_frees_ports():
    g = Gateway(snat_ports=(1024, 1087))  # exactly one block of 64
    ports = {fields(g.out(sport=2000 + i))["tp_src"] for i in range(64)}
    assert ports == set(range(1024, 1088))
    full = g.out(sport=3000)
    assert full.kind is ResultKind.DROP and full.snat_requests
    g.s.state.expire(g.s.now + 61)
    assert g.out(sport=3000).kind is ResultKind.FORWARD


def test_snat_of_fragments_is_dropped():
    g = Gateway()
    m = g.s.tcp(g.r.a1, g.r.rport_a.port_mac, IP("8.8.8.8"), frag=0x2000)
    assert m.ip_frag == FRAG_FIRST
    assert g.s.simulate(m).kind is ResultKind.DROP


def test_icmp_echo_is_masqueraded_by_id():
    g = Gateway()
    res = g.s.simulate(g.s.icmp_echo(g.r.a1, g.r.rport_a.port_mac, IP("8.8.8.8"), ident=77))
    f = fields(res)
    assert f["ip_src"] == IP(PUBLIC) and "icmp_id" in f
    from midonet_ryu.simulation import packet_builders
    from midonet_ryu.simulation.packet import parse_frame

    reply = parse_frame(packet_builders.icmp_echo_request(GW_MAC, g.uplink.port_mac, IP("8.8.8.8"),
                                                 IP(PUBLIC), ident=f["icmp_id"]), g.uplink.id)
    reply.icmp_type = 0
    back = g.s.simulate(reply)
    assert fields(back)["icmp_id"] == 77 and back.actions[-1] == ToPort(g.r.a1.port_id)


def test_floating_ip_static_nat_both_directions():
    g = Gateway()
    s, r = g.s, g.r
    fip = "192.0.2.50"
    inb = s.chain(nat_rule(dnat=True, targets=(NatTarget("10.0.2.10", "10.0.2.10"),),
                           nw_dst_ip=fip + "/32"))
    out = s.chain(nat_rule(targets=(NatTarget(fip, fip),), nw_src_ip="10.0.2.10/32"))
    s.update(s.get(Router, r.router.id), inbound_filter_id=inb.id, outbound_filter_id=out.id)
    outside = VM(g.uplink.id, GW_MAC, IP("8.8.8.8"))
    res = s.simulate(s.tcp(outside, g.uplink.port_mac, IP(fip), sport=4444, dport=22))
    assert res.actions[-1] == ToPort(r.b1.port_id) and fields(res)["ip_dst"] == r.b1.ip
    assert not res.stateful  # static NAT keeps no state
    back = s.simulate(s.tcp(r.b1, r.rport_b.port_mac, IP("8.8.8.8"), sport=22, dport=4444))
    assert back.actions[-1] == ToPort(g.uplink.id) and fields(back)["ip_src"] == IP(fip)


def test_dynamic_dnat_with_port_and_reverse():
    g = Gateway()
    s, r = g.s, g.r
    inb = s.chain(nat_rule(dnat=True, targets=(NatTarget("10.0.2.10", "10.0.2.10", 8080, 8080),),
                           nw_dst_ip=PUBLIC + "/32", tp_dst=_range(80)))
    out = s.chain(nat_rule(dnat=True, reverse=True))
    s.update(s.get(Router, r.router.id), inbound_filter_id=inb.id, outbound_filter_id=out.id)
    outside = VM(g.uplink.id, GW_MAC, IP("8.8.8.8"))
    res = s.simulate(s.tcp(outside, g.uplink.port_mac, IP(PUBLIC), sport=5555, dport=80))
    assert fields(res)["ip_dst"] == r.b1.ip and fields(res)["tp_dst"] == 8080
    back = s.simulate(s.tcp(r.b1, r.rport_b.port_mac, IP("8.8.8.8"), sport=8080, dport=5555))
    assert fields(back)["ip_src"] == IP(PUBLIC) and fields(back)["tp_src"] == 80


def _range(port):
    from midonet_ryu.topology.rules import PortRange

    return PortRange(port, port)


# --- properties -------------------------------------------------------------

flows = st.tuples(st.sampled_from(["a1", "a2"]), st.integers(1, 65535), st.integers(1, 65535),
                  st.sampled_from(["tcp", "udp"]))


@settings(max_examples=60, deadline=None)
@given(st.lists(flows, min_size=1, max_size=40, unique=True))
def test_no_two_live_flows_share_a_snat_binding(batch):
    g = Gateway(snat_ports=(1024, 1215))  # three blocks: exhaustion is reachable
    bindings = {}
    for who, sport, dport, proto in batch:
        res = g.out(sport=sport, dport=dport, src=getattr(g.r, who), proto=proto)
        if res.kind is not ResultKind.FORWARD:
            assert res.snat_requests  # only ever refused for lack of ports
            continue
        f = fields(res)
        flow = (who, sport, dport, proto)
        # the allocator keeps the source port when it is free (no rewrite then)
        binding = (f["ip_src"], f.get("tp_src", sport))
        assert bindings.get(binding, flow) == flow
        bindings[binding] = flow
    live = [v for k, v in g.s.state.nat.items() if k.type is NatKeyType.FWD_SNAT]
    assert len(live) == len(set(live))


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 65535), st.integers(1, 65535), st.sampled_from([PROTO_TCP, PROTO_UDP]),
       st.integers(0, 255))
def test_translate_then_reverse_is_identity(sport, dport, proto, last_octet):
    g = Gateway()
    dst = IP(f"203.0.113.{last_octet}")
    send = g.s.tcp if proto == PROTO_TCP else g.s.udp
    out = g.s.simulate(send(g.r.a1, g.r.rport_a.port_mac, dst, sport=sport, dport=dport))
    f = fields(out)
    # the allocator keeps the source port when it is free: no SetField then,
    # and none on the reply either
    nat_port = f.get("tp_src", sport)
    outside = VM(g.uplink.id, GW_MAC, dst)
    back = g.s.simulate(send(outside, g.uplink.port_mac, f["ip_src"], sport=dport,
                             dport=nat_port))
    b = fields(back)
    assert (b["ip_dst"], b.get("tp_dst", nat_port)) == (g.r.a1.ip, sport)
    assert back.actions[-1] == ToPort(g.r.a1.port_id)


@pytest.mark.parametrize("n_ips", [1, 3])
def test_snat_over_an_address_range_spreads_and_stays_unique(n_ips):
    g = Gateway()
    s, r = g.s, g.r
    last = f"192.0.2.{9 + n_ips}"
    out = s.chain(nat_rule(targets=(NatTarget("192.0.2.10", last, 1024, 1087),),
                           out_port_ids=(g.uplink.id,)))
    s.update(s.get(Router, r.router.id), outbound_filter_id=out.id)
    for i in range(n_ips):
        s.state.lease_snat_block(r.router.id, IP(f"192.0.2.{10 + i}"), 16)
    seen = set()
    for sport in range(100, 100 + 64 * n_ips):
        f = fields(g.out(sport=sport))
        seen.add((f["ip_src"], f["tp_src"]))
    assert len(seen) == 64 * n_ips


def test_state_adapters_may_return_blocks_as_a_set():
    g = Gateway(lease=False)
    real = g.s.state

    class SetBlocks:
        def __getattr__(self, name):
            return getattr(real, name)

        def snat_blocks(self, device_id, ip):
            return set(real.snat_blocks(device_id, ip))

    real.lease_snat_block(g.r.router.id, IP(PUBLIC), 30)
    g.s.state = SetBlocks()
    res = g.out()
    assert 30 * 64 <= fields(res)["tp_src"] < 31 * 64


def test_a_translated_packet_that_is_dropped_afterwards_holds_no_port():
    g = Gateway()
    s = g.s
    from midonet_ryu.topology.model import Port

    drop_all = s.chain(rule(RuleAction.DROP))
    s.update(s.get(Port, g.uplink.id), outbound_filter_id=drop_all.id)
    res = g.out()
    assert res.kind is ResultKind.DROP
    assert res.created_keys == frozenset() and res.state_keys == ()
    assert not [k for k in s.state.nat if k.type is NatKeyType.FWD_SNAT]
