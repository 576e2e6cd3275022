"""The agent's flow-state replicator: who gets which state, and importing theirs.

The flow setup calls ``outgoing`` after each simulation that created or used
state and sends what it returns, tunnel key 0xFFFFFF, before the data
packet; it hands every packet-in with that key to ``incoming`` and
invalidates the flows tagged with the keys it returns. This class does the
lookups (topology, underlay addresses) and the writes into the local state;
the decisions and the wire format are in the modules it calls. Counts go to
``counts`` by :class:`~midonet_ryu.metrics.AgentCounter` (the agent's
metrics export them). See doc/flow-state.md.
"""
from __future__ import annotations

import collections
import logging
import uuid
from collections.abc import Callable, Hashable
from typing import Any

from midonet_ryu.flowstate.ledger import SendLedger
from midonet_ryu.flowstate.payload import FlowStateMessage
from midonet_ryu.flowstate.peers import interested_hosts, sent_from
from midonet_ryu.flowstate.plan import (
    IMPORT_TTL_FACTOR,
    import_plan,
    keys_for_peer,
    ledger_entry,
)
from midonet_ryu.flowstate.state_packet import decode_frame, encode_frames
from midonet_ryu.metrics import AgentCounter as C
from midonet_ryu.simulation.result import SimulationResult
from midonet_ryu.simulation.state import STATE_KEY_TTL, ConntrackKey, NatKey
from midonet_ryu.topology.snapshot import TopologyView

LOG = logging.getLogger(__name__)
MAX_KEYS_PER_PORT = 16_384
"""Keys remembered per local port for its migration (the newest; live ones
only, pruned every half TTL)."""
MAX_WITHDRAWABLE = 262_144
"""Keys whose peers are remembered so their expiry can be withdrawn from
them, and keys whose import is remembered so a withdrawal can tell whether
this host used them since (each the most recently sent or imported). A key
beyond the bound is not withdrawn, or not removed when withdrawn: it
expires by its TTL as before (``flow_state_withdraw_untracked``)."""


class FlowStateReplicator:
    """Sends this host's flow state to its interested peers and imports theirs."""

    def __init__(self, host_id: uuid.UUID, topology: TopologyView, local_state: Any,
                 host_underlay_ip: Callable[[uuid.UUID], str | None],
                 max_ledger_entries: int | None = None, dscp: int = 0) -> None:
        self.host_id = host_id
        self.dscp = dscp  # of the state packets' IPv4 header ([agent] flow_state_dscp)
        self.topology = topology
        self.local_state = local_state
        self.host_underlay_ip = host_underlay_ip
        self.key_ttl = float(getattr(local_state, "key_ttl", STATE_KEY_TTL))
        kwargs = {} if max_ledger_entries is None else {"max_entries": max_ledger_entries}
        # a key goes to a peer at most once per half TTL (MidoNet's refresh)
        self.ledger = SendLedger(self.key_ttl / 2, **kwargs)
        self._last_prune: float | None = None
        self.counts: collections.Counter[C] = collections.Counter()
        # the keys simulations of each local port's traffic made (newest
        # last): what the port's next host needs when it migrates
        self._by_port: dict[uuid.UUID, dict[Hashable, None]] = {}
        # key -> the peers it was sent to: who hears of its expiry
        self._sent_to: dict[Hashable, set[uuid.UUID]] = {}
        # key -> the expiry its last import gave it: unchanged means no
        # simulation here used it since, so a withdrawal may remove it
        self._imported: dict[Hashable, float] = {}

    # -- sending --------------------------------------------------------------
    def outgoing(self, result: SimulationResult, ingress_port_id: uuid.UUID,
                 now: float) -> list[tuple[str, bytes]]:
        """(peer underlay IP, frame) for each state packet to send now."""
        if not result.state_keys:
            return []
        self._maybe_prune(now)
        made = self._by_port.setdefault(ingress_port_id, {})
        for key, _value in result.state_keys:
            made.pop(key, None)
            made[key] = None
        while len(made) > MAX_KEYS_PER_PORT:
            del made[next(iter(made))]
        peers = interested_hosts(self.topology, ingress_port_id, result.egress_port_ids,
                                 self.host_id)
        out: list[tuple[str, bytes]] = []
        encoded: dict[tuple, list[bytes]] = {}
        for peer in sorted(peers):
            ip = self.host_underlay_ip(peer)
            if ip is None:
                self.counts[C.FLOW_STATE_PEER_UNREACHABLE] += 1
                continue
            conntrack, nat = keys_for_peer(result.state_keys, peer, self.ledger, now)
            if not conntrack and not nat:
                self.counts[C.FLOW_STATE_KEYS_SUPPRESSED] += len(result.state_keys)
                continue
            ident = (tuple(conntrack), tuple(nat))
            frames = encoded.get(ident)
            if frames is None:
                frames = encoded[ident] = encode_frames(
                    FlowStateMessage(self.host_id, ident[0], ident[1]), self.dscp)
            out.extend((ip, frame) for frame in frames)
            self.counts[C.FLOW_STATE_KEYS_SENT] += len(conntrack) + len(nat)
            for ct in conntrack:
                self._sent(ct, peer)
            for key, _value in nat:
                self._sent(key, peer)
        return out

    def _sent(self, key: Hashable, peer: uuid.UUID) -> None:
        peers = self._sent_to.get(key) or set()
        peers.add(peer)
        self._remember(self._sent_to, key, peers)

    def _remember(self, table: dict[Hashable, Any], key: Hashable, value: Any) -> None:
        """``table[key] = value`` as its newest entry, within MAX_WITHDRAWABLE
        (the oldest goes)."""
        table.pop(key, None)
        table[key] = value
        if len(table) > MAX_WITHDRAWABLE:
            del table[next(iter(table))]
            self.counts[C.FLOW_STATE_WITHDRAW_UNTRACKED] += 1

    # -- withdrawing ----------------------------------------------------------
    def withdrawals(self, expired: list[tuple[Hashable, Any]],
                    now: float) -> list[tuple[str, bytes]]:
        """(peer IP, frame) withdrawing keys that expired here (no simulation
        used them for a TTL) from the peers they were sent to, so a peer
        forgets a connection when its origin does, not half a TTL later."""
        by_peer: dict[uuid.UUID, tuple[list[ConntrackKey], list[tuple[NatKey, Any]]]] = {}
        for key, value in expired:
            self._imported.pop(key, None)
            peers = self._sent_to.pop(key, None)
            if not peers:
                continue
            entry = ledger_entry(key, value)
            for peer in peers:
                conntrack, nat = by_peer.setdefault(peer, ([], []))
                if isinstance(key, ConntrackKey):
                    conntrack.append(key)
                elif isinstance(key, NatKey) and value is not None:
                    nat.append((key, value))
                self.ledger.forget(peer, entry)  # made again, it is news again
        out: list[tuple[str, bytes]] = []
        for peer in sorted(by_peer):
            conntrack, nat = by_peer[peer]
            ip = self.host_underlay_ip(peer)
            if ip is None:
                self.counts[C.FLOW_STATE_PEER_UNREACHABLE] += 1
                continue
            frames = encode_frames(FlowStateMessage(self.host_id, tuple(conntrack), tuple(nat),
                                                    withdraw=True), self.dscp)
            out.extend((ip, frame) for frame in frames)
            self.counts[C.FLOW_STATE_KEYS_WITHDRAWN] += len(conntrack) + len(nat)
        return out

    def _withdrawn(self, msg: FlowStateMessage, now: float) -> list[Hashable]:
        """Remove the withdrawn keys no simulation here used within half a
        TTL; returns them (their flows are invalidated). A key used here
        more recently stays: a flow simulated with it may still be installed
        (stateful flows live half a TTL) and carry the only traffic left, a
        one-way reply stream; it expires by its own TTL."""
        local = self.local_state
        candidates: list[tuple[Hashable, Any]] = [(k, None) for k in msg.conntrack]
        for nat_key, binding in msg.nat:
            if local.nat.get(nat_key) == binding:  # a different binding is someone else's news
                candidates.append((nat_key, binding))
        gone: list[Hashable] = []
        for key, value in candidates:
            expiry = local.expiry_of(key)
            if expiry is None:
                continue
            # a local use set the expiry to its time + TTL; an import, to
            # what ``_imported`` remembers
            used_here = self._imported.get(key) != expiry
            if used_here and now - (expiry - self.key_ttl) < self.ledger.interval:
                self.counts[C.FLOW_STATE_WITHDRAWALS_KEPT] += 1
                continue
            self._imported.pop(key, None)
            local.drop_key(key)
            self.ledger.forget(msg.sender, ledger_entry(key, value))
            gone.append(key)
        self.counts[C.FLOW_STATE_WITHDRAWALS_APPLIED] += len(gone)
        return gone

    def _maybe_prune(self, now: float) -> None:
        if self._last_prune is None or now - self._last_prune >= self.ledger.interval:
            self._last_prune = now
            self.ledger.prune(now)
            live = self._live
            for table in (self._sent_to, self._imported):
                for key in [k for k in table if not live(k)]:
                    del table[key]
            for port_id, made in list(self._by_port.items()):
                kept = {k: None for k in made if live(k)}
                if kept:
                    self._by_port[port_id] = kept
                else:
                    del self._by_port[port_id]

    def _live(self, key: Hashable) -> bool:
        if isinstance(key, ConntrackKey):
            return key in self.local_state.conntrack
        return key in self.local_state.nat

    # -- migration ------------------------------------------------------------
    def hand_over(self, port_id: uuid.UUID, peer: uuid.UUID,
                  now: float) -> list[tuple[str, bytes]]:
        """The port moved to ``peer``: (peer IP, frame) carrying the live keys
        its traffic made here, so its connections keep their state there
        (MidoNet's new owner fetched them from the old one)."""
        made = self._by_port.pop(port_id, {})
        conntrack = [k for k in made if isinstance(k, ConntrackKey) and self._live(k)]
        nat = [(k, self.local_state.nat[k]) for k in made
               if isinstance(k, NatKey) and self._live(k)]
        ip = self.host_underlay_ip(peer)
        if not (conntrack or nat):
            return []
        if ip is None:
            self.counts[C.FLOW_STATE_PEER_UNREACHABLE] += 1
            return []
        for ct in conntrack:
            self.ledger.record(peer, ledger_entry(ct, None), now)
        for key, value in nat:
            self.ledger.record(peer, ledger_entry(key, value), now)
        self.counts[C.FLOW_STATE_HANDED_OVER] += len(conntrack) + len(nat)
        frames = encode_frames(FlowStateMessage(self.host_id, tuple(conntrack), tuple(nat)),
                               self.dscp)
        return [(ip, frame) for frame in frames]

    def forget_port(self, port_id: uuid.UUID) -> None:
        """The port left this host for no other (deleted, or unbound)."""
        self._by_port.pop(port_id, None)

    # -- receiving ------------------------------------------------------------
    def incoming(self, frame: bytes, now: float,
                 source_ip: str | None = None) -> list[Hashable]:
        """Import a peer's state packet; returns the keys that are new here.

        ``source_ip`` (the outer source the switch reported): the packet is
        dropped unless its sender is the tunnel-zone member at that address.

        Imported keys expire ``IMPORT_TTL_FACTOR`` TTLs from now (a later
        local use refreshes them like any key). A withdrawal returns the
        keys it removed. Raises ValueError on a malformed frame, before
        writing anything.
        """
        msg = decode_frame(frame)
        if msg.sender == self.host_id:
            self.counts[C.FLOW_STATE_OWN_IGNORED] += 1
            return []
        if source_ip is not None and not sent_from(self.topology, self.host_id, msg.sender,
                                                   source_ip):
            self.counts[C.FLOW_STATE_UNTRUSTED] += 1
            return []
        if msg.withdraw:
            return self._withdrawn(msg, now)
        plan = import_plan(msg, self.local_state.conntrack, self.local_state.nat)
        # put_key gives a key ``now + key_ttl``; starting the clock later by
        # the extra fraction is how an imported key gets 1.5 TTL.
        stamp = now + (IMPORT_TTL_FACTOR - 1.0) * self.key_ttl
        for key, value in plan.writes:
            self.local_state.put_key(key, value, stamp)
            self._remember(self._imported, key, self.local_state.expiry_of(key))
            # the sender knows this key: do not echo it back for a while
            self.ledger.record(msg.sender, ledger_entry(key, value), now)
        self.counts[C.FLOW_STATE_KEYS_IMPORTED] += len(plan.writes)
        return plan.news

