"""The agent's per-packet path against an older tree's, on equal terms.

``benchmarks._flow_costs`` times the current agent's real path. To compare
it with an agent from before the decision core existed (whose benchmark
timed a copy of its steps, each one alone, without writing state), this
runs both the same way: a sequence of new flows, state written as the agent
writes it, the flow index growing, the topology frozen out of the collector.

    python -m benchmarks._path_compare new l2 2000 --time
    git worktree add /tmp/base a7305cb
    (cd /tmp/base && PYTHONPATH=/tmp/base python -m benchmarks._path_compare base l2 2000 --time)

Mode ``new`` drives ``apps.agent.MidonetAgent``'s packet-in handler from
the bytes OS-Ken read (``_flow_costs.agent_path``); mode ``base`` runs the
old agent's steps in its order: OS-Ken's packet-in parser, parse, simulate,
state write, translation, packing, index. Under ``valgrind --tool=callgrind``
with N=0 and N>0, the difference of the instruction totals over N is a
per-packet figure that does not move with the machine's load.
"""
from __future__ import annotations

import gc
import sys
import time
from collections.abc import Callable
from typing import Any


def _frames(path: str, n: int) -> tuple[Any, Any, list[bytes]]:
    import benchmarks._flow_costs as fc
    from benchmarks.simulation import _l2, _stateful

    try:
        from midonet_ryu.simulation import packet_builders as fr
    except ImportError:  # a tree from before the rename
        from midonet_ryu.simulation import frames as fr  # type: ignore[no-redef]
    if path == "l2":
        s, _ = _l2(10)
        return s, fc._learned_port(s, fc._mac(0)), [
            fr.udp_frame(fc._mac(0), fc._mac(1 + i % 9), 0x0A000001, 0x0A000002, 1000 + i, 53,
                         b"x") for i in range(64)]
    s, _, r = _stateful(64)
    return s, r.a1.port_id, [fr.tcp_frame(r.a1.mac, r.rport_a.port_mac, r.a1.ip, r.b1.ip,
                                          20000 + i, 80) for i in range(max(n, 64))]


def _new_step(s: Any, in_id: Any, frames: list[bytes]) -> Callable[[int], None]:
    from os_ken.ofproto import ofproto_parser

    import benchmarks._flow_costs as fc
    from apps import packet_in_fast_path

    agent, ofports = fc.agent_path(s.topology, s.state, s.now)
    agent._in_a_row = -(10**9)  # no green-thread yields here: none is ready to run
    dp = fc._FakeDatapath()
    wires = [fc._packet_in_wire(dp, f, ofports[in_id]) for f in frames]
    packet_in_fast_path.install()
    packet_in_fast_path.attach(dp, agent._raw_packet_in)
    k = len(wires)

    def step(i: int) -> None:
        buf = wires[i % k]
        version, msg_type, msg_len, xid = ofproto_parser.header(buf)
        ofproto_parser.msg(dp, version, msg_type, msg_len, xid, buf[:msg_len])

    return step


def _base_step(s: Any, in_id: Any, frames: list[bytes]) -> Callable[[int], None]:
    from os_ken.ofproto import ofproto_parser
    from os_ken.ofproto import ofproto_v1_3 as ofp

    import benchmarks._flow_costs as fc
    from midonet_ryu.datapath import ofwire
    from midonet_ryu.datapath.flow_index import FlowIndex, FlowRecord
    from midonet_ryu.datapath.translate import LocalPort, build_actions, build_match
    from midonet_ryu.simulation.engine import simulate
    from midonet_ryu.simulation.packet import parse_frame

    dp = fc._FakeDatapath()
    wires = [fc._packet_in_wire(dp, f, 5) for f in frames]
    index = FlowIndex()
    k = len(wires)

    def step(i: int) -> None:
        buf = wires[i % k]
        msg = ofproto_parser.msg(dp, ofp.OFP_VERSION, ofp.OFPT_PACKET_IN, len(buf), 1, buf)
        m = parse_frame(msg.data, in_id)
        r = simulate(m, s.topology, s.state, s.now)
        s.state.apply(r, s.now)
        acts = build_actions(r.actions, m, 5, lambda p: LocalPort(6))
        om = build_match(m, r.wildcard, 5)
        enc = ofwire.encode_actions(acts)
        ofwire.flow_mod(i, i, 1, 110, ofwire.encode_match(om), enc, idle_timeout=60, flags=1)
        ofwire.packet_out(i, 5, enc, msg.data)
        index.add(FlowRecord(i + 1, frozenset(r.tags), om, (r.kind, r.actions, r.reason), 0.0))

    return step


def main(argv: list[str]) -> int:
    mode, path, n = argv[0], argv[1], int(argv[2])
    s, in_id, frames = _frames(path, n)
    step = (_new_step if mode == "new" else _base_step)(s, in_id, frames)
    gc.collect()
    gc.freeze()
    for i in range(n):
        step(i)
    if "--time" in argv:
        best = float("inf")
        for _ in range(5):
            start = time.perf_counter()
            for i in range(n, n + 2000):
                step(i)
            best = min(best, (time.perf_counter() - start) / 2000)
        print(f"{mode} {path}: {best * 1e6:.1f} us per new flow")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
