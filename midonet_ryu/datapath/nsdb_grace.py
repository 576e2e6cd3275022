"""What the agent says about its ZooKeeper connection: connected, reconnecting, degraded.

Why: MidoNet's agent shut itself down ``session_gracetime`` after losing
ZooKeeper, turning an NSDB outage into a datapath outage. This agent keeps
forwarding and simulating on its cached topology however long the outage
lasts, so the grace time only decides what it tells operators. Within it the
agent is *reconnecting*: a leader election or a network blip, and nothing
is lost yet (the client queues the writes of a live session). After it the
agent is *degraded* and says since when and what it cannot do until
ZooKeeper is back; what it learned meanwhile is written once it is.
"""
from __future__ import annotations

from typing import Any

CONNECTED = "connected"
RECONNECTING = "reconnecting"
DEGRADED = "degraded"

CANNOT = (
    "share MAC and ARP learnings with other hosts",
    "see topology changes",
    "lease SNAT port blocks",
    "publish new port bindings",
)
"""While disconnected: forwarding, simulation, conntrack and NAT on leased
blocks go on; these wait for ZooKeeper."""


class NsdbGrace:
    def __init__(self, grace: float, now: float) -> None:
        self.grace = grace
        self._since = now  # of the current connection, or of the loss
        self._lost = False
        self._degraded_reported = False

    def changed(self, connected: bool, now: float) -> None:
        """A session event: ``connected`` True on CONNECTED, False on SUSPENDED/LOST."""
        if connected == (not self._lost):
            return  # SUSPENDED then LOST: the outage started at the first
        self._lost = not connected
        self._since = now
        self._degraded_reported = False

    def state(self, now: float) -> str:
        if not self._lost:
            return CONNECTED
        return DEGRADED if now - self._since >= self.grace else RECONNECTING

    def disconnected_for(self, now: float) -> float:
        return now - self._since if self._lost else 0.0

    def newly_degraded(self, now: float) -> bool:
        """True once per outage, when the grace time has just run out (to log it)."""
        if self._degraded_reported or self.state(now) != DEGRADED:
            return False
        self._degraded_reported = True
        return True

    def report(self, now: float) -> dict[str, Any]:
        """For the status command; ``since`` is when the current state began."""
        state = self.state(now)
        since = self._since + self.grace if state == DEGRADED else self._since
        out: dict[str, Any] = {"state": state, "since": since,
                               "grace_time_s": self.grace}
        if self._lost:
            out["disconnected_since"] = self._since
            out["disconnected_for_s"] = round(now - self._since, 3)
            out["cannot"] = list(CANNOT)
        return out
