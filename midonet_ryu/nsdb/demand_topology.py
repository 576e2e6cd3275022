"""The agent's topology, loaded on demand: what its ports reach, not the cloud.

As MidoNet's agent did: it starts from its own host record and the ports
bound to it, and loads (and watches) any other object only when something
reads it. A read of an object not loaded yet answers None and is recorded
as a *miss*; the flow setup parks the packet whose simulation missed, asks
for the misses, and simulates it again once they are in. Answers come in
kazoo's callbacks, so the agent's loop never waits on ZooKeeper, and every
read of one batch is sent before any answer is back (one round trip).

Reads go in batches (:mod:`~midonet_ryu.nsdb.watched_read`: one multiRead
and one setWatches per 500 objects). Each loaded object has one one-shot
data watch (an absent one an exists watch), re-armed by the read its event
causes: level-triggered, so a lost event costs a late update, never a
wrong one. Objects no device in use
leads to any more are dropped with their watches (:meth:`sweep`), the
server's too. A few small kinds that the agent scans rather than reaches
(tunnel zones, trace requests, health monitors) stay resident, watched in
full by :class:`~midonet_ryu.nsdb.topology_cache.TopologyCache`.
"""
from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError

from midonet_ryu.nsdb.multi_read import Result
from midonet_ryu.nsdb.paths import Paths
from midonet_ryu.nsdb.remove_watch import remove_data_watch
from midonet_ryu.nsdb.topology_cache import ChangeCallback, TopologyCache, replace, report
from midonet_ryu.nsdb.watched_read import read_and_watch
from midonet_ryu.topology import base, reach
from midonet_ryu.topology.base import ModelObject

LOG = logging.getLogger(__name__)
T = TypeVar("T", bound=ModelObject)
Key = reach.Key

RESIDENT_KINDS = frozenset({"TunnelZone", "TraceRequest", "HealthMonitor"})


class DemandTopologyCache:
    """A ``TopologyView`` over what this host has reached."""

    def __init__(self, client: KazooClient, paths: Paths, host_id: uuid.UUID,
                 on_change: ChangeCallback | None = None,
                 on_loaded: Callable[[], None] | None = None,
                 resident_kinds: frozenset[str] = RESIDENT_KINDS) -> None:
        self.client = client
        self.paths = paths
        self.host_id = host_id
        self.on_change = on_change
        self.on_loaded = on_loaded
        self.resident_kinds = resident_kinds
        classes = base.model_classes()
        self.resident = TopologyCache(client, paths,
                                      [c for k, c in classes.items() if k in resident_kinds],
                                      on_change)
        self._objects: dict[str, dict[uuid.UUID, ModelObject]] = {k: {} for k in classes}
        self._objects.update(self.resident._objects)  # the same tables: one lookup in get
        self._watchers: dict[Key, Callable[[Any], None]] = {}  # every key watched
        self._absent: set[Key] = set()  # read and not there: watched for its creation
        self._asked: set[Key] = set()  # read, no answer yet
        self._expand: set[Key] = set()  # read for a miss: load its leads with it
        self._retry: set[Key] = set()  # reads that failed (connection loss): again later
        self._fresh: set[Key] = set()  # answered since the last sweep
        self._fresh_before: set[Key] = set()
        self._batch: dict[str, Key] = {}  # path -> key, to read at the next flush
        self._host_key: Key = ("Host", host_id)
        self._pinned: set[Key] = {self._host_key}
        self.misses: set[Key] = set()
        self.miss_count = 0  # the compiled-device cache keeps nothing compiled across one
        self._changes = 0
        self.reads = 0  # reads sent to ZooKeeper, for the benchmark and the status
        self.evicted = 0
        self.decode_errors = 0
        self.synced = threading.Event()

    # -- TopologyView --------------------------------------------------------
    @property
    def generation(self) -> int:
        """Moves on every applied change (the compiled-device cache keys on it)."""
        return self._changes + self.resident.generation

    def get(self, cls: type[T], obj_id: uuid.UUID | None) -> T | None:
        if obj_id is None:
            return None
        obj = self._objects[cls.kind].get(obj_id)
        if obj is None:
            kind = cls.kind
            if kind not in self.resident_kinds:
                key = (kind, obj_id)
                if key not in self._absent:
                    self.misses.add(key)
                    self.miss_count += 1
        return obj  # type: ignore[return-value]

    def objects(self, cls: type[T]) -> Iterator[T]:
        """The loaded objects of ``cls`` (all of a resident kind)."""
        return iter(list(self._objects[cls.kind].values()))  # type: ignore[arg-type]

    def count(self, cls: type[ModelObject]) -> int:
        return len(self._objects[cls.kind])

    # -- what the agent asks -------------------------------------------------
    def take_misses(self) -> set[Key]:
        misses, self.misses = self.misses, set()
        return misses

    def resolved(self, key: Key) -> bool:
        """Loaded, or known not to exist (a miss on it is answered)."""
        return key[1] in self._objects[key[0]] or key in self._absent or (
            key[0] in self.resident_kinds)

    def start(self) -> None:
        self.resident.start()
        self.load([self._host_key])

    def wait_synced(self, timeout: float | None = None) -> bool:
        """Until this host's record and its ports are in (or ``timeout``)."""
        return self.synced.wait(timeout)

    def load(self, keys: Iterable[Key], expand: bool = True) -> int:
        """Read and watch ``keys`` not loaded yet; with ``expand``, also
        what each leads to once it is in. Returns the reads sent."""
        sent = self._want(keys, expand)
        self._flush()
        return sent

    def _want(self, keys: Iterable[Key], expand: bool) -> int:
        sent = 0
        for key in keys:
            if key[0] in self.resident_kinds or key[0] not in self._objects:
                continue
            if key in self._watchers:
                if expand and key not in self._expand:
                    self._expand.add(key)  # (in flight: expanded when it answers)
                    obj = self._loaded(key)
                    if obj is not None:
                        sent += self._want(reach.prefetch(obj), expand=False)
                continue
            if expand:
                self._expand.add(key)
            self._read(key)
            sent += 1
        return sent

    def retry(self) -> int:
        """Reads that failed, sent again (the agent's tick, while connected)."""
        if not self._retry or not self.client.connected:
            return 0
        keys, self._retry = self._retry, set()
        for key in keys:
            if key in self._watchers:
                self._read(key)
        self._flush()
        return len(keys)

    def session_replaced(self) -> None:
        """A new session: the old one's watches are gone, read everything again."""
        for key in list(self._watchers):
            self._read(key)
        self._flush()

    def sweep(self, roots: Iterable[Key]) -> int:
        """Drop what no root leads to: objects of devices out of use (and not
        read since the sweep before last). Returns how many went."""
        get = self._loaded
        roots = set(roots) | self._pinned | self._fresh | self._fresh_before
        for key in self._pinned:  # a local port's device is always in use
            obj = get(key)
            if obj is not None:
                roots.update(reach.device_of(obj))
        keep = reach.in_use(get, roots)
        self._fresh_before, self._fresh = self._fresh, set()
        gone = [key for key in self._watchers if key not in keep]
        for key in gone:
            self._drop(key)
        self.evicted += len(gone)
        return len(gone)

    def status(self) -> dict[str, Any]:
        """Loaded objects by kind and the watches held (``midonet-agent-ctl topology``)."""
        loaded = {kind: len(table) for kind, table in self._objects.items() if table}
        devices = {kind: sorted(map(str, self._objects[kind])) for kind in reach.DEVICE_KINDS}
        return {"loaded": loaded, "devices": devices, "absent": len(self._absent),
                "pending": len(self._asked),
                "data_watches": len(self._watchers), "resident_kinds": sorted(self.resident_kinds),
                "reads": self.reads, "evicted": self.evicted, "pinned": len(self._pinned)}

    def stop(self) -> None:
        self.resident.stop()
        self._watchers.clear()

    # -- reads and answers ---------------------------------------------------
    def _loaded(self, key: Key) -> ModelObject | None:
        return self._objects[key[0]].get(key[1])

    def _path(self, key: Key) -> str:
        return self.paths.model(key[0], key[1])

    def _read(self, key: Key) -> None:
        """Read ``key`` (and watch it) at the next :meth:`_flush`."""
        if key not in self._watchers:
            self._watchers[key] = self._watcher(key)
        self._asked.add(key)
        self._batch[self._path(key)] = key

    def _flush(self) -> None:
        if not self._batch:
            return
        batch, self._batch = self._batch, {}
        self.reads += len(batch)
        watchers = self._watchers

        def watcher_of(path: str) -> Callable[[Any], None]:
            return watchers[batch[path]]

        try:
            read_and_watch(self.client, list(batch), watcher_of,
                           lambda paths, results: self._answered(batch, paths, results))
        except Exception:  # noqa: BLE001 - the session is closing: the tick retries
            self._retry.update(batch.values())

    def _watcher(self, key: Key) -> Callable[[Any], None]:
        def on_event(event: Any) -> None:
            if self._watchers.get(key) is not on_event:
                return  # dropped meanwhile
            if event.type == "NONE":
                # the session ended (kazoo hands every watcher this): the
                # new session's reads come from session_replaced
                self._retry.add(key)
                return
            self._read(key)
            self._flush()

        return on_event

    def _answered(self, batch: dict[str, Key], paths: list[str],
                  results: list[Result] | Exception) -> None:
        if isinstance(results, Exception):
            LOG.debug("reading %d topology objects failed: %r", len(paths), results)
            self._retry.update(batch[p] for p in paths if batch[p] in self._watchers)
            return  # nothing came in: nobody waiting can go on
        for path, result in zip(paths, results, strict=True):
            key = batch[path]
            if key not in self._watchers:
                continue  # dropped meanwhile
            self._asked.discard(key)
            if isinstance(result, NoNodeError):
                self._gone(key)
            elif isinstance(result, Exception):
                self._retry.add(key)
            else:
                self._arrived(key, result[0])
        self._flush()  # what the answers led to
        if not self.synced.is_set() and self._pinned.isdisjoint(self._asked):
            self.synced.set()
        if self.on_loaded is not None:
            try:
                self.on_loaded()
            except Exception:  # noqa: BLE001 - a listener bug must not stop the reads
                LOG.exception("topology load listener failed")

    def _arrived(self, key: Key, data: bytes) -> None:
        self._fresh.add(key)
        try:
            obj = base.deserialize(base.model_class(key[0]), data)
        except base.ModelError as e:
            self.decode_errors += 1
            LOG.error("cannot decode %s %s, keeping the previous copy: %s", key[0], key[1], e)
            if self._loaded(key) is None:
                self._absent.add(key)  # answered: a miss on it must not wait for ever
            return
        self._absent.discard(key)
        old = self._loaded(key)
        self._apply(key, obj)
        if key in self._expand:
            self._want(reach.prefetch(obj), expand=False)
        elif old is not None:
            # a part added to a loaded device (a new port of a network) is
            # loaded too: its arrival is what invalidates the device's floods
            before = set(reach.leads(old))
            self._want([k for k in reach.leads(obj) if k not in before], expand=False)
        if key == self._host_key:
            self._pin_host_ports()

    def _gone(self, key: Key) -> None:
        """Not there (any more): the batch watches for its creation."""
        self._fresh.add(key)
        self._absent.add(key)
        self._apply(key, None)
        if key == self._host_key:
            self._pin_host_ports()

    def _pin_host_ports(self) -> None:
        """The ports the host record binds here are pinned and loaded (with
        their devices); ports no longer bound are left to the sweep."""
        host = self._loaded(self._host_key)
        ports = {("Port", pid) for pid in getattr(host, "port_ids", ())}
        self._pinned = {self._host_key} | ports
        self._want(ports, expand=True)

    def _apply(self, key: Key, obj: ModelObject | None) -> None:
        kind, obj_id = key
        changed, old = replace(self._objects[kind], obj_id, obj)
        if changed:
            self._changes += 1
            report(self.on_change, kind, obj_id, old, obj)

    def _drop(self, key: Key) -> None:
        watcher = self._watchers.pop(key)
        for table in (self._absent, self._asked, self._expand, self._retry):
            table.discard(key)
        self._batch.pop(self._path(key), None)
        try:
            remove_data_watch(self.client, self._path(key), watcher)
        except Exception:  # noqa: BLE001 - the watch fires once more and is ignored
            LOG.debug("could not remove the watch on %s %s", key[0], key[1], exc_info=True)
        self._apply(key, None)
