"""The agent's local copy of the topology, kept current by ZooKeeper watches.

Level-triggered: each callback re-reads the current state (kazoo's
``ChildrenWatch``/``DataWatch`` re-arm after reconnects and session loss),
so a missed notification can never leave the cache wrong for long. Change
callbacks receive ``(kind, id, old, new)`` and must not block: the agent
only queues invalidation work from them.

The cache is a ``TopologyView``: simulations read it directly. Objects are
immutable and replaced whole, so a simulation that does not yield sees a
consistent object graph per object.
"""
from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from kazoo.client import KazooClient
from kazoo.recipe.watchers import ChildrenWatch, DataWatch

from midonet_ryu.nsdb.paths import Paths
from midonet_ryu.topology import base
from midonet_ryu.topology.base import ModelObject

LOG = logging.getLogger(__name__)
T = TypeVar("T", bound=ModelObject)

ChangeCallback = Callable[[str, uuid.UUID, ModelObject | None, ModelObject | None], None]


class TopologyCache:
    def __init__(self, client: KazooClient, paths: Paths,
                 classes: Iterable[type[ModelObject]],
                 on_change: ChangeCallback | None = None) -> None:
        self.client = client
        self.paths = paths
        self.classes = list(classes)
        self.on_change = on_change
        self._objects: dict[str, dict[uuid.UUID, ModelObject]] = {
            c.kind: {} for c in self.classes}
        self._watched: dict[tuple[str, uuid.UUID], bool] = {}
        self._lock = threading.RLock()
        self._initial: set[str] = set()
        self.synced = threading.Event()
        self.decode_errors = 0
        # Bumped on every change: the simulation's compiled-device cache keys on it.
        self.generation = 0
        self._children_watches: list[ChildrenWatch] = []

    # -- TopologyView --------------------------------------------------------
    def get(self, cls: type[T], obj_id: uuid.UUID | None) -> T | None:
        if obj_id is None:
            return None
        return self._objects.get(cls.kind, {}).get(obj_id)  # type: ignore[return-value]

    def objects(self, cls: type[T]) -> Iterator[T]:
        return iter(list(self._objects.get(cls.kind, {}).values()))  # type: ignore[arg-type]

    def count(self, cls: type[ModelObject]) -> int:
        return len(self._objects.get(cls.kind, {}))

    # -- watching ------------------------------------------------------------
    def start(self) -> None:
        for cls in self.classes:
            path = self.paths.models(cls.kind)
            self.client.ensure_path(path)
            watch = ChildrenWatch(self.client, path, self._children_cb(cls.kind))
            self._children_watches.append(watch)
        self.synced.set()

    def wait_synced(self, timeout: float | None = None) -> bool:
        return self.synced.wait(timeout)

    def _children_cb(self, kind: str) -> Callable[[list[str]], None]:
        def on_children(children: list[str]) -> None:
            ids = set()
            for child in children:
                try:
                    ids.add(uuid.UUID(child))
                except ValueError:
                    LOG.warning("ignoring non-UUID znode %s under %s models", child, kind)
            with self._lock:
                known = {i for (k, i), live in self._watched.items() if k == kind and live}
                added, gone = ids - known, known - ids
                for obj_id in gone:
                    self._watched[(kind, obj_id)] = False
            for obj_id in gone:
                self._apply(kind, obj_id, None)
            for obj_id in added:
                self._watched[(kind, obj_id)] = True
                DataWatch(self.client, self.paths.model(kind, obj_id),
                          self._data_cb(kind, obj_id))

        return on_children

    def _data_cb(self, kind: str, obj_id: uuid.UUID) -> Callable:
        cls = base.model_class(kind)

        def on_data(data: bytes | None, stat, event=None) -> bool | None:
            if not self._watched.get((kind, obj_id)):
                self._watched.pop((kind, obj_id), None)
                return False  # the object left the child list: stop watching
            if data is None:
                with self._lock:
                    self._watched.pop((kind, obj_id), None)
                self._apply(kind, obj_id, None)
                return False
            try:
                obj = base.deserialize(cls, data)
            except base.ModelError as e:
                self.decode_errors += 1
                LOG.error("cannot decode %s %s, keeping the previous copy: %s", kind, obj_id, e)
                return None
            self._apply(kind, obj_id, obj)
            return None

        return on_data

    def _apply(self, kind: str, obj_id: uuid.UUID, obj: ModelObject | None) -> None:
        with self._lock:
            changed, old = replace(self._objects[kind], obj_id, obj)
            if not changed:
                return
            self.generation += 1
        report(self.on_change, kind, obj_id, old, obj)

    def stop(self) -> None:
        with self._lock:
            for key in list(self._watched):
                self._watched[key] = False
        # ChildrenWatch stops at its next event once the client is closed.


def replace(table: dict[uuid.UUID, ModelObject], obj_id: uuid.UUID,
            obj: ModelObject | None) -> tuple[bool, ModelObject | None]:
    """Put ``obj`` (None: nothing) in ``table``: whether that changed it, and
    what was there. An equal copy changes nothing (no flow is invalidated)."""
    old = table.get(obj_id)
    if obj is None:
        if old is None:
            return False, None
        del table[obj_id]
    else:
        if old == obj:
            return False, old
        table[obj_id] = obj
    return True, old


def report(on_change: ChangeCallback | None, kind: str, obj_id: uuid.UUID,
           old: ModelObject | None, new: ModelObject | None) -> None:
    if on_change is not None:
        try:
            on_change(kind, obj_id, old, new)
        except Exception:  # noqa: BLE001 - a listener bug must not stop the watch
            LOG.exception("topology change listener failed")
