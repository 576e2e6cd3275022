"""Flow tags: what a simulation depended on, for invalidating flows later.

A tag is a small hashable tuple whose first item names its kind. The agent
indexes installed flows by tag; when the topology cache or a state table
reports a change it builds the same tag and deletes the flows under it. Keep
construction here so both sides always build identical tags.
"""
from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Hashable

Tag = tuple[Hashable, ...]


def device(device_id: uuid.UUID) -> Tag:
    """A bridge, router, chain, load balancer... changed (any topology object)."""
    return ("device", device_id)


def port(port_id: uuid.UUID) -> Tag:
    return ("port", port_id)


def mac_entry(network_id: uuid.UUID, vlan: int | None, mac: str) -> Tag:
    """A MAC table entry (network, vlan, mac) appeared, moved or expired."""
    return ("mac", network_id, vlan, mac)


def flood(network_id: uuid.UUID, vlan: int | None) -> Tag:
    """Flows that flooded on (network, vlan): invalidated when a port of
    that VLAN comes, goes or changes."""
    return ("flood", network_id, vlan)


def floods(network_id: uuid.UUID) -> Tag:
    """Flows that flooded on any VLAN of the network (a trunk port changed)."""
    return ("floods", network_id)


def ip4_mac_entry(network_id: uuid.UUID, ip: int) -> Tag:
    """A network's IPv4->MAC (ARP suppression) entry."""
    return ("ip4mac", network_id, ip)


def arp_entry(router_id: uuid.UUID, ip: int) -> Tag:
    """A router's ARP table entry for next hop ``ip``."""
    return ("arp", router_id, ip)


def routed(router_id: uuid.UUID, dst: int | None, plen: int) -> Tag:
    """A router's route lookup for ``dst`` matched a route ``plen`` long
    (-1: no route). Found by :class:`RoutesTo` when a route is added."""
    return ("routed", router_id, dst, plen)


@dataclasses.dataclass(frozen=True, slots=True)
class RoutesTo:
    """Not a tag but a query over ``routed`` tags: the lookups of
    ``router_id`` for a destination in ``net``/``plen`` that matched a route
    at most ``plen`` long. A new route for that prefix would now win (or
    tie with) them; lookups that matched a longer route are not affected.
    ``exact``: only those that matched a route exactly ``plen`` long, the
    ones a route of that prefix going away can change (its ECMP peers)."""

    router_id: uuid.UUID
    net: int
    plen: int
    exact: bool = False

    def covers(self, tag: Tag) -> bool:
        mask = (0xFFFFFFFF << (32 - self.plen)) & 0xFFFFFFFF if self.plen else 0
        matched = tag[3]
        if matched != self.plen and (self.exact or matched > self.plen):  # type: ignore[operator]
            return False
        return (tag[2] & mask) == self.net  # type: ignore[operator]


def chain(chain_id: uuid.UUID) -> Tag:
    return ("device", chain_id)


def rule(rule_id: uuid.UUID) -> Tag:
    return ("device", rule_id)


def ip_addr_group(group_id: uuid.UUID) -> Tag:
    return ("device", group_id)


def port_group(group_id: uuid.UUID) -> Tag:
    return ("device", group_id)


def state_key(key: Hashable) -> Tag:
    """A conntrack or NAT key: when flow state for it arrives from a peer the
    flows simulated without it are invalidated."""
    return ("state", key)


def snat_block(device_id: uuid.UUID, ip: int) -> Tag:
    """Leased SNAT port blocks for (device, ip) changed."""
    return ("snat", device_id, ip)
