"""A router's routing table: longest prefix match, lowest weight, ECMP by flow hash.

Ties on the destination prefix go to the most specific source prefix, then
the lowest weight; routes still tied share the traffic by flow hash.

Routes are grouped by destination prefix length, and within a length by
network address, so a lookup costs one dict probe per distinct prefix
length present (at most 33) whatever the number of routes.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import NamedTuple

from midonet_ryu.simulation.addr import ip_to_int, parse_cidr, prefix_mask
from midonet_ryu.topology.router import NextHop


class RouteEntry(NamedTuple):
    dst_net: int
    dst_plen: int
    src_net: int
    src_mask: int
    next_hop: NextHop
    port_id: uuid.UUID | None
    gateway: int | None  # next-hop address; None: the destination itself
    weight: int
    route_id: uuid.UUID | None  # None for routes implied by port subnets


def entry(dst: str, src: str, next_hop: NextHop, port_id: uuid.UUID | None,
          gateway: str | None, weight: int, route_id: uuid.UUID | None) -> RouteEntry:
    dst_net, dst_plen = parse_cidr(dst)
    src_net, src_plen = parse_cidr(src)
    gw = ip_to_int(gateway) if gateway and gateway != "0.0.0.0" else None
    return RouteEntry(dst_net, dst_plen, src_net, prefix_mask(src_plen), next_hop, port_id, gw,
                      weight, route_id)


def _rank(e: RouteEntry) -> tuple[int, int]:
    """More specific source prefix first, then lower weight."""
    return (-e.src_mask, e.weight)


class RoutingTable:
    __slots__ = ("_by_len", "_lens", "size", "has_src_routes")

    def __init__(self, entries: list[RouteEntry]) -> None:
        by_len: dict[int, dict[int, list[RouteEntry]]] = {}
        for e in entries:
            by_len.setdefault(e.dst_plen, {}).setdefault(e.dst_net, []).append(e)
        self._by_len = {
            plen: (prefix_mask(plen), {net: tuple(sorted(es, key=_rank))
                                       for net, es in nets.items()})
            for plen, nets in by_len.items()
        }
        self._lens = tuple(sorted(self._by_len, reverse=True))
        self.size = len(entries)
        self.has_src_routes = any(e.src_mask for e in entries)

    def lookup(self, dst: int, src: int, flow_hash: Callable[[], int]) -> RouteEntry | None:
        """Most specific matching route; equal best weights are balanced by ``flow_hash()``
        (called only when there is a tie, since it widens the flow's match)."""
        by_len = self._by_len
        for plen in self._lens:
            mask, nets = by_len[plen]
            candidates = nets.get(dst & mask)
            if candidates is None:
                continue
            best = [e for e in candidates if src & e.src_mask == e.src_net]
            if not best:
                continue
            if len(best) == 1:
                return best[0]
            top = _rank(best[0])
            best = [e for e in best if _rank(e) == top]
            if len(best) == 1:
                return best[0]
            return best[flow_hash() % len(best)]
        return None
