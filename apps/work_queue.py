"""The agent worker's queue, and the typed items it carries.

Kazoo watch callbacks and the packet path never do a round trip themselves:
they queue an item and the worker does it. The queue is bounded; when it is
full the oldest item is dropped and counted (``work_items_dropped``): a lost
invalidation leaves a stale flow until its idle timeout, so the bound is
generous, and a ``Sync`` (local bindings against OVSDB, and the remote ports
the topology changed) is queued every second.
"""
from __future__ import annotations

import collections
import dataclasses
import uuid
from collections.abc import Hashable
from typing import Any

from midonet_ryu.datapath.agent_state import TableKey
from midonet_ryu.simulation.result import ArpLearned, MacLearned, SnatBlockRequest


@dataclasses.dataclass(frozen=True, slots=True)
class Sync:
    """Recompute local bindings against OVSDB and the NSDB."""


@dataclasses.dataclass(frozen=True, slots=True)
class Invalidate:
    tags: tuple[Hashable, ...]


@dataclasses.dataclass(frozen=True, slots=True)
class SubscribeTable:
    key: TableKey


@dataclasses.dataclass(frozen=True, slots=True)
class WriteLearned:
    learned: MacLearned | ArpLearned


@dataclasses.dataclass(frozen=True, slots=True)
class ForgetLearned:
    """Remove this agent's entries for learnings that aged out."""

    expired: tuple[MacLearned | ArpLearned, ...]


@dataclasses.dataclass(frozen=True, slots=True)
class LeaseSnat:
    request: SnatBlockRequest


@dataclasses.dataclass(frozen=True, slots=True)
class RecoverSession:
    """A new ZooKeeper session replaced a lost one."""


@dataclasses.dataclass(frozen=True, slots=True)
class Reconnected:
    """ZooKeeper is reachable again (same session or a new one)."""


@dataclasses.dataclass(frozen=True, slots=True)
class RemotePortMoved:
    port_id: uuid.UUID


@dataclasses.dataclass(frozen=True, slots=True)
class HostLivenessChanged:
    """A remote host went down or came back."""

    host_id: uuid.UUID


@dataclasses.dataclass(frozen=True, slots=True)
class TopologyLoaded:
    """Topology objects a simulation waited for came in."""


@dataclasses.dataclass(frozen=True, slots=True)
class TracesChanged:
    """A trace request was created, changed or deleted."""


@dataclasses.dataclass(frozen=True, slots=True)
class RecordTrace:
    trace_id: uuid.UUID
    limit: int
    record: dict[str, Any]


@dataclasses.dataclass(frozen=True, slots=True)
class SetMemberStatus:
    """Write the health monitor's verdict on a pool member."""

    member_id: uuid.UUID
    status: Any  # topology.lb.LBStatus


WorkItem = (Sync | Invalidate | SubscribeTable | WriteLearned | ForgetLearned | LeaseSnat
            | RecoverSession | Reconnected
            | RemotePortMoved | HostLivenessChanged | TopologyLoaded | TracesChanged
            | RecordTrace
            | SetMemberStatus)


class WorkQueue:
    def __init__(self, maxlen: int = 100_000) -> None:
        self._items: collections.deque[Any] = collections.deque()
        self.maxlen = maxlen
        self.dropped = 0

    def put(self, item: WorkItem) -> None:
        if len(self._items) >= self.maxlen:
            self._items.popleft()
            self.dropped += 1
        self._items.append(item)

    def get(self) -> WorkItem | None:
        return self._items.popleft() if self._items else None

    def __len__(self) -> int:
        return len(self._items)

    def __bool__(self) -> bool:
        return bool(self._items)
