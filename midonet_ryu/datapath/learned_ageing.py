"""When the MAC and ARP entries this agent learned leave the NSDB again.

Why: a learned entry is ephemeral in ZooKeeper, so it lives as long as the
agent's session, which on a healthy host is for ever. A VM that went silent
(shut down without its port being deleted, or moved its MAC elsewhere
without a frame on the new port yet) keeps attracting unicast traffic to a
port that no longer answers, and the entry is even written back after a
session loss. MidoNet expired a MAC-port mapping ``mac_port_mapping_expire``
after the last flow that used it; this does the same:

* each MAC learning is counted against the flows simulated while learning it
  (the flows from that MAC on that port): while one is installed the VM is
  talking and the entry stays;
* when the last of them is removed (idle timeout, invalidation, eviction) or
  a learning produced no flow, the entry's clock starts; after
  ``mac_expiry`` seconds without a new learning it is handed out to remove;
* a router ARP entry carries its own expiry (the engine stops using it then):
  once that passes without a new learning it is handed out too.

Removal time is the last time the ledger was given (``seen``, ``expired``):
the shell ticks it every second, so an entry goes at most a second late.
Bounded: at most ``max_idle`` flowless entries are remembered; past that the
oldest are handed out early.
"""
from __future__ import annotations

import collections
from collections.abc import Iterable

from midonet_ryu.simulation.result import ArpLearned, MacLearned

MacKey = tuple[object, ...]
ArpKey = tuple[object, int]


class LearnedAgeing:
    def __init__(self, mac_expiry: float, arp_expiry: float, max_idle: int = 100_000) -> None:
        self.mac_expiry = mac_expiry
        self.arp_expiry = arp_expiry
        self.max_idle = max_idle
        self._now = 0.0
        self._macs: dict[MacKey, MacLearned] = {}
        self._refs: dict[MacKey, set[int]] = {}  # entry -> cookies of flows from it
        self._by_cookie: dict[int, list[MacKey]] = {}
        # flowless entries, oldest first: entry -> since when
        self._idle: collections.OrderedDict[MacKey, float] = collections.OrderedDict()
        # router ARP entries, by last learning, oldest first
        self._arps: collections.OrderedDict[ArpKey, tuple[ArpLearned, float]] = (
            collections.OrderedDict())

    def seen(self, learned: Iterable[MacLearned | ArpLearned], cookie: int | None,
             now: float) -> None:
        """A simulation learned (or confirmed) ``learned``; ``cookie`` is the
        flow installed for it, None when there is none."""
        self._now = max(self._now, now)
        for item in learned:
            if type(item) is MacLearned:
                key: MacKey = (item.network_id, item.vlan, item.mac, item.port_id)
                self._macs[key] = item
                if cookie is None:
                    if key not in self._refs:
                        self._idle[key] = now
                        self._idle.move_to_end(key)
                    continue
                self._idle.pop(key, None)
                self._refs.setdefault(key, set()).add(cookie)
                self._by_cookie.setdefault(cookie, []).append(key)
            elif type(item) is ArpLearned:
                akey: ArpKey = (item.router_id, item.ip)
                self._arps[akey] = (item, now)
                self._arps.move_to_end(akey)

    def flows_gone(self, cookies: Iterable[int]) -> None:
        for cookie in cookies:
            for key in self._by_cookie.pop(cookie, ()):
                refs = self._refs.get(key)
                if refs is None:
                    continue
                refs.discard(cookie)
                if not refs:
                    del self._refs[key]
                    self._idle[key] = self._now
                    self._idle.move_to_end(key)

    def all_flows_gone(self) -> None:
        """The switch lost every flow (it reconnected)."""
        self.flows_gone(list(self._by_cookie))

    def expired(self, now: float) -> list[MacLearned | ArpLearned]:
        """Entries to remove from the NSDB now; each is handed out once."""
        self._now = max(self._now, now)
        out: list[MacLearned | ArpLearned] = []
        idle = self._idle
        while idle:
            key, since = next(iter(idle.items()))
            if now - since < self.mac_expiry and len(idle) <= self.max_idle:
                break
            idle.popitem(last=False)
            out.append(self._macs.pop(key))
        arps = self._arps
        while arps:
            akey, (item, since) = next(iter(arps.items()))
            if now - since < self.arp_expiry and len(arps) <= self.max_idle:
                break
            arps.popitem(last=False)
            out.append(item)
        return out

    def tracks(self, learned: MacLearned | ArpLearned) -> bool:
        """True when ``learned`` was seen again after it was handed out."""
        if isinstance(learned, MacLearned):
            return (learned.network_id, learned.vlan, learned.mac, learned.port_id) in self._macs
        return (learned.router_id, learned.ip) in self._arps

    def counts(self) -> dict[str, int]:
        """For the status command."""
        return {"mac_entries_in_use": len(self._refs), "mac_entries_idle": len(self._idle),
                "arp_entries": len(self._arps)}
