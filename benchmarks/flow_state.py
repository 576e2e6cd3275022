"""The flow-state replicator's cost per call: ``python -m benchmarks flow_state``.

Over the real simulation engine (the unit tests' two-host SNAT topology:
``tests/unit/flowstate/test_replicator.py``), 3,000 forward flows through
SNAT, 2 NAT keys each, one interested peer:

* ``outgoing_sending_us``: ``outgoing`` when the keys are due (a frame per
  flow), ``outgoing_suppressed_us`` when the ledger holds them back;
* ``incoming_us``: the peer importing those frames;
* ``withdrawals_us``: per expired flow, ``withdrawals`` of its keys after
  they expired at their origin, and ``withdrawn_us`` the peer applying them.

Best of 5 rounds (``--quick``: 2), microseconds per flow, single core.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from midonet_ryu.flowstate.replicator import FlowStateReplicator
from tests.unit.flowstate.test_replicator import HA, HB, IPS, TwoHosts

FLOWS = 3000


def _per_flow(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    out = fn()
    return (time.perf_counter() - started) / FLOWS * 1e6, out


def _round(w: TwoHosts, results: list) -> dict[str, float]:
    a = FlowStateReplicator(HA, w.s.topology, w.state_a, IPS.get)
    state_b = type(w.state_b)()
    b = FlowStateReplicator(HB, w.s.topology, state_b, IPS.get)
    port = w.r.a1.port_id
    send_us, sent = _per_flow(lambda: [p for r in results for p in a.outgoing(r, port, 1000.0)])
    supp_us, _ = _per_flow(lambda: [p for r in results for p in a.outgoing(r, port, 1001.0)])
    in_us, _ = _per_flow(lambda: [b.incoming(frame, 1000.0) for _, frame in sent])
    expired = [(k, v) for r in results for k, v in r.state_keys]
    wd_us, withdrawals = _per_flow(lambda: a.withdrawals(expired, 1070.0))
    applied_us, removed = _per_flow(lambda: [k for _, f in withdrawals
                                             for k in b.incoming(f, 1070.0)])
    assert len(sent) == FLOWS and len(removed) == len(expired), (len(sent), len(removed))
    return {"outgoing_sending_us": send_us, "outgoing_suppressed_us": supp_us,
            "incoming_us": in_us, "withdrawals_us": wd_us, "withdrawn_us": applied_us}


def run(quick: bool = False) -> dict[str, Any]:
    w = TwoHosts()
    results = [w.forward(sport=1000 + i) for i in range(FLOWS)]
    best: dict[str, float] = {}
    for _ in range(2 if quick else 5):
        for key, value in _round(w, results).items():
            best[key] = min(best.get(key, value), value)
    return {key: round(value, 1) for key, value in best.items()} | {"flows": FLOWS}
