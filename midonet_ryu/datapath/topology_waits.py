"""Packet-ins waiting for topology the agent is loading (pure).

A simulation that reached objects not loaded yet is not trusted: its
packet waits here, the objects are read, and the packet is simulated again
once every object it waited for is in (or known not to exist). Each round
can reveal the next device along the path, so a packet may wait several
times; after ``max_rounds`` it is dropped.

A packet of an ingress whose earlier packet still waits queues behind it
unsimulated (:meth:`behind`): while a large device loads, each new packet
of a flooding port would otherwise pay a simulation that only finds the
same objects missing. When the queue is full, the oldest packet of the
ingress with the most waiting goes (as in the agent's inbox), so a port
flooding new flows into a loading device cannot crowd out another port's
first packet. Drops are counted by the caller.
"""
from __future__ import annotations

import collections
import itertools
from collections.abc import Callable, Hashable, Iterable
from typing import Any

Key = Hashable


class _Waiting:
    __slots__ = ("pin", "keys", "pos", "rounds", "ingress")

    def __init__(self, pin: Any, keys: list[Key], rounds: int, ingress: Hashable) -> None:
        self.pin = pin
        self.keys = keys  # shared by the packets queued behind one simulation
        self.pos = 0  # keys before it are known resolved
        self.rounds = rounds
        self.ingress = ingress


class TopologyWaits:
    def __init__(self, limit: int = 1024, max_rounds: int = 16) -> None:
        self.limit = limit
        self.max_rounds = max_rounds
        self._waiting: dict[int, _Waiting] = {}  # insertion order: oldest first
        self._by_ingress: dict[Hashable, collections.deque[int]] = {}
        self._serial = itertools.count()
        # ingress -> serial of its latest packet parked after a simulation
        self._last: dict[Hashable, int] = {}

    def __len__(self) -> int:
        return len(self._waiting)

    def park(self, pin: Any, keys: Iterable[Key], rounds: int,
             ingress: Hashable = None) -> int:
        """Wait ``pin`` for ``keys`` (its ``rounds``-th simulation missed
        them). Returns how many packets were dropped: this one when it has
        waited ``max_rounds`` times already, else one when the queue was full."""
        if rounds >= self.max_rounds:
            return 1
        serial, dropped = self._add(_Waiting(pin, list(keys), rounds, ingress))
        self._last[ingress] = serial
        return dropped

    def behind(self, ingress: Hashable, pin: Any) -> int | None:
        """Park ``pin`` behind the waiting packet of its ingress, if any (it
        waits for the same keys, simulated no time yet): how many packets
        that dropped. None: nothing of that ingress waits, simulate it."""
        serial = self._last.get(ingress)
        entry = self._waiting.get(serial) if serial is not None else None
        if entry is None:
            self._last.pop(ingress, None)
            return None
        follower = _Waiting(pin, entry.keys, 0, ingress)
        follower.pos = entry.pos
        return self._add(follower)[1]

    def ready(self, resolved: Callable[[Key], bool]) -> list[tuple[Any, int]]:
        """The packets whose keys are all resolved now, oldest first, with
        how many times each was simulated; they leave the queue."""
        out = []
        reached: dict[int, int] = {}  # id of a shared key list -> how far it is resolved
        for serial, entry in list(self._waiting.items()):
            keys = entry.keys
            pos = reached.get(id(keys), entry.pos)
            pos = max(pos, entry.pos)
            while pos < len(keys) and resolved(keys[pos]):
                pos += 1
            reached[id(keys)] = entry.pos = pos
            if pos == len(keys):
                self._remove(serial)
                out.append((entry.pin, entry.rounds))
        return out

    def _add(self, entry: _Waiting) -> tuple[int, int]:
        """Queue ``entry``: its serial, and how many packets went for it."""
        dropped = 0
        if len(self._waiting) >= self.limit:
            longest = max(self._by_ingress.values(), key=len)
            self._remove(longest[0])
            dropped = 1
        serial = next(self._serial)
        self._waiting[serial] = entry
        self._by_ingress.setdefault(entry.ingress, collections.deque()).append(serial)
        return serial, dropped

    def _remove(self, serial: int) -> None:
        entry = self._waiting.pop(serial)
        queue = self._by_ingress[entry.ingress]
        queue.remove(serial)  # the oldest, or near it: packets leave in order
        if not queue:
            del self._by_ingress[entry.ingress]
