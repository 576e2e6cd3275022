"""In-process cost of each step of the agent's packet-in path, in microseconds.

The flow-setup benchmark measures the agent end to end through Open vSwitch,
where the machine's load blurs everything; this module times the same steps
one by one on one core, without sockets, so the agent's owner sees where a
packet-in's time goes. It runs the agent's own code, not a copy: the bytes of
a packet-in go through OS-Ken's message dispatch (which hands packet-ins to
the agent as bytes, ``apps/packet_in_fast_path.py``), the agent's handler,
its decision core (``FlowSetup.packet_in``: parse, simulate, translate, the
flow policy) and its send path (ordering, xids, encoding, one write), on the
topologies of ``benchmarks/simulation.py``. ``total`` is that whole path;
the other figures cut it into its steps. Only the socket syscalls are left
out, on both sides. The floor's work (OS-Ken's packet-in parser and its
flow-mod and packet-out) is timed the same way.
"""
from __future__ import annotations

import gc
import time
import uuid
from collections.abc import Callable
from typing import Any

from os_ken.ofproto import ofproto_parser
from os_ken.ofproto import ofproto_v1_3 as ofp
from os_ken.ofproto import ofproto_v1_3_parser as parser

from midonet_ryu.datapath.agent_state import AgentState
from midonet_ryu.metrics import AgentCounter as C
from midonet_ryu.simulation import packet_builders as fr


class _FakeDatapath:
    """What OS-Ken's message classes need of a datapath to build and serialize."""

    ofproto = ofp
    ofproto_parser = parser
    id = 1

    def __init__(self) -> None:
        self.xid = 0

    def set_xid(self, msg: Any) -> None:
        self.xid += 1
        msg.set_xid(self.xid)


def _best_us(fn: Callable[[int], Any], n: int, rounds: int = 3) -> float:
    best = float("inf")
    for _ in range(rounds):
        gc.collect()
        start = time.perf_counter()
        for i in range(n):
            fn(i)
        best = min(best, (time.perf_counter() - start) / n)
    return round(best * 1e6, 2)


def _packet_in_wire(dp: _FakeDatapath, frame: bytes, in_port: int) -> bytes:
    msg = parser.OFPPacketIn(dp, buffer_id=ofp.OFP_NO_BUFFER, total_len=len(frame),
                             reason=ofp.OFPR_NO_MATCH, table_id=1, cookie=0,
                             match=parser.OFPMatch(in_port=in_port), data=frame)
    # OS-Ken cannot serialize a packet-in (a switch-to-controller message):
    # build its wire form by hand, as Open vSwitch sends it.
    import struct

    match = bytearray()
    mlen = msg.match.serialize(match, 0)
    body = struct.pack("!IHBBQ", ofp.OFP_NO_BUFFER, len(frame), ofp.OFPR_NO_MATCH, 1, 0)
    pad = (8 - mlen % 8) % 8
    payload = body + bytes(match) + b"\0" * pad + b"\0\0" + frame
    return struct.pack("!BBHI", ofp.OFP_VERSION, ofp.OFPT_PACKET_IN, 8 + len(payload), 1) \
        + payload


def _packet_ins(dp: Any, frames: list[bytes], n: int) -> tuple[float, list[Any]]:
    """OS-Ken's cost to parse a packet-in of each frame, and the parsed messages."""
    k = len(frames)
    wires = [_packet_in_wire(dp, f, 5) for f in frames]

    def pin(i: int) -> Any:
        buf = wires[i % k]
        return ofproto_parser.msg(dp, ofp.OFP_VERSION, ofp.OFPT_PACKET_IN, len(buf), 1, buf)

    return _best_us(pin, n), [pin(i) for i in range(k)]


class _ScenarioState(AgentState):
    """The agent's state view over a benchmark scenario's tables (all loaded)."""

    def mac_table(self, network_id: uuid.UUID, vlan: int | None) -> Any:
        return self.local.mac_table(network_id, vlan)

    def ip4_mac_table(self, network_id: uuid.UUID) -> Any:
        return self.local.ip4_mac_table(network_id)

    def arp_table(self, router_id: uuid.UUID) -> Any:
        return self.local.arp_table(router_id)


class _Wire:
    """OS-Ken's Datapath as the send path sees it: an xid and a send queue."""

    def __init__(self) -> None:
        self.xid = 0
        self.sent: list[bytes] = []

    def send(self, data: bytes) -> bool:
        self.sent.append(data)
        if len(self.sent) > 4096:
            self.sent.clear()
        return True


def agent_path(topo: Any, state: Any, now: float) -> tuple[Any, dict[uuid.UUID, int]]:
    """The agent's real per-packet path (``apps.agent.MidonetAgent``'s packet-in
    handler, its decision core and its send path) on a scenario topology, with
    every bound port of the scenario bound locally. Returns the agent and the
    OpenFlow port of each virtual port."""
    from apps.agent import MidonetAgent
    from apps.switch_connection import SwitchConnection
    from apps.work_queue import WorkQueue
    from midonet_ryu.datapath.flow_setup import FlowSetup
    from midonet_ryu.datapath.local_ports import LocalBinding
    from midonet_ryu.datapath.port_map import PortMap
    from midonet_ryu.metrics import AgentMetrics
    from midonet_ryu.topology.model import Port

    host = uuid.UUID(int=1)  # the scenario's host
    ports = PortMap(host, topo, {})
    ofports: dict[uuid.UUID, int] = {}
    for i, port in enumerate(topo.objects(Port)):
        if port.host_id is not None:
            ofports[port.id] = i + 3
            ports.bindings[port.id] = LocalBinding(port.id, f"tap{i}", i + 3, 0x100000 | i)
            ports.ofport_to_port[i + 3] = port.id
    agent = MidonetAgent.__new__(MidonetAgent)  # the handlers, without OS-Ken's app plumbing
    agent.metrics = AgentMetrics()
    agent.work = WorkQueue()
    agent.ready = True
    agent._in_a_row = 0
    agent._worker_busy = False
    agent._wake = type("Wake", (), {"set": lambda self: None})()
    agent.core = FlowSetup(host, 1, topo, _ScenarioState(state), ports, clock=time.perf_counter,
                           observe_simulation=agent.metrics.simulation_seconds.observe)
    agent.switch = SwitchConnection(_Wire(), agent.metrics)
    # as apps/agent_boot.py does once the topology is loaded
    gc.collect()
    gc.freeze()
    return agent, ofports


def _path_costs(frames: list[bytes], topo: Any, state: Any, now: float, in_port_id: uuid.UUID,
                n: int) -> dict[str, float]:
    """Microseconds per new flow from the bytes OS-Ken read to the bytes handed
    to the connection, and the same path cut into its steps."""
    from os_ken.ofproto import ofproto_parser as osken_parser

    from apps import packet_in_fast_path
    from midonet_ryu.datapath import ofwire

    dp = _FakeDatapath()
    k = len(frames)
    agent, ofports = agent_path(topo, state, now)
    in_ofport = ofports[in_port_id]
    wires = [_packet_in_wire(dp, f, in_ofport) for f in frames]
    packet_in_fast_path.install()
    packet_in_fast_path.attach(dp, agent._raw_packet_in)
    header = osken_parser.header
    out: dict[str, float] = {}

    def receive(i: int) -> None:
        # what OS-Ken's receive loop does with each message it read, then
        # the agent: decode, decide, encode, write
        buf = wires[i % k]
        version, msg_type, msg_len, xid = header(buf)
        osken_parser.msg(dp, version, msg_type, msg_len, xid, buf[:msg_len])

    out["total"] = _best_us(receive, n)
    if not agent.metrics.counts[C.FLOWS_INSTALLED]:
        out["uncacheable"] = 1.0
    pins = [ofwire.decode_packet_in(w) for w in wires]
    out["decode_packet_in"] = _best_us(lambda i: ofwire.decode_packet_in(wires[i % k]), n)
    core = agent.core
    out["core_packet_in"] = _best_us(lambda i: core.packet_in(pins[i % k], now), n)
    outcomes = [core.packet_in(p, now) for p in pins]
    out["send_encode"] = _best_us(lambda i: agent.switch.send(outcomes[i % k].messages), n)
    hist = agent.metrics.simulation_seconds
    out["of_which_simulate"] = round(hist.total * 1e6 / max(1, hist.n), 2)
    return out


def floor_costs(frames: list[bytes], n: int) -> dict[str, float]:
    """The floor app's work per packet-in (benchmarks/floor_app.py)."""
    from os_ken.lib import addrconv

    dp = _FakeDatapath()
    k = len(frames)
    out: dict[str, float] = {}
    out["packet_in_parse"], msgs = _packet_ins(dp, frames, n)

    def both(i: int) -> None:
        data = msgs[i % k].data
        acts = [parser.OFPActionOutput(6, 0)]
        fm = parser.OFPFlowMod(
            dp, priority=10, idle_timeout=60,
            match=parser.OFPMatch(in_port=5, eth_dst=addrconv.mac.bin_to_text(data[0:6]),
                                  eth_src=addrconv.mac.bin_to_text(data[6:12])),
            instructions=[parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, acts)])
        dp.set_xid(fm)
        fm.serialize()
        po = parser.OFPPacketOut(dp, buffer_id=ofp.OFP_NO_BUFFER, in_port=5, actions=acts,
                                 data=data)
        dp.set_xid(po)
        po.serialize()

    out["flow_mod_and_packet_out"] = _best_us(both, n)
    out["total"] = round(out["packet_in_parse"] + out["flow_mod_and_packet_out"], 2)
    return out


def stage_costs(n: int = 2000) -> dict[str, dict[str, float]]:
    """Per-step microseconds for the floor, the L2 path and the stateful path."""
    from benchmarks.simulation import _l2, _stateful

    s, _ = _l2(10)
    # the first 10 scenario MACs are learned on the 10 ports (Scenario.next_mac)
    l2_in = _learned_port(s, _mac(0))
    l2_frames = [fr.udp_frame(_mac(0), _mac(1 + i % 9), 0x0A000001, 0x0A000002, 1000 + i, 53,
                              b"x") for i in range(64)]
    st, _, r = _stateful(64)
    st_frames = [fr.tcp_frame(r.a1.mac, r.rport_a.port_mac, r.a1.ip, r.b1.ip, 20000 + i, 80)
                 for i in range(n)]
    return {
        "floor": floor_costs(l2_frames, n),
        "l2": _path_costs(l2_frames, s.topology, s.state, s.now, l2_in, n),
        "stateful": _path_costs(st_frames, st.topology, st.state, st.now, r.a1.port_id, n),
    }


def _mac(i: int) -> str:
    n = i + 1  # Scenario.next_mac counts from 1
    return "02:00:" + ":".join(f"{n >> s & 255:02x}" for s in (24, 16, 8, 0))


def _learned_port(s: Any, mac: str) -> uuid.UUID:
    for table in s.state._macs.values():  # noqa: SLF001 - scenario state, read-only
        if mac in table:
            return table[mac]
    raise LookupError(mac)


if __name__ == "__main__":
    import json
    import sys

    json.dump(stage_costs(), sys.stdout, indent=1)
    sys.stdout.write("\n")
