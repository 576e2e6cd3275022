"""The agent's flow decisions, applied to a model switch: no root, no processes.

Each test drives the real decision core (``FlowSetup``) on a scenario
topology, applies the messages it returns to ``FakeSwitch`` (which checks
each against the declared pipeline) and asks where a packet goes now.
"""
from __future__ import annotations

import uuid

import pytest

from midonet_ryu.datapath import ofwire as of
from midonet_ryu.datapath import pipeline as pl
from midonet_ryu.datapath.agent_state import AgentState
from midonet_ryu.datapath.flow_setup import FlowPolicy, FlowSetup
from midonet_ryu.datapath.invalidation import topology_change_tags
from midonet_ryu.datapath.local_ports import Interface
from midonet_ryu.datapath.port_map import PortMap
from midonet_ryu.metrics import AgentCounter as C
from midonet_ryu.simulation import packet_builders as pb
from midonet_ryu.simulation import tags
from midonet_ryu.simulation.addr import BROADCAST_MAC, ip_to_int
from midonet_ryu.simulation.result import MacLearned
from midonet_ryu.topology.dhcp import Dhcp, DhcpHost
from midonet_ryu.topology.model import Host, HostToIp, Network, Port, TunnelZone
from midonet_ryu.topology.rules import Chain, PortRange, Rule, RuleAction
from tests.unit.datapath.fake_switch import FakeSwitch, packet_fields
from tools.scenario import VM, Scenario, rule

HERE, OTHER = uuid.UUID(int=0xA), uuid.UUID(int=0xB)
OTHER_IP = "192.0.2.2"
TUNNEL_OFPORT = 10
REMOTE_KEY = 0x100007
NOW = 1000.0


class World:
    """One host's agent core and switch, a network A with VMs a (ofport 3), b
    (ofport 4) here and c on another host, and a router to network B with
    VM d (ofport 5) here."""

    def __init__(self, generation: int = 7, like: World | None = None) -> None:
        if like is None:
            self.s = Scenario()
            self._build()
        else:  # the same topology and state, as after an agent restart
            self.__dict__.update({k: v for k, v in like.__dict__.items()
                                  if k not in ("core", "ports", "switch", "remote", "state")})
        s = self.s
        self.remote = {self.c.port_id: (OTHER, REMOTE_KEY)}
        self.down: set[uuid.UUID] = set()
        self.state = AgentState(s.state)
        for net in (self.net_a, self.net_b):
            self.state.attach(("mac", net.id, None), s.state.mac_table(net.id, None))
            self.state.attach(("ip4mac", net.id, None), s.state.ip4_mac_table(net.id))
        self.state.attach(("arp", self.router.id, None), s.state.arp_table(self.router.id))
        self.ports = PortMap(HERE, s.topology, self.remote, self.down)
        self.core = FlowSetup(HERE, generation, s.topology, self.state, self.ports,
                              FlowPolicy(idle_timeout=60, hard_timeout=0, drop_hard_timeout=5))
        self.switch = FakeSwitch()
        self.switch.apply(self.core.switch_connected())
        changes = self.ports.sync([Interface("tap-a", 3), Interface("tap-b", 4),
                                   Interface("tap-d", 5),
                                   Interface("tun-vxlan", TUNNEL_OFPORT, type="vxlan")])
        self.switch.apply(self.core.bindings_changed(changes).messages)

    def _build(self) -> None:
        s = self.s
        s.put(Host(id=HERE, name="here"))
        s.put(Host(id=OTHER, name="other"))
        s.put(TunnelZone(id=uuid.uuid4(), name="default",
                         hosts=(HostToIp(HERE, "192.0.2.1"), HostToIp(OTHER, OTHER_IP)),
                         host_ids=(HERE, OTHER)))
        self.net_a, self.net_b = s.network(name="A"), s.network(name="B")
        self.a = self.vm(self.net_a, "10.0.1.10", HERE, "tap-a")
        self.b = self.vm(self.net_a, "10.0.1.11", HERE, "tap-b")
        self.c = self.vm(self.net_a, "10.0.1.12", OTHER, "tap-c")
        self.d = self.vm(self.net_b, "10.0.2.10", HERE, "tap-d")
        self.router = s.router()
        self.rport_a = s.attach(self.router, self.net_a, "10.0.1.1", "10.0.1.0/24")
        self.rport_b = s.attach(self.router, self.net_b, "10.0.2.1", "10.0.2.0/24")
        for net, vm in ((self.net_a, self.a), (self.net_a, self.b), (self.net_a, self.c),
                        (self.net_b, self.d)):
            s.learn(net, vm)
        s.state.set_arp(self.router.id, self.d.ip, self.d.mac)
        s.state.set_arp(self.router.id, self.a.ip, self.a.mac)

    def vm(self, net: Network, ip: str, host: uuid.UUID, iface: str) -> VM:
        port = self.s.port(net, host_id=host, interface_name=iface)
        self.s.update(self.s.get(Host, host), port_ids=self.s.get(Host, host).port_ids + (
            port.id,))
        return VM(port.id, self.s.next_mac(), ip_to_int(ip))

    def ofport(self, vm: VM) -> int:
        return self.ports.bindings[vm.port_id].ofport

    def send(self, vm: VM, frame: bytes, now: float = NOW):
        """The frame arrives from ``vm``: the switch decides, and on a miss the
        core simulates and its messages are applied. Returns the outcome."""
        verdict = self.switch.lookup(packet_fields(frame, self.ofport(vm)))
        if not verdict.controller:
            return None
        outcome = self.core.packet_in(of.PacketIn(self.ofport(vm), None, frame, 1, 0), now)
        self.switch.apply(outcome.messages)
        return outcome

    def where(self, vm: VM, frame: bytes):
        return self.switch.lookup(packet_fields(frame, self.ofport(vm)))

    def udp(self, src: VM, dst: VM, sport: int = 1000, dport: int = 53) -> bytes:
        return pb.udp_frame(src.mac, dst.mac, src.ip, dst.ip, sport, dport, b"x")

    def invalidate(self, changed) -> None:
        self.switch.apply(self.core.invalidate(changed).messages)


def counts(outcome) -> dict:
    out: dict = {}
    for counter, n in outcome.counts:
        out[counter] = out.get(counter, 0) + n
    return out


def test_first_packet_goes_to_the_agent_and_then_a_flow_carries_the_rest():
    w = World()
    frame = w.udp(w.a, w.b)
    assert w.where(w.a, frame).controller
    outcome = w.send(w.a, frame)
    # the first packet is sent by the agent; the flow serves the next ones
    (pout,) = [m for m in outcome.messages if type(m) is of.PacketOut]
    assert pout.in_port == w.ofport(w.a) and pout.data == frame
    assert w.where(w.a, frame).ports() == [w.ofport(w.b)]
    assert counts(outcome)[C.FLOWS_INSTALLED] == 1
    assert w.send(w.a, frame) is None  # no second packet-in


def test_l2_flow_policy_priority_timeouts_cookie_and_match():
    w = World(generation=9)
    w.send(w.a, w.udp(w.a, w.b))
    (flow,) = w.switch.simulated_flows()
    assert dict(flow.match).keys() == {"in_port", "eth_src", "eth_dst", "vlan_vid"}
    assert flow.priority == pl.PRIO_SIMULATED + 4
    assert (flow.idle_timeout, flow.hard_timeout) == (60, 0)
    assert flow.flags & of.OFPFF_SEND_FLOW_REM
    cookie = pl.Cookie.decode(flow.cookie)
    assert (cookie.origin, cookie.generation) == (pl.Origin.SIMULATION, 9)


def test_an_unknown_source_mac_is_learned_and_written_once():
    w = World()
    stranger = VM(w.a.port_id, "02:99:00:00:00:01", w.a.ip)
    frame = w.udp(stranger, w.b)
    first = w.core.packet_in(of.PacketIn(3, None, frame, 1, 0), NOW)
    assert first.learned == [MacLearned(w.net_a.id, None, stranger.mac, w.a.port_id)]
    # asked again before the write finished: not queued twice
    again = w.core.packet_in(of.PacketIn(3, None, frame, 1, 0), NOW)
    assert again.learned == []
    w.core.learned_written(first.learned[0])
    assert w.core.packet_in(of.PacketIn(3, None, frame, 1, 0), NOW).learned


def test_broadcast_floods_local_ports_and_tunnels_to_the_remote_port_with_its_key():
    w = World()
    frame = pb.arp_request(w.a.mac, w.a.ip, ip_to_int("10.0.1.99"))
    assert frame[:6] == bytes.fromhex(BROADCAST_MAC.replace(":", ""))
    w.send(w.a, frame)
    outs = w.where(w.a, frame).outputs
    local = sorted(o.port for o in outs if o.tunnel_id is None)
    remote = [o for o in outs if o.tunnel_id is not None]
    assert local == [w.ofport(w.b)]  # not back out of a, not into the router's network
    assert [(o.port, o.tunnel_id, o.tun_dst) for o in remote] == [
        (TUNNEL_OFPORT, REMOTE_KEY, ip_to_int(OTHER_IP))]


def test_unicast_to_a_remote_port_is_tunnelled_to_its_host():
    w = World()
    frame = w.udp(w.a, w.c)
    w.send(w.a, frame)
    (out,) = w.where(w.a, frame).outputs
    assert (out.port, out.tunnel_id, out.tun_dst) == (TUNNEL_OFPORT, REMOTE_KEY,
                                                       ip_to_int(OTHER_IP))


def test_remote_port_moving_host_re_steers_only_after_invalidation():
    w = World()
    frame = w.udp(w.a, w.c)
    w.send(w.a, frame)
    w.remote[w.c.port_id] = (OTHER, REMOTE_KEY + 1)
    w.invalidate([tags.port(w.c.port_id)])
    assert w.where(w.a, frame).controller
    w.send(w.a, frame)
    assert w.where(w.a, frame).outputs[0].tunnel_id == REMOTE_KEY + 1


def test_a_down_host_is_not_tunnelled_to_until_it_is_back():
    w = World()
    unicast, flood = w.udp(w.a, w.c), pb.arp_request(w.a.mac, w.a.ip, ip_to_int("10.0.1.99"))
    for frame in (unicast, flood):
        w.send(w.a, frame)
    w.down.add(OTHER)
    w.invalidate([tags.port(w.c.port_id)])  # what the shell does for the host's ports
    for frame in (unicast, flood):
        w.send(w.a, frame)
    dropped = w.where(w.a, unicast)
    assert dropped.outputs == () and not dropped.controller  # a flow, and it sends nothing
    assert [o.port for o in w.where(w.a, flood).outputs] == [w.ofport(w.b)]
    w.down.discard(OTHER)
    w.invalidate([tags.port(w.c.port_id)])
    for frame in (unicast, flood):
        w.send(w.a, frame)
    assert [o.tunnel_id for o in w.where(w.a, unicast).outputs] == [REMOTE_KEY]
    assert sorted(o.tunnel_id or 0 for o in w.where(w.a, flood).outputs) == [0, REMOTE_KEY]


def test_routed_flow_rewrites_macs_and_ttl_and_outputs_to_the_other_network():
    w = World()
    router_mac = w.s.get(Port, w.rport_a.id).port_mac
    frame = pb.udp_frame(w.a.mac, router_mac, w.a.ip, w.d.ip, 1000, 53, b"x")
    w.send(w.a, frame)
    (out,) = w.where(w.a, frame).outputs
    assert out.port == w.ofport(w.d)
    rewrites = dict(out.rewrites)
    assert rewrites["eth_dst"] == w.d.mac
    assert rewrites["eth_src"] == w.s.get(Port, w.rport_b.id).port_mac
    assert rewrites["nw_ttl"] == 63


def _drop_tcp_23(w: World) -> Chain:
    chain = w.s.chain(rule(RuleAction.DROP, nw_proto=6, tp_dst=PortRange(23, 23)))
    # a port's outbound filter is what it lets out to its VM
    w.s.update(w.s.get(Port, w.b.port_id), outbound_filter_id=chain.id)
    return w.s.get(Chain, chain.id)


def test_security_group_drop_installs_a_drop_flow_with_the_drop_timeout():
    w = World()
    _drop_tcp_23(w)
    telnet = pb.tcp_frame(w.a.mac, w.b.mac, w.a.ip, w.b.ip, 4000, 23)
    ssh = pb.tcp_frame(w.a.mac, w.b.mac, w.a.ip, w.b.ip, 4000, 22)
    outcome = w.send(w.a, telnet)
    assert counts(outcome)[C.DROPPED] == 1
    assert not [m for m in outcome.messages if type(m) is of.PacketOut]
    verdict = w.where(w.a, telnet)
    assert verdict.dropped and verdict.flow is not None
    assert pl.PRIO_SIMULATED_DROP <= verdict.flow.priority < pl.PRIO_SIMULATED
    assert (verdict.flow.idle_timeout, verdict.flow.hard_timeout) == (0, 60)
    w.send(w.a, ssh)
    assert w.where(w.a, ssh).ports() == [w.ofport(w.b)]


def test_a_rule_change_invalidates_exactly_the_flows_that_evaluated_its_chain():
    w = World()
    chain = _drop_tcp_23(w)
    telnet = pb.tcp_frame(w.a.mac, w.b.mac, w.a.ip, w.b.ip, 4000, 23)
    other = w.udp(w.a, w.c)  # never met the chain
    w.send(w.a, telnet)
    w.send(w.a, other)
    (r,) = [w.s.get(Rule, rid) for rid in chain.rule_ids]
    new = r.replace(action=RuleAction.ACCEPT)
    w.s.put(new)
    w.invalidate(topology_change_tags("Rule", r.id, r, new))
    assert w.where(w.a, telnet).controller  # re-simulated under the new rule
    assert not w.where(w.a, other).controller  # untouched
    w.send(w.a, telnet)
    assert w.where(w.a, telnet).ports() == [w.ofport(w.b)]


def test_a_mac_moving_invalidates_flows_to_it():
    w = World()
    frame = w.udp(w.a, w.b)
    w.send(w.a, frame)
    w.s.state.learn_mac(w.net_a.id, None, w.b.mac, w.c.port_id)
    w.invalidate([tags.mac_entry(w.net_a.id, None, w.b.mac)])
    w.send(w.a, frame)
    assert w.where(w.a, frame).outputs[0].tunnel_id == REMOTE_KEY


def test_reconcile_after_restart_removes_the_old_generation_and_keeps_valid_flows():
    old = World(generation=6)
    frame = old.udp(old.a, old.b)
    old.send(old.a, frame)
    # the agent restarts: same switch, same topology, a new generation
    new = World(generation=7, like=old)
    new.switch = old.switch
    new.switch.apply(new.core.switch_connected())
    assert new.where(new.a, frame).ports() == [new.ofport(new.b)]  # old flow still serves
    assert new.core.flows_seen(f.cookie for f in new.switch.flows())
    back = new.udp(new.b, new.a)  # a path the old run never saw
    new.send(new.b, back)
    new.switch.apply(new.core.remove_stale_flows())
    gens = {pl.Cookie.decode(f.cookie).generation for f in new.switch.simulated_flows()}
    assert gens == {7}
    assert new.where(new.b, back).ports() == [new.ofport(new.a)]
    # infrastructure and port flows survive; the removed path is re-learned
    assert new.where(new.a, frame).controller
    new.send(new.a, frame)
    assert new.where(new.a, frame).ports() == [new.ofport(new.b)]


def test_unbinding_a_port_removes_its_flows_and_those_through_it():
    w = World()
    frame = w.udp(w.a, w.b)
    w.send(w.a, frame)
    changes = w.ports.sync([Interface("tap-a", 3), Interface("tap-d", 5),
                            Interface("tun-vxlan", TUNNEL_OFPORT, type="vxlan")])
    assert [b.port_id for b in changes.unbound] == [w.b.port_id]
    w.switch.apply(w.core.bindings_changed(changes).messages)
    assert w.switch.lookup(packet_fields(frame, 4)).dropped  # nothing classifies ofport 4
    assert w.where(w.a, frame).controller
    keys = {dict(f.match).get("tunnel_id") for f in w.switch.flows(pl.TABLE_CLASSIFY)}
    assert w.core.ports.bindings.keys() == {w.a.port_id, w.d.port_id}
    assert len(keys - {None, pl.FLOW_STATE_TUNNEL_KEY}) == 2


def test_tunnelled_frames_go_to_their_port_and_are_never_simulated():
    w = World()
    key = w.ports.bindings[w.a.port_id].tunnel_key
    fields = packet_fields(w.udp(w.c, w.a), TUNNEL_OFPORT, tunnel_id=key)
    assert w.switch.lookup(fields).ports() == [w.ofport(w.a)]
    fields["tunnel_id"] = pl.FLOW_STATE_TUNNEL_KEY
    fields["tun_ipv4_src"] = ip_to_int(OTHER_IP)
    assert w.switch.lookup(fields).controller  # flow state from a zone member: the agent
    fields["tun_ipv4_src"] = ip_to_int("198.51.100.99")
    assert w.switch.lookup(fields).dropped  # from anyone else: dropped in the switch
    del fields["tun_ipv4_src"]
    assert w.switch.lookup(fields).dropped
    fields["tunnel_id"] = 0x1FFFFE
    assert w.switch.lookup(fields).dropped


def test_arp_for_the_router_is_answered_by_a_generated_reply_and_no_flow():
    w = World()
    frame = pb.arp_request(w.a.mac, w.a.ip, ip_to_int("10.0.1.1"))
    outcome = w.send(w.a, frame)
    (reply,) = w.switch.take_packet_outs()
    assert reply.in_port == of.OFPP_CONTROLLER
    assert list(reply.actions) == [("output", 3)]
    assert reply.data[12:14] == b"\x08\x06" and reply.data[20:22] == b"\x00\x02"
    assert not w.switch.simulated_flows()
    assert counts(outcome)[C.GENERATED_PACKETS] == 1


def test_icmp_echo_to_the_router_is_answered():
    w = World()
    router_mac = w.s.get(Port, w.rport_a.id).port_mac
    frame = pb.icmp_echo_request(w.a.mac, router_mac, w.a.ip, ip_to_int("10.0.1.1"), 5)
    w.send(w.a, frame)
    (reply,) = w.switch.take_packet_outs()
    assert list(reply.actions) == [("output", 3)]
    assert reply.data[23] == 1 and reply.data[34] == 0  # ICMP echo reply


def test_dhcp_discover_is_answered_with_an_offer():
    w = World()
    dhcp = Dhcp(id=uuid.uuid4(), network_id=w.net_a.id, subnet_address="10.0.1.0/24",
                server_address="10.0.1.2", default_gateway="10.0.1.1",
                hosts=(DhcpHost(w.a.mac, "10.0.1.10"),))
    w.s.put(dhcp)
    w.s.update(w.s.get(Network, w.net_a.id), dhcp_ids=(dhcp.id,))
    w.send(w.a, pb.dhcp_request_frame(w.a.mac, 1))
    (offer,) = w.switch.take_packet_outs()
    assert list(offer.actions) == [("output", 3)]
    assert offer.data[-300:].find(bytes([53, 1, 2])) >= 0  # option 53: OFFER


def test_router_arp_requests_for_a_next_hop_are_sent_once_a_second():
    w = World()
    router_mac = w.s.get(Port, w.rport_a.id).port_mac
    unknown = ip_to_int("10.0.2.77")
    frames = [pb.udp_frame(w.a.mac, router_mac, w.a.ip, unknown, 1000 + i, 53, b"x")
              for i in range(3)]
    first = w.core.packet_in(of.PacketIn(3, None, frames[0], 1, 0), NOW)
    second = w.core.packet_in(of.PacketIn(3, None, frames[1], 1, 0), NOW + 0.5)
    third = w.core.packet_in(of.PacketIn(3, None, frames[2], 1, 0), NOW + 1.5)

    def arp_requests(outcome):
        return [m for m in outcome.messages if type(m) is of.PacketOut
                and m.data[12:14] == b"\x08\x06"]

    assert len(arp_requests(first)) == 1
    assert arp_requests(second) == [] and counts(second)[C.ARP_REQUESTS_SUPPRESSED] == 1
    assert len(arp_requests(third)) == 1


def test_a_refused_flow_leaves_the_index():
    w = World()
    outcome = w.send(w.a, w.udp(w.a, w.b))
    (flow,) = [m for m in outcome.messages if type(m) is of.FlowMod]
    assert flow.cookie in w.core.flows
    w.core.flow_refused(flow)
    assert flow.cookie not in w.core.flows


def test_unknown_ports_and_malformed_frames_are_counted_not_raised():
    w = World()
    assert counts(w.core.packet_in(of.PacketIn(99, None, w.udp(w.a, w.b), 1, 0), NOW)) == {
        C.PACKET_IN_UNKNOWN_PORT: 1}
    assert counts(w.core.packet_in(of.PacketIn(3, None, b"\x00" * 5, 1, 0), NOW)) == {
        C.MALFORMED_PACKETS: 1}


def test_the_flow_index_bound_evicts_the_oldest_flow_from_the_switch_too():
    w = World()
    w.core.flows.max_flows = 2
    frames = [w.udp(w.a, w.b, sport) for sport in (1, 2, 3)]
    macs = [f"02:aa:00:00:00:0{i}" for i in (1, 2, 3)]
    for mac in macs:
        w.s.state.learn_mac(w.net_a.id, None, mac, w.a.port_id)
    for mac, frame in zip(macs, frames, strict=True):
        w.send(w.a, bytes.fromhex(mac.replace(":", "")) + frame[6:])
    assert len(w.switch.simulated_flows()) == 2 == len(w.core.flows)


def test_doc_datapath_lists_the_declared_tables():
    import pathlib

    doc = (pathlib.Path(__file__).parents[3] / "doc" / "datapath.md").read_text()
    assert pl.markdown_table() in doc


@pytest.mark.parametrize("bad", [
    of.FlowMod(5, 100, 0x0300000000000001, ()),  # no such table
    of.FlowMod(pl.TABLE_CLASSIFY, 100, 0x0100000000000000, (("in_port", 1),)),  # priority
    of.FlowMod(pl.TABLE_CLASSIFY, 200, 0x0100000000000000, (("eth_src", "02:00:00:00:00:01"),)),
    of.FlowMod(pl.TABLE_SIMULATED, 100, 0x0300000000000001, (("in_port", 1),),
               goto=pl.TABLE_CLASSIFY),  # goto backwards
    of.FlowMod(pl.TABLE_SIMULATED, 104, 0x7700000000000001, (("in_port", 1),)),  # cookie
])
def test_the_pipeline_refuses_messages_it_does_not_declare(bad):
    with pytest.raises(pl.PipelineViolation):
        pl.verify(bad)


def test_a_learned_mac_ages_out_only_after_the_last_flow_from_it_is_gone():
    w = World()
    mac_a = MacLearned(w.net_a.id, None, w.a.mac, w.a.port_id)
    to_b = w.send(w.a, w.udp(w.a, w.b))
    assert to_b.learned == []  # already in the table: nothing to write
    w.send(w.a, w.udp(w.a, w.d, dport=54))  # routed: a second flow from a's MAC
    cookies = [f.cookie for f in w.switch.simulated_flows()]
    assert len(cookies) == 2
    assert w.core.expire_learned(NOW + 3600) == []  # a talks: its entry stays
    w.core.flow_removed(cookies[0])  # an idle timeout
    assert w.core.expire_learned(NOW + 7200) == []
    w.invalidate([tags.port(w.a.port_id)])  # the other one goes with the port
    assert w.core.expire_learned(NOW + 7200 + 29) == []
    assert w.core.expire_learned(NOW + 7200 + 30) == [mac_a]
    assert not w.core.ageing.tracks(mac_a)


def test_flow_state_is_taken_only_from_the_members_of_this_hosts_zones():
    w = World()
    state = packet_fields(w.udp(w.c, w.a), TUNNEL_OFPORT, tunnel_id=pl.FLOW_STATE_TUNNEL_KEY)

    def from_(ip):
        return w.switch.lookup({**state, "tun_ipv4_src": ip_to_int(ip)})

    assert from_(OTHER_IP).controller and from_("192.0.2.3").dropped
    (zone,) = w.s.topology.objects(TunnelZone)
    third = uuid.UUID(int=0xC)
    w.s.update(zone, hosts=(HostToIp(HERE, "192.0.2.1"), HostToIp(third, "192.0.2.3")),
               host_ids=(HERE, third))  # OTHER leaves, a third host joins
    changes = w.ports.sync([Interface("tap-a", 3), Interface("tap-b", 4), Interface("tap-d", 5),
                            Interface("tun-vxlan", TUNNEL_OFPORT, type="vxlan")])
    assert not changes.tunnels_changed
    w.switch.apply(w.core.bindings_changed(changes).messages)
    assert from_("192.0.2.3").controller and from_(OTHER_IP).dropped


def masquerade(w: World, public: str, last_port: int = 65535) -> str:
    """Traffic leaving the router into network B goes out as ``public``;
    returns the router's MAC on network A (where VM a sends to)."""
    from midonet_ryu.topology.router import Router
    from midonet_ryu.topology.rules import NatRuleData, NatTarget, RuleType

    snat = w.s.chain(rule(out_port_ids=(w.rport_b.id,)).replace(
        type=RuleType.NAT_RULE, nat_rule_data=NatRuleData(
            dnat=False, nat_targets=(NatTarget(public, public, 1024, last_port),))))
    w.s.update(w.s.get(Router, w.router.id), outbound_filter_id=snat.id)
    return w.s.get(Port, w.rport_a.id).port_mac


def test_packets_needing_a_snat_block_wait_for_its_lease_and_are_then_delivered():
    w = World()
    public = "198.51.100.1"
    router_mac = masquerade(w, public)
    frames = [pb.udp_frame(w.a.mac, router_mac, w.a.ip, w.d.ip, sport, 53, b"x")
              for sport in (1000, 1001)]
    first = w.send(w.a, frames[0])  # no block yet: held, and one lease asked
    second = w.send(w.a, frames[1])
    assert [m for m in first.messages + second.messages if type(m) is of.PacketOut] == []
    assert counts(first)[C.SNAT_HELD] == 1 and counts(second)[C.SNAT_HELD] == 1
    assert C.DROPPED not in counts(first)
    (request,) = first.leases
    assert second.leases == []
    done = w.core.snat_leased(request, [1024 // 64], now=NOW + 0.002)
    w.switch.apply(done.messages)
    outs = [m for m in done.messages if type(m) is of.PacketOut]
    assert [o.data for o in outs] == frames  # both, in the order they came
    assert counts(done)[C.FLOWS_INSTALLED] == 2
    for frame in frames:
        (out,) = w.where(w.a, frame).outputs
        assert out.port == w.ofport(w.d)
        assert dict(out.rewrites)["ipv4_src"] == ip_to_int(public)


def test_held_packets_are_dropped_when_no_block_can_be_leased():
    w = World()
    router_mac = masquerade(w, "198.51.100.1", last_port=1087)  # one block
    out = w.send(w.a, pb.udp_frame(w.a.mac, router_mac, w.a.ip, w.d.ip, 1000, 53, b"x"))
    done = w.core.snat_leased(out.leases[0], [], now=NOW + 0.002)
    assert counts(done)[C.SNAT_HELD_DROPPED] == 1 and counts(done)[C.SNAT_EXHAUSTED] == 1
    assert [m for m in done.messages if type(m) is of.PacketOut] == []


def test_a_snat_lease_that_never_comes_back_is_asked_for_again():
    from midonet_ryu.datapath.snat_leases import LEASE_TIMEOUT
    w = World()
    router_mac = masquerade(w, "198.51.100.1")

    def send(sport, now):
        frame = pb.udp_frame(w.a.mac, router_mac, w.a.ip, w.d.ip, sport, 53, b"x")
        return w.core.packet_in(of.PacketIn(w.ofport(w.a), None, frame, 1, 0), now)

    assert len(send(1000, NOW).leases) == 1  # its work item is lost: never answered
    assert send(1001, NOW + LEASE_TIMEOUT - 1).leases == []
    again = send(1002, NOW + LEASE_TIMEOUT)
    assert len(again.leases) == 1 and counts(again)[C.SNAT_LEASES_UNANSWERED] == 1
    done = w.core.snat_leased(again.leases[0], [1024 // 64],
                              now=NOW + LEASE_TIMEOUT + 0.01)
    assert len([m for m in done.messages if type(m) is of.PacketOut]) == 3  # all three held


def test_an_earlier_agents_untrusting_state_flow_is_removed():
    w = World()
    state = packet_fields(w.udp(w.c, w.a), TUNNEL_OFPORT, tunnel_id=pl.FLOW_STATE_TUNNEL_KEY)
    stranger = {**state, "tun_ipv4_src": ip_to_int("198.51.100.9")}
    # what an agent of the previous release left: every state packet goes up
    w.switch.apply([of.FlowMod(pl.TABLE_CLASSIFY, pl.PRIO_FLOW_STATE, 0x0100000000000000, (
        ("in_port", TUNNEL_OFPORT), ("tunnel_id", pl.FLOW_STATE_TUNNEL_KEY)),
        (("output", of.OFPP_CONTROLLER),))])
    assert w.switch.lookup(stranger).controller
    w.switch.apply(w.core.switch_connected())  # this agent (re)connects
    assert w.switch.lookup(stranger).dropped
    assert w.switch.lookup({**state, "tun_ipv4_src": ip_to_int(OTHER_IP)}).controller
