"""Installed flows indexed by the tags of the simulation that made them.

A topology or state change yields tags; ``invalidate`` returns exactly the
cookies of the flows that depended on them, so the agent deletes those and
nothing else. Bounded: past ``max_flows`` the oldest flows are evicted
(returned to the caller, which deletes them from the switch too).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Iterable
from typing import Any

from midonet_ryu.simulation.tags import RoutesTo


@dataclasses.dataclass(slots=True)
class FlowRecord:
    cookie: int
    tags: frozenset[Hashable]
    match: Any  # what the flow matched, for inspection
    summary: Any = None  # the simulation outcome, described on demand
    installed_at: float = 0.0


class FlowIndex:
    def __init__(self, max_flows: int = 200_000) -> None:
        self.max_flows = max_flows
        # dicts keep insertion order: the first key is the oldest flow
        self._flows: dict[int, FlowRecord] = {}
        self._by_tag: dict[Hashable, set[int]] = {}
        # router -> its "routed" tags, so a new route finds the lookups it
        # now wins without scanning every tag
        self._routed: dict[Any, set[Hashable]] = {}

    def __len__(self) -> int:
        return len(self._flows)

    def __contains__(self, cookie: int) -> bool:
        return cookie in self._flows

    def add(self, record: FlowRecord) -> list[int]:
        """Index ``record``; returns cookies evicted to stay within bounds."""
        cookie = record.cookie
        flows = self._flows
        if cookie in flows:
            self.remove(cookie)
        flows[cookie] = record
        by_tag = self._by_tag
        for tag in record.tags:
            cookies = by_tag.get(tag)
            if cookies is None:
                by_tag[tag] = {cookie}
                if tag[0] == "routed":  # type: ignore[index]
                    self._routed.setdefault(tag[1], set()).add(tag)  # type: ignore[index]
            else:
                cookies.add(cookie)
        if len(flows) <= self.max_flows:
            return []
        evicted = []
        while len(flows) > self.max_flows:
            oldest = next(iter(flows))
            self.remove(oldest)
            evicted.append(oldest)
        return evicted

    def remove(self, cookie: int) -> FlowRecord | None:
        record = self._flows.pop(cookie, None)
        if record is None:
            return None
        for tag in record.tags:
            cookies = self._by_tag.get(tag)
            if cookies is not None:
                cookies.discard(cookie)
                if not cookies:
                    del self._by_tag[tag]
                    if tag[0] == "routed":  # type: ignore[index]
                        routed = self._routed[tag[1]]  # type: ignore[index]
                        routed.discard(tag)
                        if not routed:
                            del self._routed[tag[1]]  # type: ignore[index]
        return record

    def invalidate(self, tags: Iterable[Hashable]) -> list[FlowRecord]:
        """Drop and return every flow tagged with any of ``tags``."""
        cookies: set[int] = set()
        for tag in tags:
            if type(tag) is RoutesTo:
                for routed in self._routed.get(tag.router_id, ()):
                    if tag.covers(routed):  # type: ignore[arg-type]
                        cookies |= self._by_tag[routed]
                continue
            cookies |= self._by_tag.get(tag, set())
        return [r for r in (self.remove(c) for c in cookies) if r is not None]

    def records(self) -> list[FlowRecord]:
        return list(self._flows.values())

    def tagged(self, tag: Hashable) -> int:
        return len(self._by_tag.get(tag, ()))
