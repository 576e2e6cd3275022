"""Where the REST API reads objects: its in-memory model cache while that is
current, else ZooKeeper. Writes never come here (transactions read ZooKeeper
and version-check what they read)."""
from __future__ import annotations

import uuid
from typing import TypeVar

from midonet_ryu.nsdb.model_cache import ModelCache
from midonet_ryu.nsdb.store import Store
from midonet_ryu.topology.base import ModelObject

T = TypeVar("T", bound=ModelObject)


class Reads:
    def __init__(self, store: Store, cache: ModelCache | None = None) -> None:
        self.store = store
        self.cache = cache

    def _cached(self) -> ModelCache | None:
        cache = self.cache
        return cache if cache is not None and cache.ready else None

    def find(self, cls: type[T], obj_id: uuid.UUID) -> T | None:
        found = self.get_with_version(cls, obj_id)
        return None if found is None else found[0]

    def get_with_version(self, cls: type[T], obj_id: uuid.UUID) -> tuple[T, int] | None:
        """From the cache; a miss is checked in ZooKeeper (another writer's
        create may be milliseconds ahead of its watch event, and a 404 must
        be true), and what it finds refreshes the cache."""
        cache = self._cached()
        if cache is None:
            return self.store.find_with_version(cls, obj_id)
        hit = cache.get_with_version(cls, obj_id)
        if hit is None:
            cache.written([(cls.kind, obj_id)])  # one read, into the cache
            hit = cache.get_with_version(cls, obj_id)
        return hit

    def list_all(self, cls: type[T]) -> list[T]:
        cache = self._cached()
        return cache.list_all(cls) if cache is not None else self.store.list_all(cls)
