"""What to send and what to import: the replicator's decisions, without I/O.

``keys_for_peer`` picks the keys of a simulation one peer has not heard
about within the refresh interval; ``import_plan`` turns a received message
into the writes to make and the keys whose flows must be re-simulated.
"""
from __future__ import annotations

import uuid
from collections.abc import Hashable, Iterable, Mapping
from typing import Any

from midonet_ryu.flowstate.ledger import SendLedger
from midonet_ryu.flowstate.payload import FlowStateMessage
from midonet_ryu.simulation.state import ConntrackKey, NatBinding, NatKey

# MidoNet: imported keys outlive local ones by half a TTL (90 s for a 60 s
# TTL), so a peer that refreshes every TTL/2 is never a moment too late.
IMPORT_TTL_FACTOR = 1.5


def ledger_entry(key: Hashable, value: Any) -> Hashable:
    """What the ledger remembers: a NAT key with its binding (a new binding
    for the same key is news), a conntrack key alone (presence is all)."""
    return (key, value) if isinstance(key, NatKey) else key


def keys_for_peer(state_keys: Iterable[tuple[Hashable, Any]], peer: uuid.UUID,
                  ledger: SendLedger, now: float
                  ) -> tuple[list[ConntrackKey], list[tuple[NatKey, NatBinding]]]:
    """The keys ``peer`` has to be sent now (recorded in ``ledger`` as sent)."""
    conntrack: list[ConntrackKey] = []
    nat: list[tuple[NatKey, NatBinding]] = []
    for key, value in state_keys:
        if isinstance(key, ConntrackKey):
            if ledger.take(peer, ledger_entry(key, value), now):
                conntrack.append(key)
        elif isinstance(key, NatKey) and isinstance(value, NatBinding):
            if ledger.take(peer, ledger_entry(key, value), now):
                nat.append((key, value))
    return conntrack, nat


class ImportPlan:
    """The writes a received message asks for.

    ``writes``: every (key, value) to store (refreshing known keys too);
    ``news``: the keys that were absent or bound differently, whose flows were
    simulated without this state and must be invalidated.
    """

    __slots__ = ("writes", "news")

    def __init__(self) -> None:
        self.writes: list[tuple[Hashable, Any]] = []
        self.news: list[Hashable] = []


def import_plan(msg: FlowStateMessage, conntrack: Any,
                nat: Mapping[NatKey, NatBinding]) -> ImportPlan:
    """Plan the import of ``msg`` against the local ``conntrack``/``nat`` tables.

    A peer's NAT binding replaces a different local one (last writer wins,
    as in MidoNet): the sender just simulated the flow with it, and the
    local flows using the old one are invalidated with the key.
    """
    plan = ImportPlan()
    for key in msg.conntrack:
        plan.writes.append((key, True))
        if key not in conntrack:
            plan.news.append(key)
    for key, value in msg.nat:
        plan.writes.append((key, value))
        if nat.get(key) != value:
            plan.news.append(key)
    return plan
