"""The health monitor's decisions: which members this host probes, the probes
it sends, the verdicts it draws from answers and silences, and the statuses
it asks to be written. A kernel checks the frames too; here os-ken's parser
reads them, so a wrong checksum or offset fails without one."""
import uuid

import pytest
from os_ken.lib.packet import ethernet, ipv4, packet, tcp

from midonet_ryu.datapath import ofwire as of
from midonet_ryu.datapath import pipeline as pl
from midonet_ryu.datapath.health_probes import (
    PROBE_PORT,
    TCP_ACK,
    TCP_RST,
    TCP_SYN,
    HealthProbes,
    locate,
)
from midonet_ryu.simulation.addr import ip_to_int
from midonet_ryu.simulation.packet_builders import ethernet as eth_frame
from midonet_ryu.simulation.packet_builders import ipv4 as ip_packet
from midonet_ryu.simulation.packet_builders import tcp_segment
from midonet_ryu.simulation.state import ArpEntry, InMemoryState
from midonet_ryu.topology.lb import HealthMonitor, LBStatus, LoadBalancer, Pool, PoolMember
from midonet_ryu.topology.model import Network, Port
from midonet_ryu.topology.router import Router
from midonet_ryu.topology.snapshot import TopologySnapshot

MEMBER_IP, ROUTER_IP = "203.0.113.5", "203.0.113.254"
MEMBER_MAC, ROUTER_MAC = "02:00:00:00:00:05", "02:00:00:00:00:fe"
OFPORT = 7


def world(**monitor):
    net = Network(id=uuid.uuid4())
    router = Router(id=uuid.uuid4())
    rp = Port(id=uuid.uuid4(), router_id=router.id, port_address=ROUTER_IP,
              port_subnet="203.0.113.0/24", port_mac=ROUTER_MAC)
    bp = Port(id=uuid.uuid4(), network_id=net.id, peer_id=rp.id)
    rp = rp.replace(peer_id=bp.id)
    vm = Port(id=uuid.uuid4(), network_id=net.id)
    lb = LoadBalancer(id=uuid.uuid4(), router_id=router.id)
    hm = HealthMonitor(id=uuid.uuid4(), **{"delay": 2, "timeout": 1, "max_retries": 3,
                                           **monitor})
    pool = Pool(id=uuid.uuid4(), load_balancer_id=lb.id, health_monitor_id=hm.id)
    member = PoolMember(id=uuid.uuid4(), pool_id=pool.id, address=MEMBER_IP,
                        protocol_port=80)
    topo = TopologySnapshot([
        net, router.replace(port_ids=(rp.id,)), rp, bp, vm.replace(),
        lb.replace(pool_ids=(pool.id,)), hm.replace(pool_ids=(pool.id,)),
        pool.replace(pool_member_ids=(member.id,)), member,
        net.replace(port_ids=(bp.id, vm.id))])
    return topo, InMemoryState(), net, router, rp, vm, member


def learned(state, net, router, vm, via_arp=True):
    if via_arp:
        state.set_arp(router.id, ip_to_int(MEMBER_IP), ArpEntry(MEMBER_MAC))
    else:
        state.set_ip4_mac(net.id, ip_to_int(MEMBER_IP), MEMBER_MAC)
    state.learn_mac(net.id, None, MEMBER_MAC, vm.id)


@pytest.mark.parametrize("via_arp", [True, False], ids=["router ARP table", "IP-MAC table"])
def test_a_member_bound_here_is_located_through_the_state_tables(via_arp):
    topo, state, net, router, rp, vm, member = world()
    learned(state, net, router, vm, via_arp)
    found = locate(topo, state, {vm.id: OFPORT}, {})
    t = found.targets[member.id]
    assert (t.port_id, t.ofport, t.member_mac, t.source_mac) == (vm.id, OFPORT, MEMBER_MAC,
                                                                 ROUTER_MAC)
    assert (t.member_ip, t.source_ip, t.member_port) == (
        ip_to_int(MEMBER_IP), ip_to_int(ROUTER_IP), 80)
    assert found.unresolved == ()
    # bound on another host: not ours, and nothing to resolve
    assert locate(topo, state, {}, {}).targets == {}


def test_an_unresolved_member_is_arped_for_once_a_delay_by_hosts_on_its_bridge():
    topo, state, net, router, rp, vm, member = world(delay=2)
    found = locate(topo, state, {vm.id: OFPORT}, {})
    assert found.targets == {} and found.unresolved == ((rp.id, ip_to_int(MEMBER_IP), 2.0),)
    probes = HealthProbes(1)
    assert probes.arp_due(found.unresolved, 10.0) == [(rp.id, ip_to_int(MEMBER_IP))]
    assert probes.arp_due(found.unresolved, 11.0) == []
    assert probes.arp_due(found.unresolved, 12.0) == [(rp.id, ip_to_int(MEMBER_IP))]
    # a host with no port on the bridge does not ask
    assert locate(topo, state, {}, {}).unresolved == ()


def test_a_found_member_stays_found_after_its_learned_entries_age_out():
    topo, state, net, router, rp, vm, member = world()
    learned(state, net, router, vm)
    first = locate(topo, state, {vm.id: OFPORT}, {}).targets
    state.forget_mac(net.id, None, MEMBER_MAC)
    assert locate(topo, state, {vm.id: OFPORT}, first).targets == first
    # unless its port is no longer bound here
    assert locate(topo, state, {}, first).targets == {}


@pytest.mark.parametrize("change", ["monitor disabled", "pool disabled", "member disabled",
                                    "pool without monitor"])
def test_what_is_not_monitored_is_not_probed(change):
    topo, state, net, router, rp, vm, member = world()
    learned(state, net, router, vm)
    pool = topo.get(Pool, member.pool_id)
    hm = topo.get(HealthMonitor, pool.health_monitor_id)
    if change == "monitor disabled":
        topo.put(hm.replace(admin_state_up=False))
    elif change == "pool disabled":
        topo.put(pool.replace(admin_state_up=False))
    elif change == "member disabled":
        topo.put(member.replace(admin_state_up=False))
    else:
        topo.put(pool.replace(health_monitor_id=None))
    assert locate(topo, state, {vm.id: OFPORT}, {}).targets == {}


def probing(**monitor):
    topo, state, net, router, rp, vm, member = world(**monitor)
    learned(state, net, router, vm)
    probes = HealthProbes(3)
    targets = locate(topo, state, {vm.id: OFPORT}, {}).targets
    return topo, probes, probes.retarget(targets, 100.0), member


def sent_syn(result):
    (out,) = [m for m in result.messages if isinstance(m, of.PacketOut)]
    assert out.actions == (("output", OFPORT),)
    pkt = packet.Packet(out.data)
    e, ip, seg = pkt.get_protocol(ethernet.ethernet), pkt.get_protocol(ipv4.ipv4), \
        pkt.get_protocol(tcp.tcp)
    assert (e.src, e.dst, ip.src, ip.dst) == (ROUTER_MAC, MEMBER_MAC, ROUTER_IP, MEMBER_IP)
    assert (seg.src_port, seg.dst_port, seg.bits) == (PROBE_PORT, 80, TCP_SYN)
    # the bytes os-ken makes of the same headers (it pads to Ethernet's 60)
    again = packet.Packet()
    again.add_protocol(ethernet.ethernet(MEMBER_MAC, ROUTER_MAC, 0x0800))
    again.add_protocol(ipv4.ipv4(src=ROUTER_IP, dst=MEMBER_IP, proto=6, ttl=64))
    again.add_protocol(tcp.tcp(PROBE_PORT, 80, seg.seq, 0, 5, TCP_SYN, 65535, 0))
    again.serialize()
    assert bytes(again.data) == out.data.ljust(60, b"\0")
    return seg.seq


def answer(seq, flags, ack=None):
    ack = (seq + 1) & 0xFFFFFFFF if ack is None else ack
    segment = tcp_segment(ip_to_int(MEMBER_IP), ip_to_int(ROUTER_IP), 80, PROBE_PORT, 555,
                          ack, flags)
    return eth_frame(ROUTER_MAC, MEMBER_MAC, 0x0800,
                     ip_packet(ip_to_int(MEMBER_IP), ip_to_int(ROUTER_IP), 6, segment))


def test_the_answer_flow_catches_only_the_members_answers_in_table_0():
    topo, probes, started, member = probing()
    (flow,) = started.messages
    assert isinstance(flow, of.FlowMod)
    pl.verify(flow)
    assert (flow.table_id, flow.priority, pl.Cookie.decode(flow.cookie).origin) == (
        pl.TABLE_CLASSIFY, pl.PRIO_HEALTH_PROBE, pl.Origin.HEALTH_PROBE)
    assert dict(flow.match) == {"in_port": OFPORT, "eth_type": 0x0800, "ip_proto": 6,
                                "ipv4_src": ip_to_int(MEMBER_IP),
                                "ipv4_dst": ip_to_int(ROUTER_IP), "tcp_src": 80,
                                "tcp_dst": PROBE_PORT}
    assert flow.actions == (("output", of.OFPP_CONTROLLER),)


def test_a_syn_ack_is_alive_and_is_reset_then_max_retries_refusals_are_down():
    topo, probes, _, member = probing(delay=2, max_retries=3)
    seq = sent_syn(probes.due(100.0))
    assert probes.due(100.5).messages == []  # one outstanding at a time
    got = probes.answer(OFPORT, answer(seq, TCP_SYN | TCP_ACK), 100.01)
    assert got.answered == 1
    (rst,) = got.messages
    seg = packet.Packet(rst.data).get_protocol(tcp.tcp)
    assert (seg.bits, seg.seq) == (TCP_RST, (seq + 1) & 0xFFFFFFFF)
    topo.put(member.replace(status=LBStatus.INACTIVE))
    assert probes.status_writes(topo) == [(member.id, LBStatus.ACTIVE)]
    assert probes.status_writes(topo) == []  # in flight: not asked twice
    probes.status_written(member.id)
    topo.put(member)
    assert probes.status_writes(topo) == []
    # refused three times in a row: down; after a failure the next probe is
    # due delay / max_retries later (sent_syn finds exactly one probe each time)
    now = 102.0
    for _ in range(3):
        seq = sent_syn(probes.due(now))
        assert probes.answer(OFPORT, answer(seq, TCP_RST | TCP_ACK), now).failed == 1
        now += 2 / 3
    assert probes.status_writes(topo) == [(member.id, LBStatus.INACTIVE)]


def test_an_unanswered_probe_fails_after_the_timeout_and_a_stale_answer_counts_for_nothing():
    topo, probes, _, member = probing(delay=2, timeout=1, max_retries=1)
    seq = sent_syn(probes.due(100.0))
    assert probes.due(100.9).failed == 0
    assert probes.answer(OFPORT, answer(seq, TCP_SYN | TCP_ACK, ack=seq + 7), 100.9).answered == 0
    assert probes.due(101.0).failed == 1
    assert probes.status_writes(topo) == [(member.id, LBStatus.INACTIVE)]
    # the late SYN-ACK of the probe that timed out: reset, but not a verdict
    late = probes.answer(OFPORT, answer(seq, TCP_SYN | TCP_ACK), 101.1)
    assert late.answered == 0 and len(late.messages) == 1
    # another port's frame, or garbage, is nothing
    assert probes.answer(OFPORT + 1, answer(seq, TCP_SYN | TCP_ACK), 101.2).messages == []
    assert probes.answer(OFPORT, b"\x00" * 20, 101.2).messages == []


def test_a_member_no_longer_probed_that_this_host_marked_down_is_made_active_again():
    topo, probes, _, member = probing(max_retries=1)
    sent_syn(probes.due(100.0))
    probes.due(101.0)
    topo.put(member.replace(status=LBStatus.INACTIVE))
    gone = probes.retarget({}, 102.0)
    (delete,) = gone.messages
    assert isinstance(delete, of.FlowDelete) and delete.strict_priority == pl.PRIO_HEALTH_PROBE
    assert probes.status_writes(topo) == [(member.id, LBStatus.ACTIVE)]
    probes.status_written(member.id)
    topo.put(member)
    assert probes.status_writes(topo) == []
    assert probes.status_writes(topo) == []  # released once, then forgotten


def test_a_reconnected_switch_loses_every_probe_flow_and_gets_this_runs_again():
    topo, probes, started, member = probing()
    delete, flow = probes.flows()
    assert isinstance(delete, of.FlowDelete)
    assert (delete.cookie, delete.cookie_mask) == (pl.Origin.HEALTH_PROBE << 56, pl.ORIGIN_MASK)
    assert flow == started.messages[0]
