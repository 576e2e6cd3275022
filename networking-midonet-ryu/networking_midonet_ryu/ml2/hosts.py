"""Which hosts run a midonet-ryu agent, as the cluster knows them.

``bind_port`` asks for every port it binds, so the list is cached; a host
missing from the cache makes it fetch the list again (an agent that just
registered is bindable at once), at most once a second so that a stream of
binds to a host that runs no agent does not become a stream of requests.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from networking_midonet_ryu.client import Unavailable


def _names(answer: Any) -> frozenset[str]:
    if not isinstance(answer, list):
        raise Unavailable('hosts: the answer is not a list')
    return frozenset(str(host['name']) for host in answer
                     if isinstance(host, dict) and host.get('name'))


class HostCache:
    def __init__(self, fetch: Callable[[], Any], ttl: float = 10.0,
                 min_refresh: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._fetch = fetch
        self.ttl = ttl
        self.min_refresh = min_refresh
        self._clock = clock
        self._names: frozenset[str] = frozenset()
        self._fetched_at: float | None = None
        self._lock = threading.Lock()

    def _refresh(self) -> None:
        self._names = _names(self._fetch())
        self._fetched_at = self._clock()

    def knows(self, host: str) -> bool:
        """Whether ``host`` runs our agent; raises Unavailable if nobody can tell."""
        with self._lock:
            now = self._clock()
            age = None if self._fetched_at is None else now - self._fetched_at
            if age is None or age >= self.ttl:
                self._refresh()
            elif host not in self._names and age >= self.min_refresh:
                self._refresh()
            return host in self._names
