"""Packets wait for the topology being loaded: simulated again once it is
in, never installed from a simulation that missed part of it."""
from __future__ import annotations

from midonet_ryu.datapath import ofwire as of
from midonet_ryu.datapath.flow_setup import FlowSetup
from midonet_ryu.datapath.local_ports import Interface
from midonet_ryu.datapath.port_map import PortMap
from midonet_ryu.datapath.topology_waits import TopologyWaits
from midonet_ryu.metrics import AgentCounter as C
from midonet_ryu.simulation import packet_builders as pb
from midonet_ryu.simulation.addr import BROADCAST_MAC
from midonet_ryu.simulation.cache import VersionedSnapshot
from tests.unit.datapath.test_flow_setup import HERE, NOW, World, counts

IFACES = [Interface("tap-a", 3), Interface("tap-b", 4), Interface("tap-d", 5),
          Interface("tun-vxlan", 10, type="vxlan")]


class LoadingView:
    """A view over a snapshot that has not loaded some objects yet: a read
    of one answers None and is a miss, as the agent's on-demand cache does."""

    def __init__(self, snapshot: VersionedSnapshot, hidden: set) -> None:
        self.snapshot = snapshot
        self.hidden = set(hidden)
        self.misses: set = set()
        self.miss_count = 0
        self.generation = 0

    def get(self, cls, obj_id):
        if obj_id is not None and (cls.kind, obj_id) in self.hidden:
            self.misses.add((cls.kind, obj_id))
            self.miss_count += 1
            return None
        return self.snapshot.get(cls, obj_id)

    def objects(self, cls):
        return (o for o in self.snapshot.objects(cls) if (cls.kind, o.id) not in self.hidden)

    def take_misses(self) -> set:
        misses, self.misses = self.misses, set()
        return misses

    def resolved(self, key) -> bool:
        return key not in self.hidden

    def load(self, keys) -> None:
        self.hidden -= set(keys)
        self.generation += 1


def loading_world(hidden_of) -> tuple[World, LoadingView, FlowSetup]:
    w = World()
    view = LoadingView(w.s.topology, hidden_of(w))
    ports = PortMap(HERE, view, w.remote, w.down)
    core = FlowSetup(HERE, 7, view, w.state, ports)
    ports.sync(IFACES)
    return w, view, core


def routed(w: World) -> bytes:
    """a (network A, here) to d (network B, here) through the router."""
    return pb.udp_frame(w.a.mac, w.rport_a.port_mac, w.a.ip, w.d.ip, 1000, 53, b"x")


def test_a_packet_reaching_a_device_not_loaded_waits_and_is_delivered_once_it_is():
    w, view, core = loading_world(lambda w: {("Router", w.router.id), ("Network", w.net_b.id)})
    frame = routed(w)
    first = core.packet_in(of.PacketIn(3, None, frame, 1, 0), NOW)
    # nothing sent or installed from a simulation that missed the router
    assert not [m for m in first.messages if type(m) in (of.PacketOut, of.FlowMod)]
    assert ("Router", w.router.id) in first.loads and counts(first)[C.TOPOLOGY_WAITS] == 1
    assert len(core.waits) == 1
    rounds = 0
    out = first
    while core.waits and rounds < 5:  # each round may reveal the next device
        view.load(out.loads)
        out = core.topology_loaded(view.resolved, NOW)
        rounds += 1
    outs = [m for m in out.messages if type(m) is of.PacketOut]
    assert len(outs) == 1, (counts(out), rounds, out.loads)
    assert outs[0].data == frame
    assert [m for m in out.messages if type(m) is of.FlowMod]  # and a flow now
    assert not core.waits


def test_later_packets_of_the_same_port_wait_behind_the_first_unsimulated():
    w, view, core = loading_world(lambda w: {("Router", w.router.id)})
    frame = routed(w)
    core.packet_in(of.PacketIn(3, None, frame, 1, 0), NOW)
    seen = view.miss_count
    for _ in range(5):
        out = core.packet_in(of.PacketIn(3, None, frame, 1, 0), NOW)
        assert counts(out) == {C.TOPOLOGY_WAITS: 1}
    assert view.miss_count == seen  # not simulated into the same misses again
    assert len(core.waits) == 6
    view.load({("Router", w.router.id)})
    out = core.topology_loaded(view.resolved, NOW)
    assert not core.waits  # every one delivered, in order
    assert [m.data for m in out.messages if type(m) is of.PacketOut] == [frame] * 6


def test_a_plain_snapshot_never_waits():
    w = World()
    assert core_waits_after(w) == 0


def core_waits_after(w: World) -> int:
    w.send(w.a, w.udp(w.a, w.b))
    return len(w.core.waits)


def test_the_queue_drops_from_the_ingress_with_most_waiting():
    waits = TopologyWaits(limit=4)
    for i in range(3):
        assert waits.park(f"flood{i}", [("Chain", i)], 1, "flooder") == 0
    assert waits.park("light", [("Network", 1)], 1, "light") == 0
    assert waits.park("flood3", [("Chain", 3)], 1, "flooder") == 1  # full: a flood packet goes
    got = waits.ready(lambda key: True)
    assert [p for p, _ in got] == ["flood1", "flood2", "light", "flood3"]


def test_a_packet_is_dropped_after_its_rounds():
    waits = TopologyWaits(max_rounds=3)
    assert waits.park("p", [1], 3, "x") == 1 and len(waits) == 0
    assert waits.park("p", [1], 2, "x") == 0 and len(waits) == 1


def test_followers_share_their_leaders_keys_and_leave_with_it():
    waits = TopologyWaits()
    waits.park("lead", [("Rule", 1), ("Rule", 2)], 1, "port")
    assert waits.behind("port", "next") == 0
    assert waits.behind("other", "x") is None
    loaded = {("Rule", 1)}
    assert waits.ready(loaded.__contains__) == []
    loaded.add(("Rule", 2))
    assert waits.ready(loaded.__contains__) == [("lead", 1), ("next", 0)]


def test_a_device_compiled_while_a_part_was_missing_is_compiled_again():
    # network A is in, its port to c (on the other host) is not: A's
    # compiled form, made while simulating, lacks it
    w, view, core = loading_world(lambda w: {("Port", w.c.port_id)})
    frame = pb.udp_frame(w.a.mac, BROADCAST_MAC, w.a.ip, w.c.ip, 1000, 53, b"x")  # a flood
    out = core.packet_in(of.PacketIn(3, None, frame, 1, 0), NOW)
    assert ("Port", w.c.port_id) in out.loads
    view.load(out.loads)
    core.ports.sync(IFACES)  # the shell's sync, as a loaded port makes it
    out = core.topology_loaded(view.resolved, NOW)
    outs = [m for m in out.messages if type(m) is of.PacketOut]
    assert len(outs) == 1 and ("output", 10) in outs[0].actions, (counts(out), outs)
    assert ("output", 4) in outs[0].actions  # and b
