"""Which ports an agent has really bound, as a feed of changes with cursors.

An agent that binds a port publishes the port's ``active`` state key in its
host's namespace (:mod:`hosts`); Neutron marks a port ACTIVE only when that
has happened. One persistent recursive watch on the state subtree tells the
cluster of every such key as it comes and goes, so no read is needed per
port, and followers long-poll :meth:`PortActivity.changes` with the cursor of
their last answer instead of listing thousands of ports.

The change log is bounded: a follower whose cursor fell out of it (or that
comes after a restart, when cursors start again) is told to start over and
gets the whole active set.
"""
from __future__ import annotations

import collections
import logging
import threading
import uuid
from dataclasses import dataclass

from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import NoNodeError

from midonet_ryu.nsdb.hosts import ACTIVE
from midonet_ryu.nsdb.paths import Paths
from midonet_ryu.nsdb.persistent_watch import CREATED, DELETED, PersistentWatchHub

LOG = logging.getLogger(__name__)

MAX_LOG = 100_000


@dataclass(frozen=True, slots=True)
class Changes:
    cursor: int
    reset: bool
    active: tuple[uuid.UUID, ...]
    inactive: tuple[uuid.UUID, ...]


class ActivityLog:
    """Ports bound somewhere (a port may be active on two hosts for a moment
    while it moves) and the numbered changes of that set; pure logic."""

    def __init__(self, max_log: int = MAX_LOG) -> None:
        self._where: dict[uuid.UUID, set[uuid.UUID]] = {}
        self._log: collections.deque[tuple[int, uuid.UUID, bool]] = collections.deque(
            maxlen=max_log)
        self.seq = 0

    def is_active(self, port_id: uuid.UUID) -> bool:
        return bool(self._where.get(port_id))

    def mark(self, host: uuid.UUID, port_id: uuid.UUID, present: bool) -> bool:
        """Note ``port_id``'s key on ``host``; True if the port's activity changed."""
        hosts = self._where.get(port_id)
        before = bool(hosts)
        if present:
            self._where.setdefault(port_id, set()).add(host)
        elif hosts is not None:
            hosts.discard(host)
            if not hosts:
                del self._where[port_id]
        after = self.is_active(port_id)
        if after != before:
            self.seq += 1
            self._log.append((self.seq, port_id, after))
        return after != before

    def replace(self, pairs: set[tuple[uuid.UUID, uuid.UUID]]) -> None:
        """A fresh read of every key: apply the differences as changes."""
        current = {(h, p) for p, hosts in self._where.items() for h in hosts}
        for host, port in current - pairs:
            self.mark(host, port, False)
        for host, port in pairs - current:
            self.mark(host, port, True)

    def changes(self, cursor: int | None) -> Changes:
        oldest = self._log[0][0] if self._log else self.seq + 1
        if cursor is None or cursor > self.seq or cursor < oldest - 1:
            return Changes(self.seq, cursor is not None, tuple(self._where), ())
        latest: dict[uuid.UUID, bool] = {}
        for seq, port, active in reversed(self._log):
            if seq <= cursor:
                break
            latest.setdefault(port, active)
        return Changes(self.seq, False, tuple(p for p, a in latest.items() if a),
                       tuple(p for p, a in latest.items() if not a))


class PortActivity:
    """The :class:`ActivityLog` of one ZooKeeper client, kept current by a
    watch; :meth:`changes` waits for news when asked to."""

    def __init__(self, client: KazooClient, paths: Paths, max_log: int = MAX_LOG) -> None:
        self.client = client
        self._root = f"{paths.zoom}/state"
        self._hub = PersistentWatchHub.of(client)
        self._log = ActivityLog(max_log)
        self._cond = threading.Condition()
        self._stopped = True
        self._resync = threading.Event()
        self.ready = False

    def start(self) -> PortActivity:
        self._stopped = False
        self._hub.register_tree(self._root, self._event)
        self.client.add_listener(self._session_changed)
        self._resync.set()
        self.client.handler.spawn(self._worker)
        return self

    def stop(self) -> None:
        self._stopped = True
        self.client.remove_listener(self._session_changed)
        self._hub.unregister_tree(self._root)
        self._resync.set()
        with self._cond:
            self._cond.notify_all()

    def is_active(self, port_id: uuid.UUID) -> bool:
        with self._cond:
            return self._log.is_active(port_id)

    def changes(self, cursor: int | None, timeout: float = 0.0) -> Changes:
        """What changed since ``cursor``; with a timeout, wait that long for a
        change when there is none yet."""
        with self._cond:
            found = self._log.changes(cursor)
            if timeout > 0 and cursor is not None and not found.reset and not (
                    found.active or found.inactive):
                self._cond.wait_for(lambda: self._log.seq != cursor or self._stopped,
                                    timeout)
                found = self._log.changes(cursor)
            return found

    # -- watch --------------------------------------------------------------------
    def _key_of(self, path: str) -> tuple[uuid.UUID, uuid.UUID] | None:
        parts = path[len(self._root) + 1:].split("/")
        if len(parts) != 4 or parts[1] != "Port" or parts[3] != ACTIVE:
            return None
        try:
            return uuid.UUID(parts[0]), uuid.UUID(parts[2])
        except ValueError:
            return None

    def _event(self, event_type: int, path: str) -> None:
        """On kazoo's reader thread: the path says it all, nothing is read."""
        key = self._key_of(path) if event_type in (CREATED, DELETED) else None
        if key is None:
            return
        with self._cond:
            if self._log.mark(key[0], key[1], event_type == CREATED):
                self._cond.notify_all()

    def _session_changed(self, state: str) -> None:
        if state == KazooState.CONNECTED and not self._stopped:
            self._resync.set()

    def running(self) -> bool:
        return not self._stopped

    def _worker(self) -> None:
        while self.running():
            self._resync.wait()
            self._resync.clear()
            if not self.running():
                return
            try:
                self._reload()
            except Exception:  # noqa: BLE001 - the next connection retries
                LOG.exception("port activity read failed; retrying")
                self.client.handler.sleep_func(1.0)
                self._resync.set()

    def _reload(self) -> None:
        """Watch first, then read: a key that changes after the watch is an
        event, one that changed before is in the read."""
        self.client.ensure_path(self._root)
        self._hub.add_watch_async(self._root).get()
        pairs: set[tuple[uuid.UUID, uuid.UUID]] = set()
        for namespace in self.client.get_children(self._root):
            try:
                host = uuid.UUID(namespace)
                ports = self.client.get_children(f"{self._root}/{namespace}/Port")
            except (ValueError, NoNodeError):
                continue
            for name in ports:
                try:
                    port = uuid.UUID(name)
                except ValueError:
                    continue
                if self.client.exists(f"{self._root}/{namespace}/Port/{name}/{ACTIVE}"):
                    pairs.add((host, port))
        with self._cond:
            self._log.replace(pairs)
            self._cond.notify_all()
        self.ready = True
        LOG.info("port activity loaded: %d active ports", len(pairs))
