"""L2 bridge: learning, unicast, flooding, MAC moves, VLANs, ARP suppression."""
from __future__ import annotations

import uuid

from midonet_ryu.simulation import packet_builders, tags
from midonet_ryu.simulation.addr import BROADCAST_MAC, ip_to_int
from midonet_ryu.simulation.packet import parse_frame
from midonet_ryu.simulation.result import MacLearned, ResultKind, SetField, ToPort
from midonet_ryu.topology.model import Port
from tools.scenario import Scenario


def three_vms(**net):
    s = Scenario()
    n = s.network(**net)
    vms = [s.vm_port(n, ip=f"10.0.0.{i}") for i in (1, 2, 3)]
    return s, n, vms


def test_unknown_destination_floods_to_all_other_exterior_ports():
    s, n, (a, b, c) = three_vms()
    r = s.simulate(s.udp(a, b.mac, b.ip))
    assert r.kind is ResultKind.FORWARD
    assert set(r.actions) == {ToPort(b.port_id), ToPort(c.port_id)}
    assert tags.flood(n.id, None) in r.tags
    assert tags.mac_entry(n.id, None, b.mac) in r.tags


def test_source_is_learned_then_unicast():
    s, n, (a, b, c) = three_vms()
    r1 = s.simulate(s.udp(a, b.mac, b.ip))
    assert MacLearned(n.id, None, a.mac, a.port_id) in r1.learned
    r2 = s.simulate(s.udp(b, a.mac, a.ip))
    assert r2.actions == (ToPort(a.port_id),)
    assert r2.wildcard >= {"in_port", "eth_src", "eth_dst", "vlan_id"}
    assert "ip_src" not in r2.wildcard and "tp_dst" not in r2.wildcard
    assert tags.mac_entry(n.id, None, a.mac) in r2.tags


def test_known_source_is_reported_unchanged_for_ageing():
    # the agent counts the flows from a learned MAC to age it; it writes
    # only mappings that differ from the table (test_flow_setup)
    s, n, (a, b, _c) = three_vms()
    s.learn(n, a)
    r = s.simulate(s.udp(a, b.mac, b.ip))
    assert r.learned == (MacLearned(n.id, None, a.mac, a.port_id),)
    assert s.state.mac_table(n.id, None)[a.mac] == a.port_id


def test_mac_move_relearns_and_redirects():
    s, n, (a, b, c) = three_vms()
    s.learn(n, a)
    moved = s.udp(a, b.mac, b.ip)
    moved.in_port = c.port_id  # a's MAC now shows up behind port c
    r = s.simulate(moved)
    assert MacLearned(n.id, None, a.mac, c.port_id) in r.learned
    back = s.simulate(s.udp(b, a.mac, a.ip))
    assert back.actions == (ToPort(c.port_id),)


def test_destination_on_ingress_port_is_dropped():
    s, n, (a, b, _c) = three_vms()
    s.state.learn_mac(n.id, None, b.mac, a.port_id)
    r = s.simulate(s.udp(a, b.mac, b.ip))
    assert r.kind is ResultKind.DROP


def test_broadcast_floods_and_is_not_learned_as_destination():
    s, n, (a, b, c) = three_vms()
    r = s.simulate(s.udp(a, BROADCAST_MAC, 0xFFFFFFFF))
    assert {x.port_id for x in r.actions} == {b.port_id, c.port_id}


def test_flood_skips_unbound_and_down_ports():
    s, n, (a, b, c) = three_vms()
    s.port(n)  # created but not bound: neither exterior nor interior
    s.update(s.get(Port, c.port_id), admin_state_up=False)
    r = s.simulate(s.udp(a, b.mac, b.ip))
    assert r.actions == (ToPort(b.port_id),)


def test_unknown_ingress_port_is_an_error_drop():
    s, n, (a, b, _c) = three_vms()
    m = s.udp(a, b.mac, b.ip)
    m.in_port = uuid.uuid4()
    r = s.simulate(m)
    assert r.kind is ResultKind.ERROR_DROP and "unknown ingress port" in r.reason


def test_down_network_drops():
    s, n, (a, b, _c) = three_vms(admin_state_up=False)
    assert s.simulate(s.udp(a, b.mac, b.ip)).kind is ResultKind.DROP


# --- VLANs ------------------------------------------------------------------

def vlan_bridge():
    s = Scenario()
    n = s.network()
    trunk = s.vm_port(n)
    v10a = s.vm_port(n, vlan_id=10)
    v10b = s.vm_port(n, vlan_id=10)
    v20 = s.vm_port(n, vlan_id=20)
    return s, n, trunk, v10a, v10b, v20


def test_access_port_floods_within_its_vlan_and_tags_towards_trunks():
    s, n, trunk, v10a, v10b, v20 = vlan_bridge()
    r = s.simulate(s.udp(v10a, "02:99:00:00:00:01", 1))
    outs = [a.port_id for a in r.actions if isinstance(a, ToPort)]
    assert set(outs) == {trunk.port_id, v10b.port_id}
    # the trunk copy carries VLAN 10, the access copy is untagged
    seq = list(r.actions)
    assert seq.index(SetField("vlan_id", 10)) < seq.index(ToPort(trunk.port_id))
    assert MacLearned(n.id, 10, v10a.mac, v10a.port_id) in r.learned


def test_tagged_frame_from_trunk_reaches_access_port_untagged():
    s, n, trunk, v10a, v10b, v20 = vlan_bridge()
    s.learn(n, v20, vlan=20)
    r = s.simulate(s.udp(trunk, v20.mac, 1, vlan_id=20))
    assert r.actions == (SetField("vlan_id", None), ToPort(v20.port_id))


def test_mac_tables_are_per_vlan():
    s, n, trunk, v10a, v10b, v20 = vlan_bridge()
    s.learn(n, v10b, vlan=10)
    # same MAC asked for on VLAN 20: unknown there, flooded within VLAN 20
    r = s.simulate(s.udp(trunk, v10b.mac, 1, vlan_id=20))
    assert {a.port_id for a in r.actions if isinstance(a, ToPort)} == {v20.port_id}


def test_wrong_tag_on_access_port_is_dropped():
    s, n, trunk, v10a, v10b, v20 = vlan_bridge()
    r = s.simulate(s.udp(v10a, v10b.mac, 1, vlan_id=20))
    assert r.kind is ResultKind.DROP and "VLAN" in r.reason


# --- ARP suppression ----------------------------------------------------------

def test_arp_request_answered_from_ip4_mac_table():
    s, n, (a, b, _c) = three_vms()
    s.state.set_ip4_mac(n.id, b.ip, b.mac)
    r = s.simulate(parse_frame(packet_builders.arp_request(a.mac, a.ip, b.ip), a.port_id))
    assert r.kind is ResultKind.CONSUMED and r.actions == ()
    (gen,) = r.generated
    assert gen.port_id == a.port_id
    reply = parse_frame(gen.frame, None)
    assert (reply.arp_op, reply.arp_spa, reply.arp_sha, reply.eth_dst) == (2, b.ip, b.mac, a.mac)


def test_arp_request_for_unknown_ip_is_flooded():
    s, n, (a, b, c) = three_vms()
    r = s.simulate(parse_frame(packet_builders.arp_request(a.mac, a.ip, ip_to_int("10.0.0.99")),
                               a.port_id))
    assert {x.port_id for x in r.actions} == {b.port_id, c.port_id}
    assert tags.ip4_mac_entry(n.id, ip_to_int("10.0.0.99")) in r.tags


def test_cost_is_independent_of_unrelated_ports():
    """A unicast result on a 2,000-port bridge depends only on the two ports involved."""
    s = Scenario()
    n = s.network()
    vms = [s.vm_port(n) for _ in range(2000)]
    s.learn(n, vms[1])
    r = s.simulate(s.udp(vms[0], vms[1].mac, 1))
    assert r.actions == (ToPort(vms[1].port_id),)
    assert len(r.tags) <= 5


def test_stale_mac_entry_to_a_foreign_port_floods_instead():
    s, n, (a, b, c) = three_vms()
    other_net = s.network()
    foreign = s.vm_port(other_net)
    s.state.learn_mac(n.id, None, b.mac, foreign.port_id)
    r = s.simulate(s.udp(a, b.mac, b.ip))
    assert {x.port_id for x in r.actions} == {b.port_id, c.port_id}


def test_stale_mac_entry_to_an_access_port_of_another_vlan_floods_instead():
    s, n, trunk, v10a, v10b, v20 = vlan_bridge()
    s.state.learn_mac(n.id, 10, "02:99:99:99:99:99", v20.port_id)
    r = s.simulate(s.udp(v10a, "02:99:99:99:99:99", 1))
    assert ToPort(v20.port_id) not in r.actions
