"""Per-simulation scratch state: the packet being rewritten and what was read.

Devices record every header field they read in ``wc`` (a bit mask over
``packet.MATCH_FIELDS``), every object they depended on in ``tags``, and
every state write they want in ``learned``/``keys``. The engine turns the
context into a ``SimulationResult`` at the end.

``trace`` is None on the packet path. A trace (``trace.trace_packet``) sets it
to a list, and devices append ``(kind, detail)`` to it where they decide
(entering a device, a chain's rules, a MAC or route lookup, NAT, conntrack,
the load balancer, the egress port); every such hook is guarded by
``trace is not None`` so the packet path pays one test per hook and never
builds a detail dict. Details hold raw engine values (UUIDs, int addresses
under keys ending in ``Ip``, enums); :mod:`trace` turns them into JSON.
"""
from __future__ import annotations

import uuid
from collections.abc import Hashable
from typing import Any

from midonet_ryu.simulation.cache import DeviceCache
from midonet_ryu.simulation.errors import SimulationError
from midonet_ryu.simulation.packet import FIELD_BIT, FlowMatch
from midonet_ryu.simulation.result import ArpLearned, Generated, MacLearned, SnatBlockRequest
from midonet_ryu.simulation.state import StateView
from midonet_ryu.topology.snapshot import TopologyView

MAX_DEVICES_TRAVERSED = 12  # MidoNet's MaxDevicesTraversed
_HASH_FIELDS = (FIELD_BIT["ip_src"] | FIELD_BIT["ip_dst"] | FIELD_BIT["ip_proto"]
                | FIELD_BIT["tp_src"] | FIELD_BIT["tp_dst"] | FIELD_BIT["icmp_id"])


TraceLog = list[tuple[str, dict[str, Any]]]
"""Where a traced simulation records its decisions: ``(kind, detail)`` in order."""

__all__ = ["Context", "SimulationError", "MAX_DEVICES_TRAVERSED", "TraceLog"]


class Context:
    __slots__ = (
        "match", "orig", "topology", "state", "now", "cache", "wc", "tags", "learned",
        "keys", "created", "generated", "stateful", "devices", "snat_requests",
        "ingress_device", "forward_flow", "in_port", "out_port", "flow_hash", "written",
        "trace",
    )

    def __init__(self, match: FlowMatch, topology: TopologyView, state: StateView, now: float,
                 cache: DeviceCache, trace: TraceLog | None = None) -> None:
        self.orig = match
        self.match = match.copy()
        self.topology = topology
        self.state = state
        self.now = now
        self.cache = cache
        self.wc = FIELD_BIT["in_port"]
        self.written = 0  # bits of the header fields a device rewrote
        self.tags: set[Hashable] = set()
        self.learned: list[MacLearned | ArpLearned] = []
        self.keys: dict[Hashable, Any] = {}
        self.created: set[Hashable] = set()
        self.generated: list[Generated] = []
        self.stateful = False
        self.devices: list[uuid.UUID] = []
        self.snat_requests: list[SnatBlockRequest] = []
        self.ingress_device: uuid.UUID | None = None
        self.forward_flow: bool | None = None  # lazily decided by conntrack
        self.in_port: uuid.UUID | None = match.in_port
        self.out_port: uuid.UUID | None = None
        self.flow_hash: int | None = None
        self.trace = trace

    def hash5(self) -> int:
        """A deterministic flow hash (ECMP, load balancing, SNAT port choice).

        Built from ints only, so it does not depend on PYTHONHASHSEED.
        """
        h = self.flow_hash
        if h is None:
            m = self.orig
            h = hash((m.ip_src or 0, m.ip_dst or 0, m.ip_proto or 0, m.tp_src or 0,
                      m.tp_dst or 0, m.icmp_id or 0)) & 0x7FFFFFFFFFFFFFFF
            self.flow_hash = h
        self.wc |= _HASH_FIELDS
        return h

    def add_key(self, key: Hashable, value: Any, created: bool) -> None:
        self.keys[key] = value
        if created:
            self.created.add(key)
        self.stateful = True

    def generate(self, port_id: uuid.UUID, frame: bytes) -> None:
        """Queue ``frame`` to be sent out of ``port_id`` (see ``result.Generated``)."""
        self.generated.append(Generated(port_id, frame))
