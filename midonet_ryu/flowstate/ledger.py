"""When a key was last sent to (or received from) each peer.

MidoNet refreshes state by re-simulating stateful flows: they have a hard
timeout of half the key TTL (30 s), and every re-simulation would send the
flow's keys again. The ledger keeps that to once per half TTL per peer and
key: often enough that a peer (which keeps imported keys 1.5 TTL) never
expires a key in use, rarely enough that a busy connection costs one state
packet per 30 s, not one per simulation. A key received from a peer counts
as sent to it, so the return direction does not echo state back to its
source.

Bounded: at most ``max_entries`` (peer, key) pairs, least recently
recorded evicted first. Eviction only ever causes an early re-send.
Pure: time is an argument.
"""
from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Hashable

DEFAULT_MAX_ENTRIES = 262_144


class SendLedger:
    def __init__(self, interval: float, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be positive")
        self.interval = interval
        self.max_entries = max_entries
        self._last: OrderedDict[tuple[uuid.UUID, Hashable], float] = OrderedDict()

    def due(self, peer: uuid.UUID, entry: Hashable, now: float) -> bool:
        """True if ``entry`` was not exchanged with ``peer`` in the last interval."""
        last = self._last.get((peer, entry))
        return last is None or now - last >= self.interval or now < last

    def record(self, peer: uuid.UUID, entry: Hashable, now: float) -> None:
        item = (peer, entry)
        last = self._last
        if item in last:
            last.move_to_end(item)
            last[item] = now
            return
        last[item] = now
        if len(last) > self.max_entries:
            last.popitem(last=False)

    def take(self, peer: uuid.UUID, entry: Hashable, now: float) -> bool:
        """``due`` and, if so, ``record``: the one call the sender needs."""
        if self.due(peer, entry, now):
            self.record(peer, entry, now)
            return True
        return False

    def forget(self, peer: uuid.UUID, entry: Hashable) -> None:
        """The pair is no longer shared (withdrawn): the next one is due at once."""
        self._last.pop((peer, entry), None)

    def prune(self, now: float) -> int:
        """Forget pairs older than the interval (they are due anyway); returns how many."""
        stale = [item for item, t in self._last.items() if now - t >= self.interval]
        for item in stale:
            del self._last[item]
        return len(stale)

    def __len__(self) -> int:
        return len(self._last)
