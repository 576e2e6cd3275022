"""Every topology object in memory, kept current from ZooKeeper, for readers that
answer many requests (the REST API).

Why: a GET that reads ZooKeeper costs the round trip plus the cluster's event
loop on both ways, twice a bare read; a GET from memory costs only HTTP. The
cache holds ``(object, version, mzxid)`` for every object:

* one persistent recursive watch on the models subtree (ZooKeeper 3.6+,
  :mod:`persistent_watch`) reports every create, change and delete by path;
  each reported path is re-read (in batches, with multiRead) by a worker;
* a writer that commits through the store hands the cache the nodes it wrote
  (:meth:`written`), which re-reads them at once, so a client reads its own
  writes;
* ordering is by ``mzxid``, ZooKeeper's global modification order, so a late
  answer never overwrites a newer one; a deletion leaves a tombstone at the
  zxid of the reply that found the node gone, so a late read of the object
  before it was deleted cannot bring it back;
* after a reconnection (ZooKeeper keeps watches per connection) or a session
  expiry the watch is added again and everything re-read; meanwhile
  :attr:`ready` is False and readers should go to ZooKeeper.

Writes never read the cache: transactions version-check what they read from
ZooKeeper, so a stale cache can make an answer old, never a write wrong.
"""
from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterable
from typing import Any, TypeVar

from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError
from kazoo.protocol.states import KazooState

from midonet_ryu.nsdb.multi_read import multi_read
from midonet_ryu.nsdb.paths import Paths
from midonet_ryu.nsdb.persistent_watch import PersistentWatchHub
from midonet_ryu.topology import base
from midonet_ryu.topology.base import ModelError, ModelObject

LOG = logging.getLogger(__name__)
T = TypeVar("T", bound=ModelObject)

MAX_TOMBSTONES = 100_000
"""Deleted objects remembered against late reads; the oldest go first."""

Key = tuple[str, uuid.UUID]


class ModelCache:
    def __init__(self, client: KazooClient, paths: Paths,
                 classes: Iterable[type[ModelObject]] | None = None) -> None:
        self.client = client
        self.paths = paths
        self.classes = {c.kind: c for c in (classes or base.model_classes().values())}
        self._objects: dict[str, dict[uuid.UUID, tuple[ModelObject, int, int]]] = {
            kind: {} for kind in self.classes}
        self._tombstones: dict[Key, int] = {}
        self._lock = threading.Lock()
        self._dirty: set[Key] = set()
        self._wake = threading.Event()
        self._stopped = True
        self._resync = False
        self.ready = False
        self.reloads = 0
        self._root = paths.zoom + "/models"
        self._hub = PersistentWatchHub.of(client)

    # -- reading ------------------------------------------------------------------
    def get_with_version(self, cls: type[T], obj_id: uuid.UUID) -> tuple[T, int] | None:
        entry = self._objects.get(cls.kind, {}).get(obj_id)
        return None if entry is None else (entry[0], entry[1])  # type: ignore[return-value]

    def find(self, cls: type[T], obj_id: uuid.UUID) -> T | None:
        entry = self._objects.get(cls.kind, {}).get(obj_id)
        return None if entry is None else entry[0]  # type: ignore[return-value]

    def list_all(self, cls: type[T]) -> list[T]:
        objs: list[T] = [entry[0] for entry in  # type: ignore[misc]
                         list(self._objects.get(cls.kind, {}).values())]
        return objs

    def __len__(self) -> int:
        return sum(len(d) for d in self._objects.values())

    # -- lifecycle ----------------------------------------------------------------
    def start(self) -> ModelCache:
        self._stopped = False
        self._hub.register_tree(self._root, self._event)
        self.client.add_listener(self._session_changed)
        self._resync = True
        self.client.handler.spawn(self._worker)
        self._wake.set()
        return self

    def stop(self) -> None:
        self._stopped = True
        self.client.remove_listener(self._session_changed)
        self._hub.unregister_tree(self._root)
        self._wake.set()

    def running(self) -> bool:
        return not self._stopped

    def _session_changed(self, state: str) -> None:
        if state in (KazooState.SUSPENDED, KazooState.LOST):
            self.ready = False
        elif state == KazooState.CONNECTED and not self._stopped:
            self._resync = True
            self._wake.set()

    # -- changes ------------------------------------------------------------------
    def _event(self, event_type: int, path: str) -> None:
        """On kazoo's reader thread: note the path, nothing more."""
        parts = path[len(self._root) + 1:].split("/")
        if len(parts) != 2 or parts[0] not in self.classes:
            return
        try:
            key = (parts[0], uuid.UUID(parts[1]))
        except ValueError:
            return
        with self._lock:
            self._dirty.add(key)
        self._wake.set()

    def written(self, keys: Iterable[Key]) -> None:
        """Objects a writer just committed: re-read them now, so the writer's
        next read sees its own write."""
        self._refresh(list(keys))

    def _worker(self) -> None:
        while self.running():
            self._wake.wait()
            self._wake.clear()
            if not self.running():
                return
            try:
                if self._resync:
                    self._resync = False
                    self._reload()
                with self._lock:
                    dirty, self._dirty = list(self._dirty), set()
                if dirty:
                    self._refresh(dirty)
            except Exception:  # noqa: BLE001 - keep serving; the next event retries
                LOG.exception("model cache update failed; reloading")
                self.ready = False
                self._resync = True
                self.client.handler.sleep_func(1.0)
                self._wake.set()

    def _reload(self) -> None:
        """Add the watch, then read everything: nothing changed after the watch
        is missed, and what changed before is in the read."""
        self.ready = False
        self.client.ensure_path(self._root)
        self._hub.add_watch_async(self._root).get()
        keys: list[Key] = []
        for kind in self.classes:
            try:
                children = self.client.get_children(f"{self._root}/{kind}")
            except NoNodeError:
                children = []
            for name in children:
                try:
                    keys.append((kind, uuid.UUID(name)))
                except ValueError:
                    continue
        seen = set(keys)
        self._refresh(keys)
        with self._lock:
            for kind, objs in self._objects.items():
                for obj_id in [i for i in objs if (kind, i) not in seen]:
                    del objs[obj_id]  # deleted while we were not watching
        self.reloads += 1
        self.ready = True
        LOG.info("model cache loaded: %d objects", len(self))

    def _refresh(self, keys: list[Key]) -> None:
        if not keys:
            return
        results = multi_read(self.client, [self.paths.model(k, i) for k, i in keys])
        seen_zxid = self.client.last_zxid  # at least the zxid of the replies above
        with self._lock:
            for key, result in zip(keys, results, strict=True):
                self._apply(key, result, seen_zxid)

    def _apply(self, key: Key, result: Any, seen_zxid: int) -> None:
        kind, obj_id = key
        objs = self._objects[kind]
        current = objs.get(obj_id)
        if isinstance(result, NoNodeError):
            if current is not None and current[2] > seen_zxid:
                return  # created again after this read
            objs.pop(obj_id, None)
            self._tombstones[key] = seen_zxid
            if len(self._tombstones) > MAX_TOMBSTONES:
                for old in sorted(self._tombstones, key=self._tombstones.__getitem__)[
                        :MAX_TOMBSTONES // 10]:
                    del self._tombstones[old]
            return
        if isinstance(result, Exception):
            raise result
        data, stat = result
        if current is not None and current[2] >= stat.mzxid:
            return  # what we hold is as new
        if self._tombstones.get(key, -1) >= stat.mzxid:
            return  # a read from before the delete we already saw
        try:
            obj = base.deserialize(self.classes[kind], data)
        except ModelError as e:
            LOG.warning("%s %s is not readable: %s", kind, obj_id, e)
            return
        objs[obj_id] = (obj, stat.version, stat.mzxid)
        self._tombstones.pop(key, None)
