"""Live traces: which packets the agent records for an enabled trace request.

A trace request's condition (a rule's) is compiled as the chains compile
theirs, and tested on each new packet before it is simulated; a packet that
passes it, and whose simulation enters the request's device (its port,
bridge or router), is simulated again with the engine's trace log on and
recorded. Its flow is not installed, so the next packet of the same flow is
recorded too, until the request holds ``limit`` records (the shell counts
across hosts with sequential znodes and tells us when a request is full).

With no request enabled the packet path pays one attribute test.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from midonet_ryu.simulation import trace as tracing
from midonet_ryu.simulation.cache import cache_for
from midonet_ryu.simulation.conditions import compile_condition, compile_rules
from midonet_ryu.simulation.context import Context
from midonet_ryu.simulation.packet import FlowMatch
from midonet_ryu.simulation.state import StateView
from midonet_ryu.topology.model import Port
from midonet_ryu.topology.snapshot import TopologyView
from midonet_ryu.topology.trace import TraceDeviceType, TraceRequest

MAX_STEPS_RECORDED = 64
"""Steps kept in one record: a looping topology must not write megabytes."""


class LiveTraces:
    def __init__(self) -> None:
        self._compiled: tuple[tuple[TraceRequest, Callable[[Any, int], int]], ...] = ()
        self.full: set[uuid.UUID] = set()

    @property
    def active(self) -> bool:
        return bool(self._compiled)

    def refresh(self, topology: TopologyView) -> None:
        """Recompile the enabled requests that still take records."""
        compiled = []
        for req in topology.objects(TraceRequest):
            if not req.enabled or req.device_id is None or req.id in self.full:
                continue
            try:
                fn = compile_rules([compile_condition(req.condition, topology, "t_")])
            except Exception:  # noqa: BLE001 - a request we cannot compile traces nothing
                continue
            compiled.append((req, fn))
        self._compiled = tuple(sorted(compiled, key=lambda c: str(c[0].id)))
        live = {req.id for req in topology.objects(TraceRequest)}
        self.full &= live

    def filled(self, trace_id: uuid.UUID, topology: TopologyView) -> None:
        self.full.add(trace_id)
        self.refresh(topology)

    def matching(self, match: FlowMatch, topology: TopologyView, state: StateView,
                 now: float) -> list[TraceRequest]:
        """The requests whose condition the packet meets where it enters."""
        ctx = Context(match, topology, state, now, cache_for(topology))
        return [req for req, fn in self._compiled if fn(ctx, 0) == 0]

    def record(self, candidates: list[TraceRequest], match: FlowMatch,
               topology: TopologyView, state: StateView, now: float,
               host_id: uuid.UUID) -> list[tuple[TraceRequest, dict[str, Any]]]:
        """Trace the packet; the records of the requests whose device it entered."""
        trace = tracing.trace_match(match, topology, state, now)
        entered = {s.device_id for s in trace.steps if s.kind == "ingress"}
        hits = [req for req in candidates
                if (match.in_port == req.device_id if req.device_type is TraceDeviceType.PORT
                    else req.device_id in entered)]
        if not hits:
            return []
        in_port = topology.get(Port, match.in_port)
        record = tracing.to_json(trace, "detailed")
        record["steps"] = record["steps"][:MAX_STEPS_RECORDED]
        record["lines"] = tracing.render(trace, "minimal")[:MAX_STEPS_RECORDED]
        record["hostId"] = str(host_id)
        record["timestamp"] = now
        record["inPortName"] = in_port.name if in_port else None
        return [(req, record) for req in hits]
