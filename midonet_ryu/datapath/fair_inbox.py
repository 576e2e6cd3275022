"""Packet-ins waiting for the agent, served round robin by where they came in.

Why: when new flows arrive faster than the agent simulates them, something
has to wait or go. Waiting in the switch connection is first come, first
served: Open vSwitch drops what no longer fits its queue to the controller,
so a VM that floods new flows takes the share of every other port on the
host. The agent instead reads the connection as fast as packets arrive
(reading and decoding costs microseconds, simulating hundreds) and keeps
them here, one queue per ingress, served in turn. When the inbox is full
the oldest packet of the longest queue goes (longest-queue drop): the port
that sends most loses most, and a port sending less than its share loses
nothing. The switch's ``controller_rate_limit`` is fair by port too, but it
caps a rate, not the agent's work: this is what holds when the agent is
the bottleneck.

Bounded (``capacity`` packets in all); pure (no clock, no I/O).
"""
from __future__ import annotations

import collections
from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


class FairInbox(Generic[K, T]):
    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be positive")
        self.capacity = capacity
        self._queues: dict[K, collections.deque[T]] = {}
        self._turns: collections.deque[K] = collections.deque()  # keys with packets
        self._len = 0
        self.shed: collections.Counter[K] = collections.Counter()

    def put(self, key: K, item: T) -> K | None:
        """Queue ``item`` under ``key``; the key of the packet dropped to make
        room (possibly ``key`` itself, possibly ``item``), or None."""
        dropped = None
        if self._len >= self.capacity:
            dropped = self._longest(key)
            self.shed[dropped] += 1
            victim = self._queues.get(dropped)
            if victim is None:  # the arriving packet is the one to go
                return dropped
            victim.popleft()
            self._len -= 1
            if not victim:
                del self._queues[dropped]
                self._turns.remove(dropped)
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = collections.deque()
            self._turns.append(key)
        queue.append(item)
        self._len += 1
        return dropped

    def _longest(self, arriving: K) -> K:
        # the arriving packet counts towards its queue, and wins a tie: at
        # equal shares a port loses its own oldest packet, not another's
        longest, size = arriving, len(self._queues.get(arriving, ())) + 1
        for key, queue in self._queues.items():
            if len(queue) > size:
                longest, size = key, len(queue)
        return longest

    def get(self) -> T | None:
        """The next packet, taking one from each ingress in turn."""
        turns = self._turns
        if not turns:
            return None
        key = turns.popleft()
        queue = self._queues[key]
        item = queue.popleft()
        self._len -= 1
        if queue:
            turns.append(key)
        else:
            del self._queues[key]
        return item

    def __len__(self) -> int:
        return self._len

    def __bool__(self) -> bool:
        return self._len > 0
