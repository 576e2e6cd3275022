"""ZooKeeper 3.6+ persistent recursive watches on a kazoo 2.11 client.

Why: a State Proxy that re-reads a table's child list on every change pays
O(table size) per change. A persistent recursive watch on the table node
delivers every child create/delete as its own event (path included), so each
change costs O(1). kazoo 2.11 has no API for them, so this module adds the
two missing pieces, confined here:

* :class:`AddWatch`, a request class for opcode 106 (``addWatch``, mode 1 =
  PERSISTENT_RECURSIVE), submitted through the client's normal request queue;
* a wrapper around the connection's ``_read_watch_event`` that hands events
  under a watched path to our sinks *before* kazoo's own dispatch, which
  would otherwise drop them (it only knows one-shot watchers, and pops them).

Ordering is the subtle part. Events and replies arrive on one socket in
ZooKeeper's order, but kazoo hands them to different threads. So both are
captured on the connection's reader thread, in arrival order, into one
inbox per watch: the events through the wrapper, the snapshot through a
``GetChildren2`` subclass whose ``deserialize`` runs on that same thread.
A consumer then knows exactly which events the snapshot already contains.

ZooKeeper keeps watches per connection: after a reconnection (or a session
expiry) the watch must be added again and the table re-read; kazoo's
SetWatches does not carry persistent watches. :class:`PersistentWatch` does
this from a session listener and marks a ``resync`` item in the inbox.
"""
from __future__ import annotations

import collections
import logging
from collections.abc import Callable
from typing import Any

from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError
from kazoo.protocol.serialization import GetChildren2, Watch, int_struct, write_string
from kazoo.protocol.states import KazooState

LOG = logging.getLogger(__name__)

ADD_WATCH_OPCODE = 106
MODE_PERSISTENT_RECURSIVE = 1

CREATED = 1
DELETED = 2

Item = tuple
"""Inbox items, in ZooKeeper's order:
``("child", CREATED|DELETED, name)`` for an entry of the table,
``("snapshot", children, stat)`` for a completed re-read,
``("gone",)`` when the table node itself was deleted (its cversion restarts at 0),
``("lost",)`` when the connection dropped: ignore child events until the next
snapshot, which the watch requests by itself on reconnection."""


class AddWatch(collections.namedtuple("AddWatch", "path mode")):
    """``addWatch`` request (ZooKeeper 3.6+): path, then an int mode. Empty reply."""

    type = ADD_WATCH_OPCODE

    def serialize(self) -> bytearray:
        b = bytearray()
        b.extend(write_string(self.path))
        b.extend(int_struct.pack(self.mode))
        return b

    @classmethod
    def deserialize(cls, bytes: Any, offset: int) -> bool:  # noqa: A002 - kazoo's signature
        return True


class _OrderedGetChildren(GetChildren2):
    """GetChildren2 whose reply is pushed into an inbox on the reader thread."""

    sink: Callable[[Item], None] | None = None

    @classmethod
    def make(cls, path: str, sink: Callable[[Item], None]) -> _OrderedGetChildren:
        req = cls(path, None)
        req.sink = sink
        return req

    def deserialize(self, bytes: Any, offset: int) -> Any:  # type: ignore[override]  # noqa: A002
        children, stat = GetChildren2.deserialize(bytes, offset)
        if self.sink is not None:
            self.sink(("snapshot", children, stat))
        return children, stat


class PersistentWatchHub:
    """Routes persistent-watch events of one kazoo client to per-path sinks.

    One hub per client (``PersistentWatchHub.of(client)``); it wraps the
    connection's event reader once. Sinks run on the connection's reader
    thread: they must only enqueue.
    """

    def __init__(self, client: KazooClient) -> None:
        self.client = client
        self._sinks: dict[str, Callable[[Item], None]] = {}
        # subtree sinks: every event (created, deleted, data changed) of a node
        # below the prefix, as ``(event type, path)``
        self._trees: dict[str, Callable[[int, str], None]] = {}
        connection = client._connection
        self._original = connection._read_watch_event
        connection._read_watch_event = self._read_watch_event

    @classmethod
    def of(cls, client: KazooClient) -> PersistentWatchHub:
        hub = getattr(client, "_mr_persistent_watch_hub", None)
        if hub is None:
            hub = cls(client)
            client._mr_persistent_watch_hub = hub
        return hub

    def register(self, path: str, sink: Callable[[Item], None]) -> None:
        self._sinks[path] = sink

    def register_tree(self, prefix: str, sink: Callable[[int, str], None]) -> None:
        self._trees[prefix.rstrip("/") + "/"] = sink

    def unregister_tree(self, prefix: str) -> None:
        self._trees.pop(prefix.rstrip("/") + "/", None)

    def unregister(self, path: str, sink: Callable[[Item], None] | None = None) -> None:
        """Stop routing ``path`` (only if it still goes to ``sink``, when given).

        The server keeps the watch until the connection closes (RemoveWatches for
        persistent watches dropped our connection on 3.8); its events are dropped.
        """
        if sink is None or self._sinks.get(path) is sink:
            self._sinks.pop(path, None)

    def _read_watch_event(self, buffer: Any, offset: int) -> None:
        try:
            watch, _ = Watch.deserialize(buffer, offset)
            path = watch.path
            parent, _, name = path.rpartition("/")
            sink = self._sinks.get(parent)
            if sink is not None and watch.type in (CREATED, DELETED):
                sink(("child", watch.type, name))
            elif watch.type == DELETED:
                sink = self._sinks.get(path)
                if sink is not None:
                    sink(("gone",))
            for prefix, tree_sink in self._trees.items():
                if path.startswith(prefix):
                    tree_sink(watch.type, path)
        except Exception:  # noqa: BLE001 - never break kazoo's reader thread
            LOG.exception("persistent watch dispatch failed")
        self._original(buffer, offset)

    def add_watch_async(self, path: str) -> Any:
        result = self.client.handler.async_result()
        self.client._call(AddWatch(path, MODE_PERSISTENT_RECURSIVE), result)
        return result

    def snapshot_async(self, path: str, sink: Callable[[Item], None]) -> Any:
        result = self.client.handler.async_result()
        self.client._call(_OrderedGetChildren.make(path, sink), result)
        return result


class PersistentWatch:
    """A persistent recursive watch on one table node, feeding ``sink`` in order.

    ``sink(item)`` receives the items described in :data:`Item`, on kazoo's
    reader thread (child/snapshot/gone) or a session listener (lost): it must
    only enqueue. After ``start()`` and after every reconnection a fresh
    snapshot follows (add watch first, then read, so nothing falls between).
    A missing table node is created empty (as MidoNet's writers would), so its
    first snapshot is ordered with the events that follow.
    """

    def __init__(self, client: KazooClient, path: str, sink: Callable[[Item], None]) -> None:
        self.client = client
        self.path = path
        self.sink = sink
        self.hub = PersistentWatchHub.of(client)
        self._stopped = True
        self._armed = False

    def start(self) -> None:
        self._stopped = False
        self.hub.register(self.path, self.sink)
        self.client.add_listener(self._session_changed)
        if self.client.connected:
            self.resync()

    def stop(self) -> None:
        self._stopped = True
        self.client.remove_listener(self._session_changed)
        self.hub.unregister(self.path, self.sink)

    def _session_changed(self, state: str) -> None:
        if self._stopped:
            return
        if state in (KazooState.SUSPENDED, KazooState.LOST):
            if self._armed:
                self._armed = False
                self.sink(("lost",))
        elif state == KazooState.CONNECTED and not self._armed:
            self.client.handler.spawn(self.resync)

    def resync(self) -> None:
        """(Re-)add the watch and re-read the table; the snapshot lands in the inbox."""
        if self._stopped:
            return
        self._armed = True
        self.hub.add_watch_async(self.path).rawlink(self._check_add)
        self.hub.snapshot_async(self.path, self.sink).rawlink(self._check_snapshot)

    def _check_add(self, result: Any) -> None:
        if result.exception is not None:
            LOG.warning("addWatch on %s failed: %r", self.path, result.exception)

    def _check_snapshot(self, result: Any) -> None:
        exc = result.exception
        if exc is None or self._stopped:
            return
        if isinstance(exc, NoNodeError):
            # Create the (empty) table so the next read is ordered with its events;
            # a reply synthesised here would race with them.
            self.client.handler.spawn(self._create_and_resync)
            return
        LOG.warning("reading %s failed: %r; waiting for reconnection", self.path, exc)
        if self._armed:
            self._armed = False
            self.sink(("lost",))

    def _create_and_resync(self) -> None:
        try:
            self.client.ensure_path(self.path)
        except Exception as e:  # noqa: BLE001 - the session listener retries later
            LOG.warning("creating %s failed: %r", self.path, e)
            self._armed = False
            return
        self.resync()
