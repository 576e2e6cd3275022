"""A read view of the topology, as the simulation sees it.

The agent's watch-driven cache implements the same interface over its live
dictionaries; tests and benchmarks build a ``TopologySnapshot`` by hand.
Simulations never yield, so they always see one consistent state.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from typing import Protocol, TypeVar

from midonet_ryu.topology.base import ModelObject

T = TypeVar("T", bound=ModelObject)


class TopologyView(Protocol):
    def get(self, cls: type[T], obj_id: uuid.UUID | None) -> T | None: ...

    def objects(self, cls: type[T]) -> Iterator[T]: ...


class TopologySnapshot:
    """In-memory topology: ``{kind: {id: object}}``."""

    def __init__(self, objects: Iterable[ModelObject] = ()) -> None:
        self._by_kind: dict[str, dict[uuid.UUID, ModelObject]] = {}
        for obj in objects:
            self.put(obj)

    def put(self, obj: ModelObject) -> None:
        self._by_kind.setdefault(obj.kind, {})[obj.id] = obj

    def remove(self, cls: type[ModelObject], obj_id: uuid.UUID) -> ModelObject | None:
        return self._by_kind.get(cls.kind, {}).pop(obj_id, None)

    def get(self, cls: type[T], obj_id: uuid.UUID | None) -> T | None:
        if obj_id is None:
            return None
        return self._by_kind.get(cls.kind, {}).get(obj_id)  # type: ignore[return-value]

    def objects(self, cls: type[T]) -> Iterator[T]:
        return iter(list(self._by_kind.get(cls.kind, {}).values()))  # type: ignore[arg-type]

    def __len__(self) -> int:
        return sum(len(d) for d in self._by_kind.values())
