"""Live traces in the agent's decision core: which packets are recorded, that a
traced flow is not installed (so its next packet is recorded too), and that a
full request stops recording."""
from __future__ import annotations

import uuid

from midonet_ryu.datapath.invalidation import topology_change_tags
from midonet_ryu.topology.rules import Condition, PortRange
from midonet_ryu.topology.trace import TraceDeviceType, TraceRequest
from tests.unit.datapath.test_flow_setup import World


def _trace(world: World, **kw) -> TraceRequest:
    req = TraceRequest(id=uuid.uuid4(), name="t", device_type=TraceDeviceType.PORT,
                       device_id=world.a.port_id, enabled=True, limit=3, **kw)
    world.s.put(req)
    world.core.traces_changed()
    world.invalidate(topology_change_tags("TraceRequest", req.id, None, req))
    return req


def test_without_requests_flows_install_and_nothing_is_recorded():
    w = World()
    out = w.send(w.a, w.udp(w.a, w.b))
    assert out.traced == []
    assert w.where(w.a, w.udp(w.a, w.b)).controller is False


def test_matching_packets_are_recorded_and_their_flow_not_installed():
    w = World()
    req = _trace(w, condition=Condition(nw_proto=17, tp_dst=PortRange(53, 53)))
    out = w.send(w.a, w.udp(w.a, w.b))
    assert [t[0] for t in out.traced] == [req.id]
    trace_id, limit, record = out.traced[0]
    assert limit == 3
    assert record["result"] == "forward"
    assert record["egressPorts"] == [str(w.b.port_id)]
    assert any(line.startswith("ingress") for line in record["lines"])
    # not installed: the next packet of the flow comes back and is recorded again
    assert w.where(w.a, w.udp(w.a, w.b)).controller is True
    assert len(w.send(w.a, w.udp(w.a, w.b)).traced) == 1
    # a packet the condition does not match is forwarded as usual
    other = w.udp(w.a, w.b, dport=99)
    assert w.send(w.a, other).traced == []
    assert w.where(w.a, other).controller is False


def test_a_request_on_another_port_records_nothing():
    w = World()
    req = TraceRequest(id=uuid.uuid4(), device_type=TraceDeviceType.PORT,
                       device_id=w.b.port_id, enabled=True)
    w.s.put(req)
    w.core.traces_changed()
    assert w.send(w.a, w.udp(w.a, w.b)).traced == []


def test_a_bridge_request_records_packets_entering_the_bridge():
    w = World()
    req = TraceRequest(id=uuid.uuid4(), device_type=TraceDeviceType.BRIDGE,
                       device_id=w.net_a.id, enabled=True)
    w.s.put(req)
    w.core.traces_changed()
    assert [t[0] for t in w.send(w.a, w.udp(w.a, w.b)).traced] == [req.id]


def test_a_full_or_disabled_request_stops_recording():
    w = World()
    req = _trace(w)
    assert w.send(w.a, w.udp(w.a, w.b)).traced
    w.core.trace_full(req.id)
    assert w.send(w.a, w.udp(w.a, w.b)).traced == []
    assert w.where(w.a, w.udp(w.a, w.b)).controller is False  # installed again
    w2 = World()
    req2 = _trace(w2)
    w2.s.put(req2.replace(enabled=False))
    w2.core.traces_changed()
    assert w2.send(w2.a, w2.udp(w2.a, w2.b)).traced == []
