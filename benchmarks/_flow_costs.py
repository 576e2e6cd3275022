"""In-process cost of each step of the agent's packet-in path, in microseconds.

The flow-setup benchmark measures the agent end to end through Open vSwitch,
where the machine's load blurs everything; this module times the same steps
one by one on one core, without sockets, so the agent's owner sees where a
packet-in's time goes. It calls the functions ``apps/agent.py`` calls, in the
same order (OS-Ken's packet-in parser, ``parse_frame``, ``simulate``,
``build_actions``, ``build_match``, the flow-mod and packet-out as OS-Ken
builds and serializes them, the flow index entry), on the topologies of
``benchmarks/simulation.py``.
It is a copy of the path, not the agent: when ``apps/agent.py`` changes its
steps, this must follow. The floor's two messages are timed the same way.
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

from midonet_ryu.datapath import pipeline as pl
from midonet_ryu.datapath.flow_index import FlowIndex, FlowRecord
from midonet_ryu.datapath.translate import LocalPort, Untranslatable, build_actions, build_match
from midonet_ryu.simulation import packet_builders as fr
from midonet_ryu.simulation.engine import simulate
from midonet_ryu.simulation.packet import parse_frame


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


def _path_costs(frames: list[bytes], topo: Any, state: Any, now: float, in_port_id: uuid.UUID,
                fixes: tuple[str, ...], n: int) -> dict[str, float]:
    from benchmarks._agent_shim import _reordered

    dp = _FakeDatapath()
    k = len(frames)
    out: dict[str, float] = {}
    out["packet_in_parse"], msgs = _packet_ins(dp, frames, n)
    out["parse_frame"] = _best_us(lambda i: parse_frame(msgs[i % k].data, in_port_id), n)
    matches = [parse_frame(m.data, in_port_id) for m in msgs]
    out["simulate"] = _best_us(lambda i: simulate(matches[i % k].copy(), topo, state, now), n)
    results = [simulate(m.copy(), topo, state, now) for m in matches]

    def locate(port_id: uuid.UUID) -> LocalPort:
        return LocalPort(6)

    out["build_actions"] = _best_us(
        lambda i: build_actions(results[i % k].actions, matches[i % k], 5, locate), n)
    actions = [build_actions(r.actions, m, 5, locate) for r, m in zip(results, matches,
                                                                        strict=True)]

    def fields(i: int) -> set:
        f = set(results[i % k].wildcard)
        if "icmp_id" in fixes and matches[i % k].icmp_id is None:
            f.discard("icmp_id")
        return f

    def match_of(i: int) -> Any:
        try:
            m = build_match(matches[i % k], fields(i), 5)
        except Untranslatable:
            return None
        return (_reordered(m) or m) if "nxm_order" in fixes else m

    out["build_match"] = _best_us(match_of, n)
    ofmatches = [match_of(i) for i in range(k)]
    if any(m is None for m in ofmatches):
        out["uncacheable"] = 1.0
        return out
    if not hasattr(ofmatches[0], "serialize"):
        # The translation hands out wire-ordered fields and action tuples that
        # the agent packs itself (midonet_ryu.datapath.ofwire): time that.
        _wire_costs(out, dp, ofmatches, actions, [m.data for m in msgs], results, n)
        out["total"] = round(sum(v for key, v in out.items() if key != "uncacheable"), 2)
        return out

    def flow_mod(i: int) -> Any:
        msg = parser.OFPFlowMod(
            dp, cookie=i, table_id=pl.TABLE_SIMULATED, priority=110, idle_timeout=60,
            hard_timeout=0, flags=ofp.OFPFF_SEND_FLOW_REM, match=ofmatches[i % k],
            instructions=[parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS,
                                                       actions[i % k])])
        dp.set_xid(msg)
        msg.serialize()
        return msg

    out["flow_mod_build_serialize"] = _best_us(flow_mod, n)

    def packet_out(i: int) -> Any:
        msg = parser.OFPPacketOut(dp, buffer_id=ofp.OFP_NO_BUFFER, in_port=5,
                                  actions=actions[i % k], data=msgs[i % k].data)
        dp.set_xid(msg)
        msg.serialize()
        return msg

    out["packet_out_build_serialize"] = _best_us(packet_out, n)
    index = FlowIndex()

    def record(i: int) -> Any:
        r = results[i % k]
        return index.add(FlowRecord(i, frozenset(r.tags), ofmatches[i % k], "", 0.0))

    out["flow_index_add"] = _best_us(record, n)
    out["total"] = round(sum(v for key, v in out.items() if key != "uncacheable"), 2)
    return out


def _wire_costs(out: dict[str, float], dp: _FakeDatapath, ofmatches: list, actions: list,
                datas: list[bytes], results: list, n: int) -> None:
    """The packing steps of an agent that builds its messages itself, as
    ``apps/agent.py`` calls them: actions encoded once for the flow-mod and
    the packet-out, the match encoded, both messages packed."""
    from midonet_ryu.datapath import ofwire

    k = len(ofmatches)
    out["encode_actions"] = _best_us(lambda i: ofwire.encode_actions(actions[i % k]), n)
    encoded = [ofwire.encode_actions(a) for a in actions]
    out["flow_mod_pack"] = _best_us(lambda i: ofwire.flow_mod(
        i, i, pl.TABLE_SIMULATED, 110, ofwire.encode_match(ofmatches[i % k]), encoded[i % k],
        idle_timeout=60, flags=ofp.OFPFF_SEND_FLOW_REM), n)
    out["packet_out_pack"] = _best_us(
        lambda i: ofwire.packet_out(i, 5, encoded[i % k], datas[i % k]), n)
    index = FlowIndex()

    def record(i: int) -> Any:
        r = results[i % k]
        return index.add(FlowRecord(i, frozenset(r.tags), ofmatches[i % k], "", 0.0))

    out["flow_index_add"] = _best_us(record, n)


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


def stage_costs(n: int = 2000, fixes: tuple[str, ...] = ()) -> dict[str, dict[str, float]]:
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
        "l2": _path_costs(l2_frames, s.topology, s.state, s.now, l2_in, fixes, n),
        "stateful": _path_costs(st_frames, st.topology, st.state, st.now, r.a1.port_id,
                                fixes, n),
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

    from benchmarks._agent_shim import needed

    json.dump(stage_costs(fixes=tuple(needed())), sys.stdout, indent=1)
    sys.stdout.write("\n")
