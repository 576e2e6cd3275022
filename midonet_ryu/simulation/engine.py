"""The simulation: walk a packet through the virtual topology, return data.

``simulate(match, topology, state, now)`` is a pure function of its inputs:
no I/O, no clock, no randomness (ECMP and load balancing use a hash of the
packet's 5-tuple). The packet enters at ``match.in_port``; each device
(bridge or router) returns a step (see :mod:`steps`): an egress port, a
flood, a drop or a consumed packet; interior ports hand the packet to their
peer's device; an exterior egress port ends the walk. Port and device filter
chains run on the way, as in MidoNet, all on the ingress host.

``simulate(..., trace=[])`` also records each decision in that list (see
``context.Context.trace`` and :mod:`trace`); the result is the same.
"""
from __future__ import annotations

import uuid

from midonet_ryu.simulation import bridge, conntrack, tags
from midonet_ryu.simulation import router as router_sim
from midonet_ryu.simulation.cache import cache_for
from midonet_ryu.simulation.context import (
    MAX_DEVICES_TRAVERSED,
    Context,
    SimulationError,
    TraceLog,
)
from midonet_ryu.simulation.packet import FIELD_BIT, MATCH_FIELDS, FlowMatch, parse_frame
from midonet_ryu.simulation.result import (
    DROP_HARD_TIMEOUT,
    ERROR_DROP_HARD_TIMEOUT,
    Action,
    ResultKind,
    SetField,
    SimulationResult,
    ToPort,
)
from midonet_ryu.simulation.state import StateView
from midonet_ryu.simulation.steps import (
    Consumed,
    Drop,
    Flood,
    Forward,
    Outcome,
    Step,
    ToDevicePort,
)
from midonet_ryu.topology.model import Network, Port
from midonet_ryu.topology.snapshot import TopologyView

# Fields a device may rewrite; the VLAN is handled per egress port.
_REWRITABLE = ("eth_src", "eth_dst", "ip_src", "ip_dst", "ip_ttl", "tp_src", "tp_dst", "icmp_id")
_WILDCARDS: dict[int, frozenset[str]] = {}
_VLAN_BIT = FIELD_BIT["vlan_id"]
_REWRITABLE_BITS = tuple((name, FIELD_BIT[name]) for name in _REWRITABLE)


def simulate(match: FlowMatch, topology: TopologyView, state: StateView,
             now: float, trace: TraceLog | None = None) -> SimulationResult:
    """Simulate ``match`` entering the topology at ``match.in_port`` at time ``now``.

    ``trace``, when given, receives the ``(kind, detail)`` of every decision.
    """
    ctx = Context(match, topology, state, now, cache_for(topology), trace)
    try:
        outcome = _walk(ctx)
    except SimulationError as e:
        return _result(ctx, ResultKind.ERROR_DROP, (), ERROR_DROP_HARD_TIMEOUT, str(e))
    # type() is re-taken per test rather than kept in a variable so the type
    # checker narrows ``outcome``; the common case is the first test.
    if type(outcome) is Forward:
        if ctx.forward_flow:
            conntrack.track_forward(ctx)
        actions = _output_actions(ctx, outcome.ports)
        if not actions:
            return _result(ctx, ResultKind.DROP, (), DROP_HARD_TIMEOUT, "no egress port")
        return _result(ctx, ResultKind.FORWARD, actions, None, "")
    if type(outcome) is Drop:
        timeout = DROP_HARD_TIMEOUT if outcome.timeout is None else outcome.timeout
        return _result(ctx, ResultKind.DROP, (), timeout, outcome.reason)
    if type(outcome) is Consumed:
        return _result(ctx, ResultKind.CONSUMED, (), None, outcome.reason)
    # A bug, not a broken topology: let it surface rather than become a drop flow.
    raise TypeError(f"unknown walk outcome {outcome!r}")


def simulate_generated(port_id: uuid.UUID, frame: bytes, topology: TopologyView,
                       state: StateView, now: float) -> SimulationResult | None:
    """Simulate a generated frame emitted on an interior port from its peer.

    Returns None when ``port_id`` is exterior (packet-out it directly) or
    unlinked.
    """
    port = topology.get(Port, port_id)
    if port is None or port.peer_id is None:
        return None
    return simulate(parse_frame(frame, port.peer_id), topology, state, now)


def _walk(ctx: Context) -> Outcome:
    """Follow the packet from device to device until a step ends its path."""
    get = ctx.topology.get
    port = get(Port, ctx.match.in_port)
    if port is None:
        raise SimulationError(f"unknown ingress port {ctx.match.in_port}")
    ctx.tags.add(tags.port(port.id))
    ctx.ingress_device = port.network_id or port.router_id
    trace = ctx.trace
    while True:
        if trace is not None:
            trace.append(("ingress", {
                "device": port.network_id or port.router_id, "port": port.id,
                "deviceType": "bridge" if port.network_id is not None
                else "router" if port.router_id is not None else None}))
        if not port.admin_state_up:
            return Drop(None, f"port {port.id} is administratively down")
        if len(ctx.devices) >= MAX_DEVICES_TRAVERSED:
            raise SimulationError(f"traversed more than {MAX_DEVICES_TRAVERSED} devices")
        ctx.in_port = port.id
        if port.inbound_filter_id is not None:
            verdict = bridge.ctx_filter(ctx, port.inbound_filter_id,
                                        port.network_id or port.router_id, "port-inbound")
            if verdict is not None:
                return verdict
        step: Step
        if port.network_id is not None:
            ctx.devices.append(port.network_id)
            network = get(Network, port.network_id)
            if network is None:
                raise SimulationError(f"port {port.id} on missing network {port.network_id}")
            step = bridge.process(ctx, network, port)
        elif port.router_id is not None:
            ctx.devices.append(port.router_id)
            step = router_sim.process(ctx, port)
        else:
            raise SimulationError(f"port {port.id} belongs to no device")
        if type(step) is ToDevicePort:
            out = step.port
            ctx.tags.add(tags.port(out.id))
            ctx.out_port = out.id
            if trace is not None:
                trace.append(("egress", {"port": out.id, "peer": out.peer_id,
                                         "exterior": out.is_exterior}))
            if not out.admin_state_up:
                return Drop(None, f"port {out.id} is administratively down")
            if out.outbound_filter_id is not None:
                verdict = bridge.ctx_filter(ctx, out.outbound_filter_id,
                                            out.network_id or out.router_id, "port-outbound")
                if verdict is not None:
                    return verdict
            if out.peer_id is not None:
                if out.vlan_id is not None:
                    ctx.match.vlan_id = None  # an access port pops its VLAN
                    ctx.written |= _VLAN_BIT
                peer = get(Port, out.peer_id)
                if peer is None:
                    raise SimulationError(f"port {out.id} linked to missing {out.peer_id}")
                ctx.tags.add(tags.port(peer.id))
                port = peer
                continue
            if out.is_exterior:
                return Forward((out,))
            return Drop(None, f"egress port {out.id} is neither bound nor linked")
        if type(step) is Flood:
            kept = _flood_filter(ctx, step.ports)
            if trace is not None:
                trace.append(("flood", {"ports": [p.id for p in kept],
                                        "candidates": len(step.ports)}))
            return Forward(kept)
        if type(step) is Drop or type(step) is Consumed:
            return step
        # A bug, not a broken topology: let it surface rather than become a drop flow.
        raise TypeError(f"unknown device step {step!r}")


def _flood_filter(ctx: Context, ports: tuple[Port, ...]) -> tuple[Port, ...]:
    """Apply each flood target's outbound filter (accept/drop only; rewrites are undone)."""
    kept = []
    for p in ports:
        ctx.tags.add(tags.port(p.id))
        if not p.admin_state_up:
            continue
        if p.outbound_filter_id is not None:
            saved, written = ctx.match.copy(), ctx.written
            ctx.out_port = p.id
            verdict = bridge.ctx_filter(ctx, p.outbound_filter_id, p.network_id,
                                        "port-outbound")
            ctx.match, ctx.written = saved, written
            if verdict is not None:
                continue
        kept.append(p)
    return tuple(kept)


def _output_actions(ctx: Context, outs: tuple[Port, ...]) -> tuple[Action, ...]:
    """SetField for every rewritten header, then one ToPort per egress port.

    Ports are grouped by the VLAN they need so a flood sets the tag at most
    once per group. Actions apply in order, as in an OpenFlow action list.
    """
    if not outs:
        return ()
    m, orig = ctx.match, ctx.orig
    actions: list[Action] = []
    written = ctx.written
    for name, bit in _REWRITABLE_BITS:
        value = getattr(m, name)
        if value != getattr(orig, name):
            actions.append(SetField(name, value))
        elif written & bit and not ctx.wc & bit:
            # Rewritten to what this packet happened to carry already: the
            # flow may only skip the SetField if it matches that value.
            ctx.wc |= bit
    if written & _VLAN_BIT:
        ctx.wc |= _VLAN_BIT  # the tag decisions below compare with the original
    inner_vlan = m.vlan_id
    current = orig.vlan_id
    if len(outs) > 1:  # ports needing the frame's own tag first: fewer SetFields
        outs = tuple(sorted(outs, key=lambda p: (None if p.vlan_id is not None else inner_vlan)
                            != current))
    for p in outs:
        want = None if p.vlan_id is not None else inner_vlan
        if want != current:
            actions.append(SetField("vlan_id", want))
            current = want
        actions.append(ToPort(p.id))
    return tuple(actions)


def _wildcard(mask: int) -> frozenset[str]:
    names = _WILDCARDS.get(mask)
    if names is None:
        names = frozenset(n for i, n in enumerate(MATCH_FIELDS) if mask >> i & 1)
        if len(_WILDCARDS) < 65536:
            _WILDCARDS[mask] = names
    return names


def _result(ctx: Context, kind: ResultKind, actions: tuple[Action, ...],
            drop_timeout: float | None, reason: str) -> SimulationResult:
    keys = ctx.keys
    if keys:
        ctx.tags.update(tags.state_key(k) for k in keys)
        if kind is not ResultKind.FORWARD and ctx.created:
            # A packet that goes nowhere must not hold NAT ports or conntrack
            # entries: keep only the keys it merely used.
            keys = {k: v for k, v in keys.items() if k not in ctx.created}
            ctx.created.clear()
    return SimulationResult(
        kind,
        actions=actions,
        generated=tuple(ctx.generated),
        wildcard=_wildcard(ctx.wc),
        wildcard_mask=ctx.wc,
        tags=frozenset(ctx.tags),
        learned=tuple(ctx.learned),
        state_keys=tuple(keys.items()) if keys else (),
        created_keys=frozenset(ctx.created) if ctx.created else frozenset(),
        stateful=ctx.stateful,
        drop_timeout=drop_timeout,
        reason=reason,
        devices=tuple(ctx.devices),
        snat_requests=tuple(ctx.snat_requests),
    )
