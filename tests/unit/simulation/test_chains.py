"""Rule chains: actions, jumps, filters at every attachment point, each condition field."""
from __future__ import annotations

import uuid

import pytest

from midonet_ryu.simulation import tags
from midonet_ryu.simulation.addr import ip_to_int
from midonet_ryu.simulation.packet import FRAG_FIRST, FRAG_LATER, FRAG_NONE, PROTO_TCP
from midonet_ryu.simulation.result import ResultKind, ToPort
from midonet_ryu.topology.model import Network, Port
from midonet_ryu.topology.rules import (
    FragmentPolicy,
    IPAddrGroup,
    IPAddrPorts,
    PortGroup,
    PortRange,
    Rule,
    RuleAction,
    RuleType,
)
from tools.scenario import Scenario, rule

ACCEPT, DROP, CONTINUE, RETURN, REJECT = (RuleAction.ACCEPT, RuleAction.DROP, RuleAction.CONTINUE,
                                          RuleAction.RETURN, RuleAction.REJECT)


def jump(chain, **cond):
    r = rule(RuleAction.JUMP, **cond)
    return r.replace(type=RuleType.JUMP_RULE, jump_chain_id=chain.id)


class Bridge:
    """Two VMs on one bridge; a chain can be put on the network's inbound filter."""

    def __init__(self):
        self.s = Scenario()
        self.net = self.s.network()
        self.a = self.s.vm_port(self.net, "10.0.0.1")
        self.b = self.s.vm_port(self.net, "10.0.0.2")
        self.s.learn(self.net, self.a)
        self.s.learn(self.net, self.b)

    def filter(self, *rules, where="network_in"):
        chain = self.s.chain(*rules)
        if where == "network_in":
            self.s.update(self.s.get(Network, self.net.id), inbound_filter_id=chain.id)
        elif where == "network_out":
            self.s.update(self.s.get(Network, self.net.id), outbound_filter_id=chain.id)
        elif where == "port_in":
            self.s.update(self.s.get(Port, self.a.port_id), inbound_filter_id=chain.id)
        elif where == "port_out":
            self.s.update(self.s.get(Port, self.b.port_id), outbound_filter_id=chain.id)
        return chain

    def send(self, **overrides):
        m = self.s.tcp(self.a, self.b.mac, self.b.ip, sport=5000, dport=80)
        for k, v in overrides.items():
            setattr(m, k, v)
        return self.s.simulate(m)


@pytest.mark.parametrize("where", ["network_in", "network_out", "port_in", "port_out"])
def test_drop_rule_at_every_attachment_point(where):
    br = Bridge()
    chain = br.filter(rule(DROP), where=where)
    res = br.send()
    assert res.kind is ResultKind.DROP
    assert tags.chain(chain.id) in res.tags


def test_first_deciding_rule_wins_and_continue_falls_through():
    br = Bridge()
    br.filter(rule(CONTINUE), rule(ACCEPT, nw_proto=PROTO_TCP), rule(DROP))
    assert br.send().kind is ResultKind.FORWARD
    assert br.send(ip_proto=17).kind is ResultKind.DROP


def test_empty_chain_accepts():
    br = Bridge()
    br.filter()
    assert br.send().actions == (ToPort(br.b.port_id),)


def test_jump_and_return():
    br = Bridge()
    sub = br.s.chain(rule(RETURN, tp_dst=PortRange(80, 80)), rule(DROP))
    br.filter(jump(sub), rule(ACCEPT))
    assert br.send().kind is ResultKind.FORWARD  # RETURN resumes the caller, which accepts
    assert br.send(tp_dst=81).kind is ResultKind.DROP  # DROP inside the jump ends it all


def test_accept_inside_jump_ends_the_filter():
    br = Bridge()
    sub = br.s.chain(rule(ACCEPT))
    br.filter(jump(sub), rule(DROP))
    assert br.send().kind is ResultKind.FORWARD


def test_jump_loop_is_an_error_drop():
    br = Bridge()
    c1 = br.s.chain()
    c2 = br.s.chain(jump(c1))
    for r in [jump(c2)]:
        br.s.put(r.replace(chain_id=c1.id))
        br.s.update(br.s.get(type(c1), c1.id), rule_ids=(r.id,))
    br.s.update(br.s.get(Network, br.net.id), inbound_filter_id=c1.id)
    res = br.send()
    assert res.kind is ResultKind.ERROR_DROP and "loop" in res.reason


def test_reject_on_a_bridge_is_a_plain_drop():
    br = Bridge()
    br.filter(rule(REJECT))
    res = br.send()
    assert res.kind is ResultKind.DROP and res.generated == ()


def test_reject_on_router_answers_admin_prohibited(routed):
    from midonet_ryu.simulation.packet import parse_frame
    from midonet_ryu.topology.router import Router

    r = routed
    chain = r.s.chain(rule(REJECT, nw_dst_ip="10.0.2.0/24"))
    r.s.update(r.s.get(Router, r.router.id), inbound_filter_id=chain.id)
    res = r.s.simulate(r.s.udp(r.a1, r.rport_a.port_mac, r.b1.ip))
    assert res.kind is ResultKind.DROP
    err = parse_frame(res.generated[0].frame, None)
    assert (err.icmp_type, err.icmp_code, err.ip_dst) == (3, 13, r.a1.ip)


def test_flood_respects_each_port_outbound_filter():
    br = Bridge()
    c = br.s.vm_port(br.net)
    chain = br.s.chain(rule(DROP))
    br.s.update(br.s.get(Port, c.port_id), outbound_filter_id=chain.id)
    res = br.send(eth_dst="02:55:55:55:55:55")
    assert res.actions == (ToPort(br.b.port_id),)


def test_rule_reads_only_what_it_needs():
    br = Bridge()
    br.filter(rule(DROP, tp_dst=PortRange(22, 22)))
    res = br.send()
    assert res.kind is ResultKind.FORWARD
    assert "tp_dst" in res.wildcard and "ip_src" not in res.wildcard


# --- every condition field, plain and inverted ----------------------------------

def _groups(br):
    pg = br.s.put(PortGroup(id=uuid.uuid4(), port_ids=(br.a.port_id,)))
    ipg = br.s.put(IPAddrGroup(id=uuid.uuid4(), ip_addr_ports=(IPAddrPorts("10.0.0.1"),)))
    ipg_dst = br.s.put(IPAddrGroup(id=uuid.uuid4(), ip_addr_ports=(IPAddrPorts("10.0.0.2"),)))
    return pg, ipg, ipg_dst


# (condition fields, inversion flag, packet overrides that make it NOT match)
CASES = {
    "in_port_ids": (lambda br: {"in_port_ids": (br.a.port_id,)}, "in_port_inv", None),
    "out_port_ids": (lambda br: {"out_port_ids": (br.b.port_id,)}, "out_port_inv", None),
    "port_group_id": (lambda br: {"port_group_id": _groups(br)[0].id}, "inv_port_group", None),
    "in_port_group_id": (lambda br: {"in_port_group_id": _groups(br)[0].id},
                         "inv_in_port_group", None),
    "ip_addr_group_id_src": (lambda br: {"ip_addr_group_id_src": _groups(br)[1].id},
                             "inv_ip_addr_group_id_src", {"ip_src": ip_to_int("10.0.0.9")}),
    "ip_addr_group_id_dst": (lambda br: {"ip_addr_group_id_dst": _groups(br)[2].id},
                             "inv_ip_addr_group_id_dst", {"ip_dst": ip_to_int("10.0.0.9")}),
    "dl_type": (lambda br: {"dl_type": 0x0800}, "inv_dl_type", {"eth_type": 0x86DD}),
    "dl_src": (lambda br: {"dl_src": br.a.mac}, "inv_dl_src", {"eth_src": "02:99:00:00:00:01"}),
    "dl_src_mask": (lambda br: {"dl_src": "02:00:00:ff:ff:ff", "dl_src_mask": "ff:ff:ff:00:00:00"},
                    "inv_dl_src", {"eth_src": "06:00:00:00:00:01"}),
    "dl_dst": (lambda br: {"dl_dst": br.b.mac}, "inv_dl_dst", None),
    "nw_tos": (lambda br: {"nw_tos": 0}, "nw_tos_inv", {"ip_tos": 32}),
    "nw_proto": (lambda br: {"nw_proto": 6}, "nw_proto_inv", {"ip_proto": 17}),
    "nw_src_ip": (lambda br: {"nw_src_ip": "10.0.0.0/24"}, "nw_src_inv",
                  {"ip_src": ip_to_int("10.0.1.1")}),
    "nw_dst_ip": (lambda br: {"nw_dst_ip": "10.0.0.2/32"}, "nw_dst_inv",
                  {"ip_dst": ip_to_int("10.0.0.3")}),
    "tp_src": (lambda br: {"tp_src": PortRange(4000, 6000)}, "tp_src_inv", {"tp_src": 7000}),
    "tp_dst": (lambda br: {"tp_dst": PortRange(80, 80)}, "tp_dst_inv", {"tp_dst": 443}),
    "traversed_device": (lambda br: {"traversed_device": br.net.id}, "traversed_device_inv",
                         None),
    "vlan": (lambda br: {"vlan": 7}, "vlan_inv", {"vlan_id": None}),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_condition_field_and_its_inversion(name):
    make, inv_flag, miss = CASES[name]
    overrides = {"vlan_id": 7} if name == "vlan" else {}
    for inverted in (False, True):
        br = Bridge()
        cond = make(br)
        if inverted:
            cond[inv_flag] = True
        where = "network_out" if name == "out_port_ids" else "network_in"
        br.filter(rule(DROP, **cond), where=where)
        dropped = br.send(**overrides).kind is ResultKind.DROP
        assert dropped is (not inverted), f"{name} inverted={inverted} on a matching packet"
        if miss is not None:
            dropped = br.send(**{**overrides, **miss}).kind is ResultKind.DROP
            assert dropped is inverted, f"{name} inverted={inverted} on a non-matching packet"


def test_out_port_group_in_outbound_filter():
    br = Bridge()
    pg = br.s.put(PortGroup(id=uuid.uuid4(), port_ids=(br.b.port_id,)))
    br.filter(rule(DROP, out_port_group_id=pg.id), where="network_out")
    assert br.send().kind is ResultKind.DROP
    assert tags.port_group(pg.id) in br.send().tags


def test_no_vlan_and_conjunction_inv():
    br = Bridge()
    br.filter(rule(DROP, no_vlan=True))
    assert br.send().kind is ResultKind.DROP
    assert br.send(vlan_id=5).kind is ResultKind.FORWARD
    br2 = Bridge()
    br2.filter(rule(DROP, nw_proto=6, tp_dst=PortRange(80, 80), conjunction_inv=True))
    assert br2.send().kind is ResultKind.FORWARD  # matches both: inverted -> rule skipped
    assert br2.send(tp_dst=22).kind is ResultKind.DROP


@pytest.mark.parametrize("policy,frag,dropped", [
    (FragmentPolicy.UNFRAGMENTED, FRAG_NONE, True),
    (FragmentPolicy.UNFRAGMENTED, FRAG_FIRST, False),
    (FragmentPolicy.HEADER, FRAG_FIRST, True),
    (FragmentPolicy.HEADER, FRAG_LATER, False),
    (FragmentPolicy.NONHEADER, FRAG_LATER, True),
    (FragmentPolicy.NONHEADER, FRAG_NONE, False),
    (FragmentPolicy.ANY, FRAG_LATER, True),
])
def test_fragment_policy(policy, frag, dropped):
    br = Bridge()
    br.filter(rule(DROP, fragment_policy=policy))
    overrides = {"ip_frag": frag}
    if frag == FRAG_LATER:
        overrides.update(tp_src=None, tp_dst=None)
    assert (br.send(**overrides).kind is ResultKind.DROP) is dropped


def test_later_fragment_never_matches_port_ranges():
    br = Bridge()
    br.filter(rule(DROP, tp_dst=PortRange(0, 65535)))
    res = br.send(ip_frag=FRAG_LATER, tp_src=None, tp_dst=None)
    assert res.kind is ResultKind.FORWARD


def test_rule_change_is_seen_on_the_next_simulation():
    br = Bridge()
    chain = br.filter(rule(ACCEPT))
    assert br.send().kind is ResultKind.FORWARD
    r = br.s.get(Rule, chain.rule_ids[0])
    br.s.put(r.replace(action=DROP))
    assert br.send().kind is ResultKind.DROP


def test_icmp_rule_matches_type_with_its_source_range_and_code_with_its_destination():
    br = Bridge()
    # accept echo requests (type 8, code 0) only; everything else ICMP dropped
    br.filter(rule(ACCEPT, nw_proto=1, tp_src=PortRange(8, 8), tp_dst=PortRange(0, 0)),
              rule(DROP, nw_proto=1))
    echo = br.s.icmp_echo(br.a, br.b.mac, br.b.ip)
    assert br.s.simulate(echo).kind is ResultKind.FORWARD
    echo.icmp_type = 0  # an echo reply is another type
    assert br.s.simulate(echo).kind is ResultKind.DROP
