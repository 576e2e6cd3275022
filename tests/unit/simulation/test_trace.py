"""Packet traces: golden step lists for the main paths, request validation, and
that tracing changes nothing of what the engine decides."""
from __future__ import annotations

import dataclasses
import json
import uuid

import pytest

from midonet_ryu.simulation.addr import ip_to_int
from midonet_ryu.simulation.engine import simulate
from midonet_ryu.simulation.trace import (
    PacketDescription,
    Trace,
    TraceRequestError,
    render,
    to_json,
    trace_match,
    trace_packet,
)
from midonet_ryu.topology.lb import LoadBalancer, Pool, PoolMember, Vip
from midonet_ryu.topology.model import Network, Port
from midonet_ryu.topology.router import Router
from midonet_ryu.topology.rules import (
    NatRuleData,
    NatTarget,
    PortRange,
    RuleAction,
    RuleType,
)
from tools.scenario import VM, Scenario, rule

PUBLIC = "192.0.2.1"
UPSTREAM_MAC = "02:fe:00:00:00:01"
TCP = 6


@dataclasses.dataclass
class Cloud:
    """Every object named, so minimal traces read the same on every run.

    a1, a2 -- net-a (10.0.1.0/24) -- a-r == r-a -- router edge -- r-b == b-r --
    net-b (10.0.2.0/24) -- b1, b2; the router's uplink (exterior, 192.0.2.1)
    has the default route. MACs are learned, the router knows every next hop.
    """

    s: Scenario
    net_a: Network
    net_b: Network
    router: Router
    r_a: Port
    r_b: Port
    uplink: Port
    a1: VM
    a2: VM
    b1: VM
    b2: VM

    def trace(self, src: VM, **fields: object) -> Trace:
        body = {"port": str(src.port_id), "srcMac": src.mac, "srcIp": _ip(src.ip), **fields}
        return trace_packet(PacketDescription.from_json(body), self.s.topology, self.s.state,
                            self.s.now)

    def to_router(self, src: VM, dst_ip: str, **fields: object) -> Trace:
        return self.trace(src, dstMac=self.r_a.port_mac, dstIp=dst_ip, **fields)

    def filter_port(self, vm: VM, hook: str, *rules: object, name: str) -> None:
        chain = self.s.chain(*rules, name=name)
        self.s.update(self.s.get(Port, vm.port_id), **{f"{hook}_filter_id": chain.id})


def _ip(value: int) -> str:
    return f"{value >> 24}.{value >> 16 & 255}.{value >> 8 & 255}.{value & 255}"


def _attach(s: Scenario, router: Router, net: Network, address: str, subnet: str,
            rname: str, bname: str) -> Port:
    rport = s.router_port(router, address, subnet, name=rname)
    bport = s.port(net, name=bname)
    s.link(rport.id, bport.id)
    return s.get(Port, rport.id)


def build() -> Cloud:
    s = Scenario()
    net_a, net_b = s.network(name="net-a"), s.network(name="net-b")
    router = s.router(name="edge")
    r_a = _attach(s, router, net_a, "10.0.1.1", "10.0.1.0/24", "r-a", "a-r")
    r_b = _attach(s, router, net_b, "10.0.2.1", "10.0.2.0/24", "r-b", "b-r")
    uplink = s.router_port(router, PUBLIC, "192.0.2.0/24", name="uplink",
                           host_id=uuid.UUID(int=1), interface_name="eth1")
    s.route(router, "0.0.0.0/0", uplink, gateway="192.0.2.254")
    s.arp(router, "192.0.2.254", UPSTREAM_MAC)
    vms = {}
    for net, name, ip in ((net_a, "a1", "10.0.1.10"), (net_a, "a2", "10.0.1.11"),
                          (net_b, "b1", "10.0.2.10"), (net_b, "b2", "10.0.2.11")):
        vm = vms[name] = s.vm_port(net, ip, name=name)
        s.learn(net, vm)
        s.arp(router, ip, vm.mac)
    return Cloud(s, s.get(Network, net_a.id), s.get(Network, net_b.id),
                 s.get(Router, router.id), r_a, r_b, s.get(Port, uplink.id), **vms)


@pytest.fixture
def cloud() -> Cloud:
    return build()


# --- goldens ----------------------------------------------------------------


def test_l2_known_mac(cloud):
    c = cloud
    t = c.trace(c.a1, dstMac=c.a2.mac, dstIp="10.0.1.11", proto="udp", dstPort=53)
    assert render(t, "minimal") == [
        "ingress bridge net-a port a1",
        "mac-lookup 02:00:00:00:00:05 hit a2",
        "egress a2",
        "forward a2",
    ]
    assert t.result == "forward" and t.egress_ports == (c.a2.port_id,)
    assert t.actions == ({"type": "output", "port": str(c.a2.port_id)},)
    assert t.match == {"inPort": str(c.a1.port_id), "ethSrc": c.a1.mac, "ethDst": c.a2.mac,
                       "vlanId": None}


def test_l2_unknown_mac_floods_and_learns(cloud):
    c = cloud
    t = c.trace(c.b1, srcMac=c.b2.mac, dstMac="02:aa:00:00:00:99",
                dstIp="10.0.2.99", proto="udp")
    assert render(t, "minimal") == [
        "ingress bridge net-b port b1",
        "mac-learn 02:00:00:00:00:07 on b1",
        "mac-lookup 02:aa:00:00:00:99 miss",
        "flood b2",
        "forward b2",
    ]
    learn = t.steps[1]
    assert learn.detail["previous"] == str(c.b2.port_id)  # the MAC moved from b2
    assert learn.device_id == c.net_b.id and learn.device_type == "bridge"


def test_routed_between_two_networks(cloud):
    c = cloud
    t = c.to_router(c.a1, "10.0.2.10", proto="udp", srcPort=1000, dstPort=53)
    assert render(t, "minimal") == [
        "ingress bridge net-a port a1",
        "mac-lookup 02:00:00:00:00:01 router-port a-r",
        "egress a-r -> r-a",
        "ingress router edge port r-a",
        "route 10.0.2.10 via 10.0.2.0/24 -> r-b",
        "next-hop 10.0.2.10 02:00:00:00:00:06 (arp-table)",
        "egress r-b -> b-r",
        "ingress bridge net-b port b-r",
        "mac-lookup 02:00:00:00:00:06 hit b1",
        "egress b1",
        "forward b1",
    ]
    assert [a["field"] for a in t.actions if a["type"] == "set"] == ["ethSrc", "ethDst", "ipTtl"]
    assert render(t, "summary")["lines"] == [
        "bridge net-a (in a1): mac-lookup 02:00:00:00:00:01 router-port a-r; egress a-r -> r-a",
        "router edge (in r-a): route 10.0.2.10 via 10.0.2.0/24 -> r-b; egress r-b -> b-r",
        "bridge net-b (in b-r): mac-lookup 02:00:00:00:00:06 hit b1; egress b1",
        "forward b1",
    ]


def test_unknown_next_hop_is_traced_to_its_arp_request(cloud):
    c = cloud
    t = c.to_router(c.a1, "10.0.2.99")
    assert render(t, "minimal")[-3:] == [
        "next-hop 10.0.2.99 unknown (arp-miss)",
        "generated arp-request on r-b",
        "drop: next hop MAC unknown; ARP request sent",
    ]
    assert t.result == "drop" and t.match is None  # no flow for an ARP wait


def _security_group(c: Cloud) -> None:
    c.filter_port(c.b1, "outbound",
                  rule(RuleAction.DROP, nw_proto=TCP, tp_dst=PortRange(23, 23)),
                  rule(RuleAction.ACCEPT, nw_proto=TCP, tp_dst=PortRange(22, 22)),
                  name="sg-b1")


def test_security_group_drops_telnet(cloud):
    c = cloud
    _security_group(c)
    t = c.to_router(c.a1, "10.0.2.10", dstPort=23)
    assert render(t, "minimal") == [
        "ingress bridge net-a port a1",
        "mac-lookup 02:00:00:00:00:01 router-port a-r",
        "egress a-r -> r-a",
        "ingress router edge port r-a",
        "route 10.0.2.10 via 10.0.2.0/24 -> r-b",
        "next-hop 10.0.2.10 02:00:00:00:00:06 (arp-table)",
        "egress r-b -> b-r",
        "ingress bridge net-b port b-r",
        "mac-lookup 02:00:00:00:00:06 hit b1",
        "egress b1",
        "chain port-outbound b1 sg-b1: drop",
        "rule sg-b1#1 drop",
        "drop: dropped by rule sg-b1#1",
    ]
    assert t.result == "drop" and t.match is not None and t.match["tpDst"] == 23
    chain = t.steps[10]
    assert chain.port_id == c.b1.port_id and chain.device_id == c.net_b.id


def test_security_group_accepts_ssh_and_lets_unmatched_through(cloud):
    c = cloud
    _security_group(c)
    ssh = render(c.to_router(c.a1, "10.0.2.10", dstPort=22), "minimal")
    assert ssh[-4:] == [
        "egress b1",
        "chain port-outbound b1 sg-b1: accept",
        "rule sg-b1#2 accept",
        "forward b1",
    ]
    web = render(c.to_router(c.a1, "10.0.2.10", dstPort=80), "minimal")
    assert web[-4:] == [
        "egress b1",
        "chain port-outbound b1 sg-b1: accept",
        "rule sg-b1: no match",
        "forward b1",
    ]


def _snat(c: Cloud) -> None:
    s = c.s
    snat = rule(RuleAction.ACCEPT, out_port_ids=(c.uplink.id,)).replace(
        type=RuleType.NAT_RULE,
        nat_rule_data=NatRuleData(nat_targets=(NatTarget(PUBLIC, PUBLIC, 1024, 1087),)))
    chain = s.chain(snat, name="masquerade")
    s.update(c.router, outbound_filter_id=chain.id)
    s.state.lease_snat_block(c.router.id, ip_to_int(PUBLIC), 16)  # ports 1024..1087


def test_snat_shows_the_translated_address(cloud):
    c = cloud
    _snat(c)
    t = c.to_router(c.a1, "8.8.8.8", srcPort=40000, dstPort=443)
    lines = render(t, "minimal")
    assert lines[3:] == [
        "ingress router edge port r-a",
        "route 8.8.8.8 via 0.0.0.0/0 gw 192.0.2.254 -> uplink",
        "chain device-outbound masquerade: accept",
        "rule masquerade#1 accept (nat)",
        lines[7],  # the port is the flow hash's pick: checked below
        "next-hop 192.0.2.254 02:fe:00:00:00:01 (arp-table)",
        "egress uplink",
        "forward uplink",
    ]
    nat = next(s for s in t.steps if s.kind == "nat")
    port = nat.detail["toPort"]
    assert lines[7] == f"nat snat 10.0.1.10:40000 -> {PUBLIC}:{port}" and 1024 <= port <= 1087
    assert nat.detail["new"] is True and nat.device_id == c.router.id
    sets = {a["field"]: a["value"] for a in t.actions if a["type"] == "set"}
    assert sets["ipSrc"] == PUBLIC and sets["tpSrc"] == port


def test_reply_is_reverse_translated_and_seen_as_a_return_flow(cloud):
    c = cloud
    _snat(c)
    s = c.s
    unmasq = rule(RuleAction.ACCEPT, in_port_ids=(c.uplink.id,),
                  nw_dst_ip=PUBLIC + "/32").replace(
        type=RuleType.NAT_RULE, nat_rule_data=NatRuleData(reverse=True))
    s.update(s.get(Router, c.router.id),
             inbound_filter_id=s.chain(unmasq, name="unmasquerade").id)
    c.filter_port(c.a1, "inbound", rule(RuleAction.ACCEPT, match_forward_flow=True),
                  name="a1-out")
    c.filter_port(c.a1, "outbound", rule(RuleAction.ACCEPT, match_return_flow=True),
                  rule(RuleAction.DROP), name="a1-in")
    out = c.to_router(c.a1, "8.8.8.8", srcPort=40000, dstPort=443)
    assert render(out, "minimal")[1:4] == [
        "chain port-inbound a1 a1-out: accept", "conntrack forward", "rule a1-out#1 accept"]
    assert render(out, "minimal")[-2:] == ["conntrack create", "forward uplink"]
    # What the agent does with the forward flow's result; the trace itself writes nothing.
    s.state.apply(simulate(PacketDescription.from_json(
        {"port": str(c.a1.port_id), "srcMac": c.a1.mac, "dstMac": c.r_a.port_mac,
         "srcIp": "10.0.1.10", "dstIp": "8.8.8.8", "srcPort": 40000, "dstPort": 443}).match(),
        s.topology, s.state, s.now), s.now)
    port = next(st.detail["toPort"] for st in out.steps if st.kind == "nat")
    outside = VM(c.uplink.id, UPSTREAM_MAC, ip_to_int("8.8.8.8"))
    back = c.trace(outside, dstMac=c.uplink.port_mac, dstIp=PUBLIC, srcPort=443, dstPort=port)
    assert render(back, "minimal") == [
        "ingress router edge port uplink",
        "chain device-inbound unmasquerade: accept",
        "rule unmasquerade#1 accept (nat)",
        f"nat reverse-snat {PUBLIC}:{port} -> 10.0.1.10:40000",
        "route 10.0.1.10 via 10.0.1.0/24 -> r-a",
        "chain device-outbound masquerade: accept",
        "rule masquerade: no match",  # SNAT is for traffic leaving by the uplink only
        "next-hop 10.0.1.10 02:00:00:00:00:04 (arp-table)",
        "egress r-a -> a-r",
        "ingress bridge net-a port a-r",
        "mac-lookup 02:00:00:00:00:04 hit a1",
        "egress a1",
        "chain port-outbound a1 a1-in: accept",
        "conntrack return",
        "rule a1-in#1 accept",
        "forward a1",
    ]


def test_jump_into_a_floating_ip_chain(cloud):
    c = cloud
    s = c.s
    fip = s.chain(rule(RuleAction.ACCEPT, nw_dst_ip="198.51.100.10/32").replace(
        type=RuleType.NAT_RULE, nat_rule_data=NatRuleData(
            dnat=True, nat_targets=(NatTarget("10.0.2.10", "10.0.2.10"),))), name="fip-in")
    jump = rule(RuleAction.JUMP).replace(type=RuleType.JUMP_RULE, jump_chain_id=fip.id)
    s.update(s.get(Router, c.router.id), inbound_filter_id=s.chain(jump, name="pre").id)
    outside = VM(c.uplink.id, UPSTREAM_MAC, ip_to_int("203.0.113.7"))
    t = c.trace(outside, dstMac=c.uplink.port_mac, dstIp="198.51.100.10", dstPort=22)
    assert render(t, "minimal") == [
        "ingress router edge port uplink",
        "chain device-inbound pre: accept",
        "rule pre#1 jump",
        "rule fip-in#1 accept (nat)",
        "nat static-dnat 198.51.100.10 -> 10.0.2.10",
        "route 10.0.2.10 via 10.0.2.0/24 -> r-b",
        "next-hop 10.0.2.10 02:00:00:00:00:06 (arp-table)",
        "egress r-b -> b-r",
        "ingress bridge net-b port b-r",
        "mac-lookup 02:00:00:00:00:06 hit b1",
        "egress b1",
        "forward b1",
    ]
    assert [st.detail["depth"] for st in t.steps if st.kind == "rule"] == [0, 1]


def test_load_balancer_sends_vip_traffic_to_a_member(cloud):
    c = cloud
    s = c.s
    lb = LoadBalancer(id=uuid.uuid4(), router_id=c.router.id)
    pool = Pool(id=uuid.uuid4(), load_balancer_id=lb.id)
    member = PoolMember(id=uuid.uuid4(), pool_id=pool.id, address="10.0.2.11",
                        protocol_port=8080)
    vip = Vip(id=uuid.uuid4(), pool_id=pool.id, address="10.0.1.100", protocol_port=80)
    s.put(member)
    s.put(vip)
    s.put(pool.replace(pool_member_ids=(member.id,), vip_ids=(vip.id,)))
    s.put(lb.replace(pool_ids=(pool.id,)))
    s.update(c.router, load_balancer_id=lb.id)
    t = c.to_router(c.a1, "10.0.1.100", dstPort=80)
    assert render(t, "minimal") == [
        "ingress bridge net-a port a1",
        "mac-lookup 02:00:00:00:00:01 router-port a-r",
        "egress a-r -> r-a",
        "ingress router edge port r-a",
        "lb vip 10.0.1.100:80 -> 10.0.2.11:8080",
        "route 10.0.2.11 via 10.0.2.0/24 -> r-b",
        "next-hop 10.0.2.11 02:00:00:00:00:07 (arp-table)",
        "egress r-b -> b-r",
        "ingress bridge net-b port b-r",
        "mac-lookup 02:00:00:00:00:07 hit b2",
        "egress b2",
        "forward b2",
    ]
    sets = {a["field"]: a["value"] for a in t.actions if a["type"] == "set"}
    assert sets["ipDst"] == "10.0.2.11" and sets["tpDst"] == 8080
    step = next(s for s in t.steps if s.kind == "lb")
    assert step.detail["vip"] == str(vip.id)


def test_arp_for_the_router_is_consumed(cloud):
    c = cloud
    t = c.trace(c.a1, ethertype="arp", dstIp="10.0.1.1")
    assert render(t, "minimal") == [
        "ingress bridge net-a port a1",
        "arp-suppress 10.0.1.1 router-port a-r",
        "egress a-r -> r-a",
        "ingress router edge port r-a",
        "generated arp-reply on r-a",
        "consumed: ARP request for the router port answered",
    ]
    assert t.result == "consumed" and t.match is None and t.actions == ()


def test_conntrack_question_is_traced(cloud):
    c = cloud
    c.filter_port(c.b1, "outbound", rule(RuleAction.ACCEPT, match_return_flow=True),
                  rule(RuleAction.DROP), name="stateful")
    t = c.to_router(c.a1, "10.0.2.10", dstPort=22)
    assert render(t, "minimal")[-5:] == [
        "egress b1",
        "chain port-outbound b1 stateful: drop",
        "conntrack forward",
        "rule stateful#2 drop",
        "drop: dropped by rule stateful#2",
    ]
    step = next(s for s in t.steps if s.kind == "conntrack")
    assert step.detail["key"]["device"] == str(c.net_a.id)
    assert step.detail["key"]["dstPort"] == 22


def test_unknown_ingress_port_is_an_error(cloud):
    t = trace_packet(PacketDescription.from_json(
        {"port": str(uuid.UUID(int=7)), "dstMac": "02:00:00:00:00:09", "srcIp": "10.0.0.1",
         "dstIp": "10.0.0.2"}), cloud.s.topology, cloud.s.state, cloud.s.now)
    assert t.result == "error" and t.steps[-1].kind == "error"
    assert render(t, "minimal") == [
        "error: unknown ingress port 00000000-0000-0000-0000-000000000007"]


# --- rendering --------------------------------------------------------------


def test_to_json_shapes_are_json(cloud):
    c = cloud
    t = c.to_router(c.a1, "10.0.2.10")
    for mode in ("detailed", "summary", "minimal"):
        body = json.loads(json.dumps(to_json(t, mode)))
        lines_or_steps = "steps" if mode == "detailed" else "lines"
        assert set(body) == {"mode", "result", "reason", lines_or_steps, "egressPorts",
                             "match", "actions"}
        assert body["mode"] == mode and body["result"] == "forward"
    step = to_json(t, "detailed")["steps"][0]
    assert step == {"kind": "ingress", "deviceId": str(c.net_a.id), "deviceType": "bridge",
                    "deviceName": "net-a", "portId": str(c.a1.port_id), "portName": "a1",
                    "detail": {"device": str(c.net_a.id), "port": str(c.a1.port_id),
                               "deviceType": "bridge"},
                    "text": "enters bridge 'net-a' by port 'a1'"}
    with pytest.raises(ValueError, match="unknown trace mode"):
        render(t, "verbose")


def test_names_given_to_render_override_the_topology_names(cloud):
    c = cloud
    t = c.trace(c.a1, dstMac=c.a2.mac, dstIp="10.0.1.11")
    assert render(t, "minimal", names={c.a2.port_id: "web"})[-1] == "forward web"


def test_tracing_changes_no_decision(cloud):
    """The hooks only record: with and without a trace the results are equal."""
    c = cloud
    _security_group(c)
    _snat(c)
    bodies = [
        {"dstMac": c.a2.mac, "dstIp": "10.0.1.11"},
        {"dstMac": "02:aa:00:00:00:99", "dstIp": "10.0.1.99", "proto": "udp"},
        {"dstMac": c.r_a.port_mac, "dstIp": "10.0.2.10", "dstPort": 23},
        {"dstMac": c.r_a.port_mac, "dstIp": "10.0.2.10", "dstPort": 22},
        {"dstMac": c.r_a.port_mac, "dstIp": "8.8.8.8", "proto": "icmp"},
        {"dstMac": c.r_a.port_mac, "dstIp": "10.0.1.1", "proto": "icmp"},
        {"dstMac": c.r_a.port_mac, "dstIp": "10.0.2.99"},
        {"ethertype": "arp", "dstIp": "10.0.1.1"},
    ]
    for body in bodies:
        desc = PacketDescription.from_json({"port": str(c.a1.port_id), "srcMac": c.a1.mac,
                                            "srcIp": "10.0.1.10", **body})
        plain = simulate(desc.match(), c.s.topology, c.s.state, c.s.now)
        log: list = []
        traced = simulate(desc.match(), c.s.topology, c.s.state, c.s.now, trace=log)
        assert log
        for attr in ("kind", "actions", "generated", "wildcard", "tags", "learned",
                     "state_keys", "created_keys", "stateful", "drop_timeout", "reason",
                     "devices", "snat_requests"):
            assert getattr(plain, attr) == getattr(traced, attr), (body, attr)


def test_trace_match_accepts_a_parsed_packet(cloud):
    c = cloud
    m = c.s.udp(c.a1, c.a2.mac, c.a2.ip)
    t = trace_match(m, c.s.topology, c.s.state, c.s.now)
    assert t.result == "forward" and t.packet is None


# --- request validation -----------------------------------------------------

PORT = "6f1c3c62-7f3e-4a57-9a39-0d1f7e0a5b11"
IPV4 = {"port": PORT, "dstMac": "02:00:00:00:00:02", "srcIp": "10.0.0.1", "dstIp": "10.0.0.2"}


@pytest.mark.parametrize("changes, field", [
    ({"port": "not-a-uuid"}, "port"),
    ({"port": 12}, "port"),
    ({"port": None}, "port"),
    ({"srcMac": "02:00:00:00:00"}, "srcMac"),
    ({"dstMac": "zz:00:00:00:00:02"}, "dstMac"),
    ({"srcMac": "01:00:5e:00:00:01"}, "srcMac"),  # multicast source
    ({"srcIp": "10.0.0.256"}, "srcIp"),
    ({"dstIp": "10.0.0"}, "dstIp"),
    ({"dstIp": 167772162}, "dstIp"),
    ({"proto": 256}, "proto"),
    ({"proto": -1}, "proto"),
    ({"proto": "gre"}, "proto"),
    ({"proto": True}, "proto"),
    ({"dstPort": 65536}, "dstPort"),
    ({"srcPort": "80"}, "srcPort"),
    ({"ttl": 300}, "ttl"),
    ({"vlan": 4095}, "vlan"),
    ({"ethertype": "ipv6"}, "ethertype"),
    ({"ethertype": 0x8100}, "ethertype"),
    ({"proto": "icmp", "dstPort": 80}, "dstPort"),
    ({"proto": "udp", "icmpType": 8}, "icmpType"),
    ({"ethertype": "arp", "ttl": 3}, "ttl"),
    ({"color": "blue"}, "color"),
    ({"zeta": 1, "alpha": 2}, "alpha, zeta"),
])
def test_bad_requests_name_the_field(changes, field):
    body = {k: v for k, v in {**IPV4, **changes}.items() if not (k == "port" and v is None)}
    with pytest.raises(TraceRequestError) as err:
        PacketDescription.from_json(body)
    assert err.value.field == field
    assert str(err.value).startswith(f"{field}: ")
    assert isinstance(err.value, ValueError)


@pytest.mark.parametrize("missing", ["dstMac", "srcIp", "dstIp"])
def test_ipv4_needs_its_addresses(missing):
    body = {k: v for k, v in IPV4.items() if k != missing}
    with pytest.raises(TraceRequestError) as err:
        PacketDescription.from_json(body)
    assert err.value.field == missing


def test_request_must_be_an_object():
    with pytest.raises(TraceRequestError) as err:
        PacketDescription.from_json(["port"])  # type: ignore[arg-type]
    assert err.value.field == "request"


def test_defaults_make_a_minimal_request_work():
    desc = PacketDescription.from_json(IPV4)
    assert desc.to_json() == {**IPV4, "srcMac": "02:00:00:00:00:01", "ethertype": "ipv4",
                              "proto": "tcp", "srcPort": 49152, "dstPort": 80, "ttl": 64}
    m = desc.match()
    assert (m.in_port, m.ip_proto, m.tp_src, m.tp_dst, m.ip_ttl) == (
        uuid.UUID(PORT), TCP, 49152, 80, 64)
    arp = PacketDescription.from_json({"port": PORT, "ethertype": "ARP",
                                       "dstIp": "10.0.0.1"}).match()
    assert (arp.eth_dst, arp.arp_op, arp.arp_spa, arp.arp_tpa) == (
        "ff:ff:ff:ff:ff:ff", 1, 0, ip_to_int("10.0.0.1"))


def test_frames_parse_like_the_packets_they_describe():
    icmp = PacketDescription.from_json({**IPV4, "proto": "icmp", "vlan": 10,
                                        "srcMac": "02-AA-00-00-00-01"}).match()
    assert (icmp.icmp_type, icmp.icmp_code, icmp.icmp_id, icmp.vlan_id, icmp.eth_src) == (
        8, 0, 1, 10, "02:aa:00:00:00:01")
    udp = PacketDescription.from_json({**IPV4, "proto": 17, "srcPort": 5, "dstPort": 6,
                                       "ttl": 1}).match()
    assert (udp.ip_proto, udp.tp_src, udp.tp_dst, udp.ip_ttl) == (17, 5, 6, 1)
    gre = PacketDescription.from_json({**IPV4, "proto": 47}).match()
    assert gre.ip_proto == 47 and gre.tp_src is None
    l2 = PacketDescription.from_json({"port": PORT, "dstMac": "02:00:00:00:00:02",
                                      "ethertype": 0x88CC}).match()
    assert l2.eth_type == 0x88CC and l2.ip_src is None
