"""Compiled devices, cached across simulations while the topology is unchanged.

Turning model objects into lookup structures (a bridge's router-port maps, a
router's longest-prefix table, a chain's pre-parsed conditions) costs time
proportional to the device's size; a simulation must not pay it. Compiled
devices are cached per topology view and keyed by the view's ``generation``
(an int bumped on every change). When the generation moves, each entry is
re-validated lazily, on its next use, by checking that the objects it was
compiled from are still the very same (immutable) instances: so a change
costs one re-validation per device, not a recompilation of everything.

A view that loads on demand counts its misses (``miss_count``: reads of
objects not loaded yet); a device compiled while one happened lacks a part
and is not kept, so it is compiled again once the part is in.

A view without ``generation`` (a plain ``TopologySnapshot``, which tests
mutate freely) still gets a cache, but every entry is re-validated once per
simulation: correct, and cheaper than recompiling, but a bridge of N ports
then costs O(N) per simulation. Live views should expose ``generation``.
"""
from __future__ import annotations

import uuid
import weakref
from collections.abc import Callable, Iterable
from typing import Any

from midonet_ryu.simulation.errors import SimulationError
from midonet_ryu.topology.base import ModelObject
from midonet_ryu.topology.snapshot import TopologySnapshot, TopologyView

Deps = tuple[tuple[type, uuid.UUID, Any], ...]
MAX_ENTRIES = 100_000


class _Entry:
    __slots__ = ("value", "deps", "generation")

    def __init__(self, value: Any, deps: Deps, generation: object) -> None:
        self.value = value
        self.deps = deps
        self.generation = generation


class DeviceCache:
    """Compiled devices for one topology view."""

    __slots__ = ("topology", "entries", "generation", "_counts_misses", "__weakref__")

    def __init__(self, topology: TopologyView) -> None:
        self.topology = topology
        self.entries: dict[tuple[str, Any], _Entry] = {}
        # The token entries are valid for: the view's generation, or a fresh
        # object per simulation when the view has none.
        self.generation: object = getattr(topology, "generation", None)
        self._counts_misses = hasattr(topology, "miss_count")

    def get(self, key: tuple[str, Any], compile_fn: Callable[[], tuple[Any, Deps]]) -> Any:
        entry = self.entries.get(key)
        gen = self.generation
        if entry is not None:
            if entry.generation == gen:
                return entry.value
            get = self.topology.get
            if all(get(cls, oid) is obj for cls, oid, obj in entry.deps):
                entry.generation = gen
                return entry.value
        misses = self.topology.miss_count if self._counts_misses else 0  # type: ignore[attr-defined]
        try:
            value, deps = compile_fn()
        except ValueError as e:  # a malformed address, CIDR or MAC in the model
            raise SimulationError(f"cannot compile {key[0]} {key[1]}: {e}") from None
        if self._counts_misses and self.topology.miss_count != misses:  # type: ignore[attr-defined]
            return value  # incomplete: the simulation waits for the rest anyway
        if len(self.entries) >= MAX_ENTRIES:
            self.entries.clear()
        self.entries[key] = _Entry(value, deps, gen)
        return value


_CACHES: weakref.WeakKeyDictionary[Any, DeviceCache] = weakref.WeakKeyDictionary()


def cache_for(topology: TopologyView) -> DeviceCache:
    """The cache of ``topology``, set up for one simulation."""
    try:
        cache = _CACHES.get(topology)
    except TypeError:  # not weak-referenceable: no cross-call cache
        return DeviceCache(topology)
    if cache is None:
        cache = DeviceCache(topology)
        _CACHES[topology] = cache
    gen = getattr(topology, "generation", None)
    cache.generation = object() if gen is None else gen
    return cache


def deps_of(objects: Iterable[ModelObject | None]) -> Deps:
    return tuple((type(o), o.id, o) for o in objects if o is not None)


class VersionedSnapshot(TopologySnapshot):
    """A ``TopologySnapshot`` that counts its changes, so compiled devices are cached.

    The agent's live topology cache should expose the same ``generation``
    attribute (bumped on every applied change).
    """

    def __init__(self, objects: Iterable[ModelObject] = ()) -> None:
        self.generation = 0
        super().__init__(objects)

    def put(self, obj: ModelObject) -> None:
        super().put(obj)
        self.generation += 1

    def remove(self, cls: type[ModelObject], obj_id: uuid.UUID) -> ModelObject | None:
        self.generation += 1
        return super().remove(cls, obj_id)
