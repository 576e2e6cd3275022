"""One cache per state table, shared by all its subscribers.

The cache follows ZooKeeper through a persistent recursive watch: every entry
created or deleted arrives as its own event and costs O(1), whatever the table
size (MidoNet re-read the child list, O(size), per change). Each change gets
its exact version, the table node's cversion, which moves by one per
create/delete. Changes are kept in a bounded log so a subscriber that comes
back with ``last_version`` gets only what changed since (a diff), and a
subscriber that fell behind is caught up the same way; beyond the log, it
gets a snapshot.

Entries are encoded once when they change; every subscriber's notification
wraps the same bytes. The cache does no socket I/O: connections pull catch-ups
and receive pushed frames through :class:`Subscriber`.
"""
from __future__ import annotations

import collections
import dataclasses
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from midonet_ryu.metrics import ClusterCounter
from midonet_ryu.nsdb.persistent_watch import CREATED
from midonet_ryu.nsdb.state_catalogue import TableSpec
from midonet_ryu.nsdb.state_winners import TableState, WinnerChange, squash
from midonet_ryu.stateproxy import state_api as m

LOG = logging.getLogger(__name__)

AHEAD_PATIENCE = 3.0
"""Seconds a subscriber ahead of the cache waits before getting a snapshot anyway
(a table re-created under it has versions that will never catch up)."""


@dataclasses.dataclass(frozen=True)
class TableKey:
    spec: TableSpec
    object_id: uuid.UUID
    args: tuple[str, ...]

    def __str__(self) -> str:
        return "/".join((self.spec.kind, str(self.object_id), self.spec.name) + self.args)


class Subscriber(Protocol):
    """What a cache needs from a subscription (implemented by the server's connections)."""

    sent_version: int | None
    lagging: bool

    def push(self, fields: list[bytes]) -> None:
        """Queue encoded updates (``messages.shared_update_field``), or mark the
        subscription lagging if its queue is full."""

    def need_catch_up(self) -> None:
        """The subscription is out of step: catch it up when its connection can."""

    def complete(self, completed: m.Completed) -> None:
        """End the subscription with a Completed notification."""


@dataclasses.dataclass
class CatchUp:
    """What a subscriber must receive to reach ``version``: a diff or a snapshot."""

    type: m.UpdateType
    version: int
    entries: list[bytes]

    def bodies(self, batch_size: int) -> Iterator[bytes]:
        """Update bodies of at most ``batch_size`` entries, begin/end flagged; lazy."""
        n = len(self.entries)
        if n == 0:
            yield m.encode_update_body(self.type, self.version, True, True, ())
            return
        for start in range(0, n, batch_size):
            yield m.encode_update_body(self.type, self.version, start == 0,
                                       start + batch_size >= n,
                                       self.entries[start:start + batch_size])


class TableCache:
    """Follows one table and fans its changes out; run by a single cache worker.

    ``sink`` is fed by the watch (any thread, enqueue only); ``schedule(cache)``
    asks the cache's worker to call :meth:`process` soon. Notifications that
    pile up while the worker is busy are coalesced into one update.
    """

    def __init__(self, key: TableKey, path: str, batch_size: int, log_size: int,
                 schedule: Callable[[TableCache], None], metrics: Any = None) -> None:
        self.key = key
        self.path = path
        self.spec = key.spec
        self.batch_size = batch_size
        self.log_size = log_size
        self._schedule = schedule
        self.metrics = metrics
        self.state = TableState(key.spec)
        self.version = 0
        self.synced = False
        self.ever_synced = False
        self.lost_since: float | None = None
        self.inbox: collections.deque = collections.deque()
        self.scheduled = False
        self.log: collections.deque[tuple[int, Any, int]] = collections.deque()
        self.log_floor: int | None = None  # diffs may start at any version >= this
        self.encoded: dict[Any, bytes] = {}
        self.subscribers: set[Any] = set()
        self.closed = False
        self.created_at = time.monotonic()
        self.idle_since: float | None = None
        self.last_round = 0.0
        self.frozen_size = 0  # entries when the service last froze the GC for this cache
        self.seen_at = 0.0  # when the oldest item in the inbox arrived (update latency)

    # -- input ------------------------------------------------------------------------------
    def sink(self, item: tuple) -> None:
        self.inbox.append(item)
        if not self.scheduled:
            self.scheduled = True
            self.seen_at = time.monotonic()  # once per round, not per entry
            self._schedule(self)

    def process(self, now: float) -> None:
        """Apply everything queued, then publish one coalesced update."""
        self.scheduled = False
        seen_at = self.seen_at  # items arriving from here on schedule a round of their own
        if self.closed:
            self.inbox.clear()
            return
        before = self.version
        changes: list[WinnerChange] = []
        reset = False
        while self.inbox:
            item = self.inbox.popleft()
            kind = item[0]
            if kind == "child":
                if not self.synced:
                    continue  # the next snapshot already holds it
                self.version += 1
                change = (self.state.add(item[2]) if item[1] == CREATED
                          else self.state.discard(item[2]))
                if change is not None:
                    changes.append(change)
                    self._record(change, self.version)
            elif kind == "snapshot":
                if self.metrics is not None:
                    self.metrics.inc(ClusterCounter.ZK_CHILD_READS)
                stat = item[2]
                version = stat.cversion if stat is not None else 0
                diff = self.state.replace(item[1])
                self.synced = True
                self.lost_since = None
                if not self.ever_synced:
                    self.ever_synced = True
                    self.version = version
                    self.log_floor = version
                    self._reencode_all()
                    continue
                if version < self.version:
                    reset = True  # the table was re-created: versions restarted
                self.version = version
                changes.extend(diff)
                for change in diff:
                    self._record(change, version)
            elif kind == "lost":
                if self.synced:
                    self.synced = False
                    self.lost_since = now
            elif kind == "gone":
                diff = self.state.replace([])
                changes.extend(diff)
                for change in diff:
                    self._record(change, self.version)
                reset = True
                self.version = 0
        if self.metrics is not None and changes:
            self.metrics.inc(ClusterCounter.CHANGES, len(changes))
        if reset:
            self._reset_versions()
            return
        if not self.synced:
            return
        if changes and self._publish(squash(changes), before) and self.metrics is not None:
            self.metrics.state_proxy_update_seconds.observe(time.monotonic() - seen_at)
        for sub in list(self.subscribers):
            if sub.lagging:
                sub.need_catch_up()
            elif sub.sent_version == before:
                # Versions moved without a visible change (a superseded entry was
                # pruned): the subscriber is still current.
                sub.sent_version = self.version

    def _record(self, change: WinnerChange, version: int) -> None:
        key = change.key
        if change.new is None:
            self.encoded.pop(key, None)
            removed_version = change.old.version if change.old else 0
        else:
            self.encoded[key] = m.encode_entry(m.KeyValue.of(self.spec.key, key),
                                               m.KeyValue.of(self.spec.value, change.new.value),
                                               change.new.version)
            removed_version = 0
        if self.log_size <= 0:
            self.log_floor = version
            return
        self.log.append((version, key, removed_version))
        while len(self.log) > self.log_size:
            dropped = self.log.popleft()
            self.log_floor = dropped[0]

    def _reencode_all(self) -> None:
        kv = m.KeyValue.of
        spec = self.spec
        self.encoded = {key: m.encode_entry(kv(spec.key, key), kv(spec.value, e.value), e.version)
                        for key, e in self.state.winners.items()}

    def _reset_versions(self) -> None:
        """Versions went backwards (table re-created): nobody can be diffed any more."""
        LOG.warning("table %s was re-created; resending snapshots", self.key)
        self.log.clear()
        self.log_floor = None
        self._reencode_all()
        for sub in list(self.subscribers):
            sub.sent_version = None
            sub.lagging = True
            sub.need_catch_up()

    def _removal(self, key: Any, removed_version: int) -> bytes:
        return m.encode_entry(m.KeyValue.of(self.spec.key, key), None, removed_version)

    def _publish(self, changes: list[WinnerChange], before: int) -> int:
        """Push one update to every subscriber in step; how many were handed it."""
        entries = []
        for change in changes:
            if change.new is None:
                entries.append(self._removal(change.key, change.old.version if change.old else 0))
            else:
                entries.append(self.encoded[change.key])
        fields = [m.shared_update_field(body) for body in CatchUp(
            m.UpdateType.RELATIVE, self.version, entries).bodies(self.batch_size)]
        handed = 0
        for sub in list(self.subscribers):
            if sub.lagging:
                continue
            if sub.sent_version != before:
                sub.lagging = True  # it missed something: catch it up instead
                continue
            sub.push(fields)
            if not sub.lagging:
                sub.sent_version = self.version
                handed += 1
        return handed

    # -- output -----------------------------------------------------------------------------
    def catch_up(self, base: int | None, waited: float = 0.0) -> CatchUp | None:
        """What brings a subscriber at ``base`` (None: nothing) to the current version.

        None while the cache is not synced with ZooKeeper, and for a while
        (``AHEAD_PATIENCE``) when the subscriber is ahead of the cache (it read
        ZooKeeper directly): the cache is about to receive those changes, and
        answering now would move the subscriber backwards.
        """
        if not self.synced:
            return None
        if base is not None and base > self.version and waited < AHEAD_PATIENCE:
            return None
        floor = self.log_floor
        if base is not None and floor is not None and floor <= base <= self.version:
            keys: dict[Any, int] = {}
            for version, key, removed_version in reversed(self.log):
                if version <= base:
                    break
                if key not in keys:
                    keys[key] = removed_version
            entries = [self.encoded[k] if k in self.encoded else self._removal(k, rv)
                       for k, rv in keys.items()]
            return CatchUp(m.UpdateType.RELATIVE, self.version, entries)
        return CatchUp(m.UpdateType.SNAPSHOT, self.version, list(self.encoded.values()))

    def expire_if_lost(self, now: float, grace: float) -> bool:
        """End every subscription with NSDB_ERROR when ZooKeeper stayed away too long."""
        since = self.lost_since
        if since is None and not self.synced:
            since = self.created_at
        if self.synced or since is None or now - since < grace:
            return False
        LOG.warning("table %s: ZooKeeper unavailable for %.1fs; ending subscriptions",
                    self.key, now - since)
        for sub in list(self.subscribers):
            sub.complete(m.Completed(m.CompletedCode.NSDB_ERROR, -4,
                                     "ZooKeeper connection lost"))
        self.subscribers.clear()
        return True
