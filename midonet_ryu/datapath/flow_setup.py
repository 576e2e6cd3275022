"""The agent's decision core: one call per event, messages and effects back.

After FAUCET's Valve. The shell (``apps/agent.py``) hands each event to one
method here and sends what comes back; it decides nothing in between:

* :meth:`FlowSetup.packet_in`: a decoded packet-in and ``now`` in, an
  :class:`Outcome` out: the OpenFlow messages in send order (flow-state
  packets, the flow-mod, the packet-out, generated replies), the learnings
  to write to the NSDB, the SNAT lease requests, the state tables to
  subscribe to, and the counts to bump;
* :meth:`FlowSetup.invalidate`, :meth:`bindings_changed`,
  :meth:`switch_connected`, :meth:`flows_seen`, :meth:`remove_stale_flows`,
  :meth:`flow_removed`, :meth:`flow_refused`, :meth:`learned_written`,
  :meth:`snat_leased`: the other events, same shape; :meth:`expire_learned`
  (the shell's tick) names the learnings to remove from the NSDB again.

It owns the flow-mod policy: priorities, idle and hard timeouts, cookie
serials and generations, the flow index, the ARP flood guard, the recursion
into generated frames (the SNAT lease-ahead is ``snat_leases``'s). It keeps state (the
index, the guards) but does no I/O and never reads the clock: time comes in
as ``now``; ``clock`` (optional) only times simulations for the metrics.
"""
from __future__ import annotations

import collections
import dataclasses
import ipaddress
import itertools
import uuid
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any

from midonet_ryu.datapath import infra_flows
from midonet_ryu.datapath import ofwire as of
from midonet_ryu.datapath import pipeline as pl
from midonet_ryu.datapath.agent_state import ARP_EXPIRY, AgentState, TableKey
from midonet_ryu.datapath.flow_index import FlowIndex, FlowRecord
from midonet_ryu.datapath.health_probes import HealthProbes, arp_frame, locate
from midonet_ryu.datapath.learned_ageing import LearnedAgeing
from midonet_ryu.datapath.live_traces import LiveTraces
from midonet_ryu.datapath.port_map import BindingChanges, PortMap
from midonet_ryu.datapath.snat_leases import SnatLeases
from midonet_ryu.datapath.topology_waits import TopologyWaits
from midonet_ryu.datapath.translate import Untranslatable, build_actions, build_match
from midonet_ryu.flowstate.peers import interested_hosts
from midonet_ryu.metrics import AgentCounter as C
from midonet_ryu.simulation import tags
from midonet_ryu.simulation.engine import simulate, simulate_generated
from midonet_ryu.simulation.packet import MalformedPacket, parse_frame
from midonet_ryu.simulation.result import (
    STATEFUL_HARD_TIMEOUT,
    ArpLearned,
    Generated,
    MacLearned,
    ResultKind,
    SimulationResult,
    SnatBlockRequest,
    ToPort,
)
from midonet_ryu.simulation.rewrite import apply_actions
from midonet_ryu.topology.lb import LBStatus
from midonet_ryu.topology.model import Port
from midonet_ryu.topology.snapshot import TopologyView

LOCATED = "located"  # a waiting packet's key: (LOCATED, port) until that port is located
TABLE = "table"  # (TABLE, table key) until the shell has opened that state table
ARP_RETRY_INTERVAL = 1.0  # seconds between ARP requests for one next hop
ARP_MEMORY = 4096
MAX_GENERATED_DEPTH = 4
_SERIAL_MASK = (1 << 40) - 1  # the serial bits of a cookie (pipeline.Cookie)

Learned = MacLearned | ArpLearned


@dataclasses.dataclass(frozen=True, slots=True)
class FlowPolicy:
    """Flow timeouts, seconds ([agent] options)."""

    idle_timeout: int = 60
    hard_timeout: int = 0
    drop_hard_timeout: int = 5
    # half the state-key TTL: a stateful flow is re-simulated, which
    # refreshes its keys here and on the peers, before they can expire
    stateful_hard_timeout: float = STATEFUL_HARD_TIMEOUT


@dataclasses.dataclass(frozen=True, slots=True)
class _GeneratedWait:
    """A generated frame waiting for topology, as simulated from ``depth``."""

    generated: Generated
    depth: int


class Outcome:
    """What one event asks of the shell, in the order to do it."""

    __slots__ = ("messages", "learned", "leases", "tables", "counts", "traced", "statuses",
                 "loads")

    def __init__(self) -> None:
        self.messages: list[of.Message] = []
        self.learned: list[Learned] = []
        self.leases: list[SnatBlockRequest] = []
        self.tables: list[TableKey] = []
        self.counts: list[tuple[C, int]] = []
        # live trace records to store: (trace request, its limit, the record)
        self.traced: list[tuple[uuid.UUID, int, dict[str, Any]]] = []
        # pool member statuses to write: (member, status)
        self.statuses: list[tuple[uuid.UUID, LBStatus]] = []
        # topology objects to load, (kind, id): a simulation reached them
        self.loads: list[tuple[str, uuid.UUID]] = []

    def count(self, counter: C, amount: int = 1) -> None:
        self.counts.append((counter, amount))

    def merge(self, other: Outcome) -> None:
        for name in self.__slots__:
            getattr(self, name).extend(getattr(other, name))


class FlowSetup:
    def __init__(self, host_id: uuid.UUID, generation: int, topology: TopologyView,
                 state: AgentState, ports: PortMap, policy: FlowPolicy = FlowPolicy(),
                 replicator: Any = None, max_flows: int = 200_000,
                 clock: Callable[[], float] | None = None,
                 observe_simulation: Callable[[float], None] | None = None,
                 mac_expiry: float = 30.0, arp_expiry: float = ARP_EXPIRY,
                 topology_waits: int = 1024) -> None:
        self.host_id = host_id
        self.generation = generation
        self.topology = topology
        self.state = state
        self.ports = ports
        self.policy = policy
        self.replicator = replicator  # flowstate.replicator.FlowStateReplicator or None
        self.flows = FlowIndex(max_flows)
        self._serial = itertools.count(1)
        self._cookie_base = pl.Cookie(pl.Origin.SIMULATION, generation, 0).encode()
        self._clock = clock
        self._observe_simulation = observe_simulation
        self._pending_learn: set[tuple[Any, ...]] = set()
        # SNAT blocks leased ahead of demand; packet-ins waiting for a lease
        # are simulated again when it is done, not dropped to retransmit
        self.snat = SnatLeases(state.local)
        # ARP requests a router generated lately, by (port, target): a stale
        # entry must not make every simulation send one
        self._arp_sent: collections.OrderedDict[tuple[Any, ...], float] = (
            collections.OrderedDict())
        self._stale_generations: set[int] = set()
        self.traces = LiveTraces()
        self.ageing = LearnedAgeing(mac_expiry, arp_expiry)
        # (tunnel ofport, peer IP) trusted for flow state, as installed; and
        # the port each peer's state goes out of (its zone's tunnel type)
        self._state_sources: frozenset[tuple[int, str]] = frozenset()
        self._state_ports: dict[str, int] = {}
        self.health = HealthProbes(generation)
        # a view that loads on demand reports what simulations missed
        self._take_misses: Callable[[], set[Any]] | None = getattr(
            topology, "take_misses", None)
        self.waits = TopologyWaits(topology_waits)
        # network and router -> when a simulation last entered it
        self.devices_used: dict[uuid.UUID, float] = {}
        # state tables the shell has opened (or tried to, ZooKeeper down):
        # packets that read one first wait for it (loading on demand only)
        self.tables_opened: set[Any] = set()

    # -- new flows ----------------------------------------------------------------------------
    def packet_in(self, pin: of.PacketIn, now: float, rounds: int = 0) -> Outcome:
        out = Outcome()
        if pin.tunnel_id == pl.FLOW_STATE_TUNNEL_KEY:
            self._receive_flow_state(pin.data, pin.tun_src, now, out)
            return out
        if pin.table_id == pl.TABLE_CLASSIFY and pin.cookie >> 56 == pl.Origin.HEALTH_PROBE:
            self._health_result(self.health.answer(pin.in_port, pin.data, now), out)
            return out
        port_id = None if pin.in_port is None else self.ports.ofport_to_port.get(pin.in_port)
        if port_id is None:
            out.count(C.PACKET_IN_UNKNOWN_PORT)
            return out
        try:
            match = parse_frame(pin.data, port_id)
        except MalformedPacket:
            out.count(C.MALFORMED_PACKETS)
            return out
        take = self._take_misses
        if take is not None:
            out.loads.extend(take())  # other readers': loaded, nobody waits
            if rounds == 0:
                # an earlier packet of this ingress waits for topology: this
                # one most likely goes the same way, so it waits with it
                # rather than be simulated into the same misses again
                dropped = self.waits.behind((pin.in_port, pin.tunnel_id), pin)
                if dropped is not None:
                    out.count(C.TOPOLOGY_WAITS)
                    if dropped:
                        out.count(C.TOPOLOGY_WAITS_DROPPED, dropped)
                    return out
        result = self._simulate(match, now, out)
        if take is not None:
            missed = take()
            if result is not None:
                missed.update(self._unsettled(port_id, result))
            if missed:
                self._wait_for_topology(pin, (pin.in_port, pin.tunnel_id), missed, rounds, out)
                self._drain_table_requests(out)
                return out
        if result is None:
            return out
        install = True
        if self.traces.active:
            install = not self._trace(match, now, out)
        try:
            self._execute(pin, match, result, now, out, install)
        except Exception:  # noqa: BLE001 - one bad result must not stop the agent
            out.count(C.EXECUTION_ERRORS)
        self._drain_table_requests(out)
        return out

    def _simulate(self, match: Any, now: float, out: Outcome) -> SimulationResult | None:
        clock = self._clock
        started = clock() if clock is not None else 0.0
        try:
            result = simulate(match, self.topology, self.state, now)
        except Exception:  # noqa: BLE001 - one bad simulation must not stop the agent
            out.count(C.SIMULATION_ERRORS)
            return None
        if clock is not None and self._observe_simulation is not None:
            self._observe_simulation(clock() - started)
        used = self.devices_used
        for device_id in result.devices:
            used[device_id] = now
        return result

    def _wait_for_topology(self, item: Any, ingress: Hashable, missed: set[Any], rounds: int,
                           out: Outcome) -> None:
        """The simulation reached objects not loaded: load them, and simulate
        the packet (or generated frame) again once they are in."""
        out.loads.extend(k for k in missed if k[0] != LOCATED and k[0] != TABLE)
        dropped = self.waits.park(item, missed, rounds + 1, ingress)
        if dropped:
            out.count(C.TOPOLOGY_WAITS_DROPPED, dropped)
        if rounds == 0:
            out.count(C.TOPOLOGY_WAITS)

    def _unsettled(self, ingress: uuid.UUID, result: SimulationResult) -> list[Any]:
        """What else a result needs before it can be trusted: the location of
        each egress port bound elsewhere that the shell has not looked up yet
        (just loaded), and the ports of the stateful groups its state goes to
        (read here, so a miss among them waits too)."""
        waiting = self._unlocated(result)
        # state tables read for the first time (as empty): wait for their
        # entries (once: a table closed later reads as empty, as without waiting)
        waiting.extend((TABLE, key) for key in self.state.requested
                       if key not in self.tables_opened)
        if result.state_keys and self.replicator is not None:
            interested_hosts(self.topology, ingress, result.egress_port_ids, self.host_id)
            waiting.extend(self._take_misses())  # type: ignore[misc]
        return waiting

    def _unlocated(self, result: SimulationResult) -> list[Any]:
        """(LOCATED, port) for each egress port bound elsewhere whose location
        the shell has not looked up yet."""
        return [(LOCATED, p) for p in result.egress_port_ids if self.ports.locating(p)]

    def topology_loaded(self, resolved: Callable[[Any], bool], now: float) -> Outcome:
        """Objects came in (or remote ports were located): the packets waiting
        for nothing else any more are simulated again."""
        out = Outcome()
        ports, tables = self.ports, self.tables_opened

        def settled(key: Any) -> bool:
            kind = key[0]
            if kind == LOCATED:
                return not ports.locating(key[1])
            if kind == TABLE:
                return key[1] in tables
            return resolved(key)

        for item, rounds in self.waits.ready(settled):
            if type(item) is _GeneratedWait:
                self._send_generated((item.generated,), now, out, item.depth, rounds)
            else:
                out.merge(self.packet_in(item, now, rounds))
        return out

    def table_opened(self, key: Any) -> None:
        """The shell subscribed to ``key`` (or put it aside during an outage)."""
        self.tables_opened.add(key)

    def devices_in_use(self, since: float) -> list[uuid.UUID]:
        """Networks and routers a simulation entered at ``since`` or later
        (the older ones are forgotten)."""
        used = self.devices_used
        for device_id in [d for d, t in used.items() if t < since]:
            del used[device_id]
        return list(used)

    def _trace(self, match: Any, now: float, out: Outcome) -> bool:
        """Record the packet for the live traces it matches; True when it did
        (its flow is then not installed, so the next packet is recorded too)."""
        try:
            candidates = self.traces.matching(match, self.topology, self.state, now)
            if not candidates:
                return False
            records = self.traces.record(candidates, match, self.topology, self.state, now,
                                         self.host_id)
        except Exception:  # noqa: BLE001 - tracing must never stop forwarding
            out.count(C.SIMULATION_ERRORS)
            return False
        for request, record in records:
            out.traced.append((request.id, request.limit, record))
        return bool(records)

    def traces_changed(self) -> None:
        """Trace requests changed in the topology: recompile the enabled ones."""
        self.traces.refresh(self.topology)

    def trace_full(self, trace_id: uuid.UUID) -> None:
        """A request holds its limit of records: stop recording for it."""
        self.traces.filled(trace_id, self.topology)

    def _execute(self, pin: of.PacketIn, match: Any, result: SimulationResult, now: float,
                 out: Outcome, install: bool = True) -> None:
        self._share_learnings(result, now, out)
        in_ofport = pin.in_port
        assert in_ofport is not None  # packet_in found its port
        if result.state_keys and self.replicator is not None:
            # state first, then the data packet, so a peer never simulates the
            # return flow of a connection whose state is still in flight
            self._send_flow_state(result, match.in_port, now, out)
        kind = result.kind
        cookie = None
        if kind is ResultKind.FORWARD:
            try:
                actions = build_actions(result.actions, match, in_ofport, self.ports.locate)
            except Untranslatable:
                # a rewrite OpenFlow cannot express (the ICMP echo id of NAT):
                # run it in userspace, packet by packet, and cache no flow
                out.count(C.USERSPACE_EXECUTIONS)
                self._userspace(pin.data, result.actions, out)
            else:
                if not (of.actions_fit(actions, of.FLOW_ACTIONS_ROOM)
                        and of.actions_fit(actions, of.packet_out_room(pin.data))):
                    # too big for one message: no flow can hold it, so every
                    # such packet comes here and goes out in several parts
                    out.count(C.SPLIT_EXECUTIONS)
                    for part in of.split_actions(actions, of.packet_out_room(pin.data)):
                        out.messages.append(of.PacketOut(in_ofport, part, pin.data))
                else:
                    if install:
                        cookie = self._install(match, in_ofport, result, actions, now, out)
                    if actions:
                        out.messages.append(of.PacketOut(in_ofport, actions, pin.data))
        elif kind is ResultKind.DROP or kind is ResultKind.ERROR_DROP:
            if result.snat_requests and self._hold(pin, result.snat_requests[0], out):
                pass  # simulated again once the lease it asked for is done
            else:
                if result.drop_timeout and install:
                    cookie = self._install(match, in_ofport, result, None, now, out)
                out.count(C.DROPPED)
        if result.learned:
            self.ageing.seen(result.learned, cookie, now)
        if result.generated:
            self._send_generated(result.generated, now, out, 0)

    def _install(self, match: Any, in_ofport: int, result: SimulationResult,
                 actions: list[of.Action] | None, now: float, out: Outcome) -> int | None:
        """The flow-mod of a result, indexed under what it depended on; its
        cookie (None when it cannot be a flow). ``actions`` None or empty: a drop."""
        try:
            ofmatch = build_match(match, result.wildcard, in_ofport)
        except Untranslatable:
            out.count(C.UNCACHEABLE)
            return None
        cookie = self._cookie_base | (next(self._serial) & _SERIAL_MASK)
        policy = self.policy
        idle = policy.idle_timeout
        hard = result.hard_timeout
        if result.kind is not ResultKind.FORWARD:
            hard = hard or policy.drop_hard_timeout
            idle = 0
        elif result.stateful:
            hard = policy.stateful_hard_timeout
        elif hard is None:
            hard = policy.hard_timeout
        priority = (pl.PRIO_SIMULATED if actions else pl.PRIO_SIMULATED_DROP) + len(ofmatch)
        out.messages.append(of.FlowMod(pl.TABLE_SIMULATED, priority, cookie, ofmatch,
                                       actions or None, None, idle, int(hard or 0),
                                       of.OFPFF_SEND_FLOW_REM))
        # the engine tags every port a packet entered or left by, so a port's
        # change finds the flow through result.tags alone
        evicted = self.flows.add(FlowRecord(cookie, result.tags, ofmatch,
                                            (result.kind, result.actions, result.reason), now))
        if evicted:
            self.ageing.flows_gone(evicted)
            out.messages.extend(infra_flows.delete_flows(evicted))
            out.count(C.FLOWS_EVICTED, len(evicted))
        out.count(C.FLOWS_INSTALLED)
        return cookie

    def _userspace(self, frame: bytes, actions: Any, out: Outcome) -> None:
        try:
            outputs = apply_actions(frame, actions)
        except ValueError:  # MalformedPacket is a ValueError
            out.count(C.USERSPACE_ERRORS)
            return
        for port_id, out_frame in outputs:
            acts = build_actions([ToPort(port_id)], None, of.OFPP_CONTROLLER,
                                 self.ports.locate)
            if acts:
                out.messages.append(of.PacketOut(of.OFPP_CONTROLLER, acts, out_frame))

    # -- health monitors ---------------------------------------------------------------------
    def health_tick(self, now: float, relocate: bool) -> Outcome:
        """Probe the monitored pool members bound here; ``relocate``: look
        again at which they are (the shell does once a second)."""
        out = Outcome()
        health = self.health
        if relocate:
            local = {pid: b.ofport for pid, b in self.ports.bindings.items()}
            located = locate(self.topology, self.state, local, health.targets)
            self._health_result(health.retarget(located.targets, now), out)
            for port_id, ip in health.arp_due(located.unresolved, now):
                port = self.topology.get(Port, port_id)
                frame = arp_frame(port, ip) if port is not None else None
                if frame is not None:
                    self._send_generated([Generated(port_id, frame)], now, out, 0)
        self._health_result(health.due(now), out)
        out.statuses.extend(health.status_writes(self.topology))
        return out

    @staticmethod
    def _health_result(result: Any, out: Outcome) -> None:
        out.messages.extend(result.messages)
        if result.sent:
            out.count(C.HEALTH_PROBES_SENT, result.sent)
        if result.failed:
            out.count(C.HEALTH_PROBES_FAILED, result.failed)
        if result.answered:
            out.count(C.HEALTH_PROBES_ANSWERED, result.answered)

    def _send_generated(self, generated_frames: Iterable[Generated], now: float, out: Outcome,
                        depth: int, rounds: int = 0) -> None:
        """Emit the frames a simulation generated (ARP, ICMP, DHCP replies).

        A frame generated on an interior port (a router's ARP request towards
        a bridge) enters the topology at the peer port and is simulated from
        there; its result is executed in userspace, never cached as a flow.
        Like a packet-in, it waits when that reaches topology not loaded yet
        (``rounds``: its simulations so far; a frame sent again after waiting
        has passed the ARP guard already).
        """
        take = self._take_misses
        for generated in generated_frames:
            if not rounds and self._arp_flood_guard(generated, now):
                out.count(C.ARP_REQUESTS_SUPPRESSED)
                continue
            port = self.topology.get(Port, generated.port_id)
            if port is not None and port.peer_id is not None:
                if depth >= MAX_GENERATED_DEPTH:
                    out.count(C.GENERATED_LOOPS)
                    continue
                if take is not None:
                    out.loads.extend(take())
                try:
                    sub = simulate_generated(generated.port_id, generated.frame,
                                             self.topology, self.state, now)
                except Exception:  # noqa: BLE001 - one bad frame must not stop the agent
                    out.count(C.SIMULATION_ERRORS)
                    continue
                if take is not None:
                    missed = take()
                    if sub is not None:
                        missed.update(self._unlocated(sub))
                    if missed:
                        self._wait_for_topology(_GeneratedWait(generated, depth),
                                                ("generated", generated.port_id), missed,
                                                rounds, out)
                        continue
                if sub is None:
                    continue
                self._share_learnings(sub, now, out)
                if sub.learned:
                    self.ageing.seen(sub.learned, None, now)
                if sub.kind is ResultKind.FORWARD:
                    self._userspace(generated.frame, sub.actions, out)
                self._send_generated(sub.generated, now, out, depth + 1)
            else:
                self._userspace(generated.frame, [ToPort(generated.port_id)], out)
            out.count(C.GENERATED_PACKETS)

    def _arp_flood_guard(self, generated: Generated, now: float) -> bool:
        """True for an ARP request already sent to the same address from the
        same port within ARP_RETRY_INTERVAL."""
        frame = generated.frame
        if frame[12:14] != b"\x08\x06" or frame[20:22] != b"\x00\x01":
            return False
        key = (generated.port_id, frame[38:42])
        last = self._arp_sent.get(key)
        if last is not None and now - last < ARP_RETRY_INTERVAL:
            return True
        self._arp_sent[key] = now
        self._arp_sent.move_to_end(key)
        if len(self._arp_sent) > ARP_MEMORY:
            self._arp_sent.popitem(last=False)
        return False

    # -- state the simulation produced ----------------------------------------------------------
    def _share_learnings(self, result: SimulationResult, now: float, out: Outcome) -> None:
        if result.learned or result.state_keys:
            for learned in self.state.apply_local(result, now):
                marker = _learn_marker(learned)
                if marker not in self._pending_learn:
                    self._pending_learn.add(marker)
                    out.learned.append(learned)
        if result.snat_requests or result.state_keys:
            snat = self.snat
            before = snat.unanswered
            out.leases.extend(snat.requests(result, now))
            if snat.unanswered != before:
                out.count(C.SNAT_LEASES_UNANSWERED, snat.unanswered - before)

    def _hold(self, pin: of.PacketIn, request: SnatBlockRequest, out: Outcome) -> bool:
        if not self.snat.hold(pin, request):
            out.count(C.SNAT_HELD_DROPPED)
            return False
        out.count(C.SNAT_HELD)
        return True

    def learned_written(self, learned: Learned) -> None:
        """The shell wrote (or gave up writing) ``learned``: it may be asked again."""
        self._pending_learn.discard(_learn_marker(learned))

    def snat_leased(self, request: SnatBlockRequest, blocks: Sequence[int],
                    nsdb_unreachable: bool = False, now: float | None = None) -> Outcome:
        """A lease finished with ``blocks`` (empty: none free, or not tried):
        the packets held for it are simulated again (at ``now``), or dropped
        without a block. Nothing is invalidated: translated flows keep their
        ports. ``nsdb_unreachable``: not tried (the next packet asks again),
        not exhausted."""
        out = Outcome()
        if not blocks and not nsdb_unreachable:
            out.count(C.SNAT_EXHAUSTED)
        if blocks:
            out.count(C.SNAT_BLOCKS_LEASED, len(blocks))
        held = self.snat.leased(request, blocks)
        if held:
            if not blocks or now is None:
                out.count(C.SNAT_HELD_DROPPED, len(held))
            else:
                for pin in held:  # in arrival order; any still short are held again
                    out.merge(self.packet_in(pin, now))
        return out

    def _drain_table_requests(self, out: Outcome) -> None:
        if self.state.requested:
            out.tables.extend(self.state.requested)
            self.state.requested.clear()

    # -- flow state -----------------------------------------------------------------------------
    def _send_flow_state(self, result: SimulationResult, ingress: uuid.UUID, now: float,
                         out: Outcome) -> None:
        self._replicate(lambda: self.replicator.outgoing(result, ingress, now), out)

    def _replicate(self, make: Callable[[], Iterable[tuple[str, bytes]]], out: Outcome) -> None:
        """Send the state packets ``make`` builds; if building fails, count it:
        state loss degrades, it must not stop forwarding or the agent."""
        try:
            packets = make()
        except Exception:  # noqa: BLE001 - see the docstring
            out.count(C.FLOW_STATE_ERRORS)
            return
        self._state_packets(packets, out)

    def _state_packets(self, packets: Iterable[tuple[str, bytes]], out: Outcome) -> None:
        for peer_ip, frame in packets:
            ofport = self._state_ports.get(peer_ip)
            if ofport is None:  # in no zone with a tunnel port here
                out.count(C.FLOW_STATE_PEER_UNREACHABLE)
                continue
            actions = (("set_field", "tunnel_id", pl.FLOW_STATE_TUNNEL_KEY),
                       ("set_field", "tun_ipv4_dst", int(ipaddress.IPv4Address(peer_ip))),
                       ("output", ofport))
            out.messages.append(of.PacketOut(of.OFPP_CONTROLLER, actions, frame))
            out.count(C.FLOW_STATE_SENT)

    def keys_expired(self, expired: list[tuple[Hashable, Any]], now: float) -> Outcome:
        """Local state keys expired (``InMemoryState.expire_keys``): the peers
        they were sent to are told to forget them too."""
        out = Outcome()
        replicator = self.replicator
        if replicator is not None and expired:
            self._replicate(lambda: replicator.withdrawals(expired, now), out)
        return out

    def port_moved(self, port_id: uuid.UUID, host_id: uuid.UUID | None,
                   now: float) -> Outcome:
        """A local port left: to ``host_id`` (a migration), its state goes
        with it; to no host, what was kept for it is forgotten."""
        out = Outcome()
        if self.replicator is None or host_id == self.host_id:
            return out  # (still bound here: only its interface changed)
        if host_id is None:
            self.replicator.forget_port(port_id)
            return out
        replicator = self.replicator
        self._replicate(lambda: replicator.hand_over(port_id, host_id, now), out)
        return out

    def _receive_flow_state(self, frame: bytes, tun_src: str | None, now: float,
                            out: Outcome) -> None:
        out.count(C.FLOW_STATE_RECEIVED)
        if self.replicator is None:
            return
        if tun_src is None:  # the switch always says; a packet without it is not a peer's
            out.count(C.FLOW_STATE_UNTRUSTED)
            return
        try:
            keys = self.replicator.incoming(frame, now, tun_src)
        except ValueError:
            out.count(C.FLOW_STATE_MALFORMED)
            return
        # flows simulated before this state arrived (a return packet that
        # raced its connection's state) are re-simulated with it; those
        # simulated with a key now withdrawn, without it
        self._invalidate_into([tags.state_key(k) for k in keys], out)

    # -- invalidation ---------------------------------------------------------------------------
    def invalidate(self, changed: Iterable[Hashable]) -> Outcome:
        out = Outcome()
        self._invalidate_into(changed, out)
        return out

    def _invalidate_into(self, changed: Iterable[Hashable], out: Outcome) -> None:
        records = self.flows.invalidate(changed)
        if records:
            self.ageing.flows_gone(r.cookie for r in records)
            out.messages.extend(infra_flows.delete_flows(r.cookie for r in records))
            out.count(C.FLOWS_INVALIDATED, len(records))

    # -- the switch and the ports ---------------------------------------------------------------
    def switch_connected(self) -> list[of.Message]:
        tunnels = self.ports.tunnel_ofports.values()
        out = infra_flows.switch_connected(self.generation)
        for binding in self.ports.bindings.values():
            out.extend(infra_flows.bind_port(binding, tunnels, self.generation))
        self._trust(self.ports.state_sources())
        out.extend(infra_flows.flow_state_flows(tunnels, self._state_sources, self.generation))
        out.extend(self.health.flows())
        return out

    def _trust(self, sources: frozenset[tuple[int, str]]) -> None:
        self._state_sources = sources
        self._state_ports = {ip: ofport for ofport, ip in sorted(sources)}

    def switch_gone(self) -> None:
        """The switch dropped its connection: what it had installed is unknown."""
        self.flows = FlowIndex(self.flows.max_flows)
        self.ageing.all_flows_gone()

    def flows_seen(self, cookies: Iterable[int]) -> bool:
        """A flow-stats reply: note earlier runs' simulated flows. True when
        there are any (the shell removes them after the reconcile grace)."""
        for value in cookies:
            cookie = pl.Cookie.parse(value)
            if (cookie is not None and cookie.origin is pl.Origin.SIMULATION
                    and cookie.generation != self.generation):
                self._stale_generations.add(cookie.generation)
        return bool(self._stale_generations)

    def remove_stale_flows(self) -> list[of.Message]:
        out = infra_flows.remove_generations(self._stale_generations)
        self._stale_generations.clear()
        return out

    def bindings_changed(self, changes: BindingChanges) -> Outcome:
        """Flows for a sync's changes: unbound ports' flows out, new ones in,
        and every flow that went through a port whose binding changed."""
        out = Outcome()
        tunnels = self.ports.tunnel_ofports.values()
        sources = self.ports.state_sources()
        if changes.tunnels_changed:
            # tunnel-ingress and flow-state flows name the tunnel ports
            self._trust(sources)
            out.messages.extend(infra_flows.flow_state_flows(tunnels, sources, self.generation))
            for binding in self.ports.bindings.values():
                if binding not in changes.bound:
                    out.messages.extend(infra_flows.bind_port(binding, tunnels,
                                                              self.generation))
        elif sources != self._state_sources:  # a tunnel zone's members changed
            out.messages.extend(infra_flows.flow_state_sources_changed(
                self._state_sources, sources, self.generation))
            self._trust(sources)
        for binding in changes.unbound:
            out.messages.extend(infra_flows.unbind_port(binding, tunnels, self.generation))
            self._invalidate_into([tags.port(binding.port_id)], out)
        for binding in changes.bound:
            out.messages.extend(infra_flows.bind_port(binding, tunnels, self.generation))
            self._invalidate_into([tags.port(binding.port_id)], out)
        return out

    def flow_removed(self, cookie: int) -> None:
        self.flows.remove(cookie)
        self.ageing.flows_gone((cookie,))

    def flow_refused(self, message: Any) -> None:
        """The switch refused ``message``: a refused flow must leave the index."""
        if type(message) is of.FlowMod:
            self.flows.remove(message.cookie)
            self.ageing.flows_gone((message.cookie,))

    def expire_learned(self, now: float) -> list[Learned]:
        """The learnings of this agent that aged out: the shell removes them
        from the NSDB tables (only its own entries, only with these values)."""
        expired = self.ageing.expired(now)
        for learned in expired:
            self._pending_learn.discard(_learn_marker(learned))
        return expired


def _learn_marker(learned: Learned) -> tuple[Any, ...]:
    if isinstance(learned, MacLearned):
        return ("mac", learned.network_id, learned.vlan, learned.mac, learned.port_id)
    return ("arp", learned.router_id, learned.ip, learned.mac)
