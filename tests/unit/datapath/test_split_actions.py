"""Floods too big for one OpenFlow message: the action list is split into
packet-outs that each fit and together output exactly what the whole list
would, each copy with the packet state (tunnel key, VLAN, rewrites) it had."""
from __future__ import annotations

import uuid

from midonet_ryu.datapath import ofwire as of
from midonet_ryu.metrics import AgentCounter as C
from midonet_ryu.simulation import packet_builders as pb
from midonet_ryu.simulation.addr import ip_to_int
from midonet_ryu.topology.model import Network, Port
from tests.unit.datapath.test_flow_setup import OTHER, World, counts


def outputs(actions):
    """What the switch would send, in order: (port, packet state) per output."""
    fields: dict = {}
    vlans: list = []
    sent = []
    for action in actions:
        kind = action[0]
        if kind == "output":
            sent.append((action[1], tuple(sorted(fields.items())), tuple(vlans)))
        elif kind == "push_vlan":
            vlans.append(None)
        elif kind == "pop_vlan":
            vlans.pop()
        elif action[1] == "vlan_vid":
            vlans[-1] = action[2]
        else:
            fields[action[1]] = action[2]
    return sent


def flood(n):
    actions = [("push_vlan", 0x8100), ("set_field", "vlan_vid", 0x1000 | 7),
               ("set_field", "eth_src", "02:00:00:00:00:09"), ("output", 3)]
    for i in range(n):
        actions += [("set_field", "tunnel_id", 0x100000 + i),
                    ("set_field", "tun_ipv4_dst", ip_to_int("192.0.2.2") + i % 7),
                    ("output", 10)]
    actions += [("pop_vlan",), ("output", 4)]
    return actions


def test_a_split_flood_outputs_the_same_copies_in_messages_that_fit():
    actions = flood(3000)
    data = b"\xff" * 1500
    room = of.packet_out_room(data)
    assert not of.actions_fit(actions, room)
    parts = of.split_actions(actions, room)
    assert len(parts) > 2
    for part in parts:
        assert len(of.encode(of.PacketOut(3, part, data), 1)) <= of.MAX_MESSAGE
    assert [o for part in parts for o in outputs(part)] == outputs(actions)


def test_a_list_that_fits_is_one_part():
    actions = flood(10)
    assert of.actions_fit(actions, of.FLOW_ACTIONS_ROOM)
    assert of.split_actions(actions, of.FLOW_ACTIONS_ROOM) == [actions]


def test_a_flood_to_thousands_of_remote_ports_is_sent_in_parts_and_never_cached():
    w = World()
    net = w.s.get(Network, w.net_a.id)
    remote = [Port(id=uuid.uuid4(), network_id=net.id, host_id=OTHER) for _ in range(2000)]
    for i, port in enumerate(remote):
        w.s.put(port)
        w.remote[port.id] = (OTHER, 0x200000 + i)
    w.s.put(net.replace(port_ids=net.port_ids + tuple(p.id for p in remote)))
    frame = pb.arp_request(w.a.mac, w.a.ip, ip_to_int("10.0.1.99"))
    outcome = w.send(w.a, frame)
    assert counts(outcome).get(C.SPLIT_EXECUTIONS) == 1
    outs = [m for m in outcome.messages if type(m) is of.PacketOut]
    assert len(outs) > 1 and not [m for m in outcome.messages if type(m) is of.FlowMod]
    for message in outs:
        assert len(of.encode(message, 1)) <= of.MAX_MESSAGE
    keys = {dict(state).get("tunnel_id") for m in outs for _, state, _ in outputs(m.actions)}
    assert {0x200000 + i for i in range(2000)} <= keys
    assert w.where(w.a, frame).controller  # no flow: the next one is split again
