"""The State Proxy client's connection state machine, as a pure function of events.

States, after MidoNet's ``StateProxyClient``:

* **connected**: tables are fed by one proxy's differential updates;
* **soft reconnection**: the connection was lost (or none could be made);
  subscriptions are kept, tables keep their last state, and the client tries
  proxies (a different one first) every ``soft_reconnect_delay`` for up to
  ``max_soft_reconnect_attempts`` attempts. A table opened while no proxy is
  connected has no state to keep: it reads ZooKeeper until a proxy connects,
  so an agent never starts with empty tables;
* **hard phase** ("dormant"): tables read ZooKeeper directly; the client tries a
  proxy every ``hard_reconnect_delay`` and switches back when one answers.

The transport (``midonet_ryu.nsdb.state_proxy_transport``) owns the sockets,
threads and clock: it reports events (a timer tick at ``now``, proxies listed,
connected, bytes received, connection lost, a table opened or closed) and
carries out the actions returned (list proxies, connect, send bytes, close,
switch a table to the proxy or to ZooKeeper, deliver an update). Tables are
opaque handles here; what a table does with an action is
:class:`~midonet_ryu.stateproxy.proxied_view.ProxiedView`'s business.

A table's subscription is an action (:class:`SubscribeTable`) rather than bytes:
the Subscribe carries the version the table holds, which only the table's owner
can read consistently, after stopping its direct reader.
"""
from __future__ import annotations

import dataclasses
import itertools
import logging
import random
from collections.abc import Hashable, Sequence
from typing import Union

from midonet_ryu.stateproxy import state_api as m
from midonet_ryu.stateproxy.framing import FrameDecoder, frame
from midonet_ryu.stateproxy.protowire import DecodeError

LOG = logging.getLogger(__name__)

CONNECTED = "connected"
SOFT = "soft_reconnect"
HARD = "hard_reconnect"
STOPPED = "stopped"

MAX_RESPONSE_FRAME = 16 * 1024 * 1024

Endpoint = tuple[str, int]
Table = Hashable

# The link below the state: what the transport is doing with the network.
_DOWN = "down"          # waiting for the next attempt
_DIALING = "dialing"    # listing proxies or connecting (the transport reports back)
_UP = "up"              # connected


# -- actions -------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class ListEndpoints:
    """Look the proxies up; report with :meth:`Session.endpoints_listed`."""


@dataclasses.dataclass(frozen=True)
class Connect:
    """Open a connection; report :meth:`Session.connected` or :meth:`Session.connect_failed`."""

    endpoint: Endpoint


@dataclasses.dataclass(frozen=True)
class Disconnect:
    """Close the connection; the session already counts it as lost."""

    reason: str


@dataclasses.dataclass(frozen=True)
class Send:
    """Send ``data`` on connection ``generation`` (drop it if that one is gone)."""

    data: bytes
    generation: int


@dataclasses.dataclass(frozen=True)
class SubscribeTable:
    """Stop reading ZooKeeper for ``table``, feed it from connection ``generation``, and
    send its Subscribe (resuming from its version) as request ``request_id``."""

    table: Table
    request_id: int
    generation: int


@dataclasses.dataclass(frozen=True)
class ReadZooKeeper:
    """Feed ``table`` from ZooKeeper directly: "new" (opened with no proxy connected),
    "hard" (no proxy for too long) or "refused" (the proxy refused the table)."""

    table: Table
    reason: str


@dataclasses.dataclass(frozen=True)
class Deliver:
    """Apply ``update`` to ``table`` if it is still fed by connection ``generation``."""

    table: Table
    update: m.Update
    generation: int


@dataclasses.dataclass(frozen=True)
class StateChanged:
    previous: str
    state: str


Action = Union[ListEndpoints, Connect, Disconnect, Send, SubscribeTable, ReadZooKeeper,  # noqa: UP007
               Deliver, StateChanged]


@dataclasses.dataclass(frozen=True)
class SessionConfig:
    """The ``[state_proxy]`` timings, in seconds."""

    soft_reconnect_delay: float = 1.0
    max_soft_reconnect_attempts: int = 30
    hard_reconnect_delay: float = 30.0
    read_timeout: float = 10.0

    @property
    def ping_interval(self) -> float:
        """An idle proxy is pinged this often, so silence means it is gone."""
        return max(0.1, self.read_timeout / 3)


class Session:
    """Which proxy to talk to, what to send it, and where each table's data comes from.

    Not thread-safe: the transport calls it under one lock. Every method takes the
    time it is called at (``now``, monotonic seconds) when timing matters, and
    returns the actions to carry out, in order.
    """

    def __init__(self, config: SessionConfig | None = None,
                 rng: random.Random | None = None) -> None:
        self.config = config or SessionConfig()
        self._rng = rng or random.Random()
        self.state = SOFT
        self.endpoint: Endpoint | None = None
        self.attempts = 0
        """Failed attempts in a row (including connections dropped as soon as made)."""
        self.generation = 0
        """Connections made so far; each feeds the tables with its own subscriptions."""
        self.tables: dict[Table, None] = {}  # insertion-ordered set
        self.bytes_received = 0
        self.messages_received = 0
        self._link = _DOWN
        self._failed: Endpoint | None = None
        self._next_attempt: float | None = None  # None: at once
        self._connected_at = 0.0
        self._last_heard = 0.0
        self._last_ping = 0.0
        self._decoder: FrameDecoder | None = None
        self._request_ids = itertools.count(1)
        self._by_request: dict[int, Table] = {}
        self._by_sid: dict[int, Table] = {}
        self._sids: dict[Table, int] = {}
        self._resubscribe_at: dict[Table, float] = {}

    # -- queries -----------------------------------------------------------------------------
    def subscription_id(self, table: Table) -> int | None:
        """The proxy's id of ``table``'s subscription (None until acknowledged)."""
        return self._sids.get(table)

    def wakeup_at(self) -> float | None:
        """When :meth:`tick` has something to do; None: only after another event."""
        if self.state == STOPPED or self._link == _DIALING:
            return None
        if self._link == _DOWN:
            return float("-inf") if self._next_attempt is None else self._next_attempt
        cfg = self.config
        times = [self._last_heard + cfg.read_timeout,
                 max(self._last_heard, self._last_ping) + cfg.ping_interval]
        times.extend(self._resubscribe_at.values())
        return min(times)

    # -- events ------------------------------------------------------------------------------
    def tick(self, now: float) -> list[Action]:
        """Time passed: attempt a connection, ping, give up on a silent proxy, resubscribe."""
        if self.state == STOPPED:
            return []
        if self._link == _DOWN:
            if self._next_attempt is None or now >= self._next_attempt:
                self._link = _DIALING
                return [ListEndpoints()]
            return []
        if self._link != _UP:
            return []
        cfg = self.config
        if now - self._last_heard >= cfg.read_timeout:
            LOG.warning("state proxy %s silent for %.0fs", self.endpoint, cfg.read_timeout)
            return self._lose(now, "silent")
        actions: list[Action] = []
        if now >= max(self._last_heard, self._last_ping) + cfg.ping_interval:
            self._last_ping = now
            actions.append(self._request(m.Ping()))
        for table, at in list(self._resubscribe_at.items()):
            if at <= now:
                del self._resubscribe_at[table]
                if table in self.tables and table not in self._sids:
                    actions.append(self._subscribe(table))
        return actions

    def endpoints_listed(self, now: float, endpoints: Sequence[Endpoint] | None) -> list[Action]:
        """The proxies registered (None: discovery failed). A different proxy than the one
        that failed last is preferred."""
        if self._link != _DIALING:
            return []
        if not endpoints:
            return self._attempt_failed(now)
        others = [e for e in endpoints if e != self._failed]
        self.endpoint = tuple(self._rng.choice(others or list(endpoints)))  # type: ignore[assignment]
        return [Connect(self.endpoint)]  # type: ignore[arg-type]

    def connect_failed(self, now: float) -> list[Action]:
        if self._link != _DIALING:
            return []
        LOG.debug("state proxy %s unreachable", self.endpoint)
        return self._attempt_failed(now)

    def connected(self, now: float) -> list[Action]:
        """The connection to :attr:`endpoint` is up: every table subscribes on it."""
        if self._link != _DIALING:
            return [Disconnect("not wanted")]
        self._link = _UP
        self.generation += 1
        self._connected_at = self._last_heard = self._last_ping = now
        self._decoder = FrameDecoder(MAX_RESPONSE_FRAME)
        self._forget_subscriptions()
        actions = self._set_state(CONNECTED)
        LOG.info("state proxy client connected to %s", self.endpoint)
        actions.extend(self._subscribe(table) for table in self.tables)
        return actions

    def received(self, now: float, data: bytes) -> list[Action]:
        """Bytes from the proxy: acknowledgements, updates, errors, pongs."""
        if self._link != _UP or self._decoder is None:
            return []
        self._last_heard = now
        self.bytes_received += len(data)
        actions: list[Action] = []
        try:
            for payload in self._decoder.feed(data):
                self.messages_received += 1
                actions.extend(self._dispatch(now, m.decode_response(payload)))
        except DecodeError as e:
            LOG.warning("state proxy %s sent garbage: %s", self.endpoint, e)
            return actions + self._lose(now, f"bad response: {e}")
        return actions

    def connection_lost(self, now: float) -> list[Action]:
        """The transport saw the connection end (EOF or a socket error)."""
        if self._link != _UP:
            return []
        LOG.warning("state proxy %s connection lost", self.endpoint)
        return self._lose(now, None)

    def open_table(self, table: Table) -> list[Action]:
        """A table opened: subscribe now, or read ZooKeeper until a proxy connects."""
        self.tables[table] = None
        if self._link == _UP:
            return [self._subscribe(table)]
        return [ReadZooKeeper(table, "new")]

    def close_table(self, table: Table) -> list[Action]:
        self.tables.pop(table, None)
        self._resubscribe_at.pop(table, None)
        sid = self._sids.pop(table, None)
        if sid is None:
            return []
        self._by_sid.pop(sid, None)
        return [self._request(m.Unsubscribe(sid))] if self._link == _UP else []

    def stop(self) -> list[Action]:
        link, self._link = self._link, _DOWN
        actions = self._set_state(STOPPED)
        return actions + ([Disconnect("stopped")] if link == _UP else [])

    # -- internals ---------------------------------------------------------------------------
    def _set_state(self, state: str) -> list[Action]:
        previous, self.state = self.state, state
        if previous == state:
            return []
        LOG.info("state proxy client: %s -> %s", previous, state)
        return [StateChanged(previous, state)]

    def _request(self, body: m.Unsubscribe | m.Ping) -> Send:
        request = m.ProxyRequest(next(self._request_ids), body)
        return Send(frame(m.encode_request(request)), self.generation)

    def _subscribe(self, table: Table) -> SubscribeTable:
        rid = next(self._request_ids)
        self._by_request[rid] = table
        return SubscribeTable(table, rid, self.generation)

    def _forget_subscriptions(self) -> None:
        self._by_request.clear()
        self._by_sid.clear()
        self._sids.clear()
        self._resubscribe_at.clear()

    def _attempt_failed(self, now: float) -> list[Action]:
        self._link = _DOWN
        self._failed = self.endpoint
        self.attempts += 1
        actions: list[Action] = []
        if self.state != HARD and self.attempts > self.config.max_soft_reconnect_attempts:
            actions = self._enter_hard()
        delay = (self.config.hard_reconnect_delay if self.state == HARD
                 else self.config.soft_reconnect_delay)
        self._next_attempt = now + delay
        return actions

    def _enter_hard(self) -> list[Action]:
        """No proxy for too long: every table reads ZooKeeper directly."""
        self._forget_subscriptions()
        actions = self._set_state(HARD)
        actions.extend(ReadZooKeeper(table, "hard") for table in self.tables)
        return actions

    def _lose(self, now: float, reason: str | None) -> list[Action]:
        """The connection is gone; subscriptions are kept for the next one (soft phase)."""
        self._decoder = None
        self._forget_subscriptions()
        actions: list[Action] = [Disconnect(reason)] if reason is not None else []
        actions.extend(self._set_state(SOFT))
        if now - self._connected_at < max(1.0, self.config.soft_reconnect_delay):
            # A proxy that accepts and drops us at once (shutting down, broken)
            # counts as a failed attempt, so we neither spin nor stay soft forever.
            self._link = _DIALING
            actions.extend(self._attempt_failed(now))
        else:
            self._link = _DOWN
            self._failed = self.endpoint
            self.attempts = 0
            self._next_attempt = None
        return actions

    def _dispatch(self, now: float, response: m.ProxyResponse) -> list[Action]:
        body = response.body
        if isinstance(body, m.Notify):
            table = self._by_sid.get(body.subscription_id)
            if table is None:
                return []
            if isinstance(body.body, m.Update):
                return [Deliver(table, body.body, self.generation)]
            if isinstance(body.body, m.Completed):
                return self._completed(now, table, body.subscription_id, body.body)
            return []
        if isinstance(body, m.Acknowledge):
            table = self._by_request.pop(response.request_id, None)
            if table is not None and table in self.tables:
                self._sids[table] = body.subscription_id
                self._by_sid[body.subscription_id] = table
            return []
        if isinstance(body, m.Error):
            table = self._by_request.pop(response.request_id, None)
            if table is None:
                LOG.warning("state proxy error: %s %s", body.code.name, body.description)
                return []
            LOG.warning("state proxy refused table %s: %s %s; reading ZooKeeper instead",
                        table, body.code.name, body.description)
            return [ReadZooKeeper(table, "refused")]
        return []

    def _completed(self, now: float, table: Table, sid: int,
                   completed: m.Completed) -> list[Action]:
        """The proxy ended a subscription: resubscribe (here after a delay, or on the
        next proxy when this one is shutting down)."""
        LOG.info("state proxy ended subscription of %s: %s %s", table, completed.code.name,
                 completed.description)
        self._by_sid.pop(sid, None)
        self._sids.pop(table, None)
        if completed.code != m.CompletedCode.SERVER_SHUTDOWN:
            self._resubscribe_at[table] = now + self.config.soft_reconnect_delay
        return []
