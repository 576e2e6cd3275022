"""Where ports bound to other hosts are reachable: their host and tunnel key,
and whether that host is alive.

Each remote exterior port publishes ``active`` in its host's state
namespace; the agent watches those keys (level-triggered ``DataWatch``) and
reports changes so flows that tunnel to a port follow it when it moves or
gets a new key. A port whose binding moves to another host is forgotten at
once; a port whose ``active`` key merely disappears keeps its last location
(its agent may be restarting, and its datapath still forwards).

A host whose ``alive`` key is gone (its ZooKeeper session ended) for longer
than ``hold`` seconds is down: its ports are not located, so nothing
tunnels to them and floods skip them, until the key is back. The hold rides
out a restarting agent re-creating the key in a new session, and a frozen
one resuming right after its expiry: both still forward meanwhile.
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from kazoo.client import KazooClient
from kazoo.recipe.watchers import DataWatch

from midonet_ryu.nsdb.hosts import ACTIVE, ALIVE, decode_port_active
from midonet_ryu.nsdb.paths import Paths

LOG = logging.getLogger(__name__)
CallLater = Callable[[float, Callable[[], None]], Any]
WatchCallback = Callable[[bytes | None, Any, Any], bool | None]  # False ends the DataWatch


class RemotePorts:
    def __init__(self, client: KazooClient, paths: Paths,
                 on_change: Callable[[uuid.UUID], None],
                 on_host_change: Callable[[uuid.UUID], None] | None = None,
                 call_later: CallLater | None = None, hold: float = 0.0) -> None:
        self.client = client
        self.paths = paths
        self.on_change = on_change
        self.on_host_change = on_host_change or (lambda host_id: None)
        self.call_later = call_later
        self.hold = hold
        self.active: dict[uuid.UUID, tuple[uuid.UUID, int]] = {}
        self.down_hosts: set[uuid.UUID] = set()
        # port -> (host namespace, token of its watch); host -> (ports watched
        # there, token of its alive watch). A watch whose token is no longer
        # current ends at its next event, so re-adding a port or host never
        # leaves two watches reporting.
        self._watching: dict[uuid.UUID, tuple[uuid.UUID, object]] = {}
        self._hosts: dict[uuid.UUID, list[Any]] = {}
        self._absent: set[uuid.UUID] = set()  # alive key gone, not held down long enough

    def update(self, moved: Iterable[tuple[uuid.UUID, uuid.UUID]],
               gone: Iterable[uuid.UUID]) -> None:
        """Start watching ports newly bound to (or moved to) a host, stop
        watching ports no longer bound elsewhere: costs the changes, not
        the ports watched."""
        moved = [(p, h) for p, h in moved if self.host_of(p) != h]
        for port_id in (*gone, *(p for p, _ in moved)):
            watched = self._watching.pop(port_id, None)
            if watched is None:
                continue
            self._release_host(watched[0])
            if self.active.pop(port_id, None) is not None:
                self.on_change(port_id)
        for port_id, host_id in moved:
            token = object()
            self._watching[port_id] = (host_id, token)
            self._want_host(host_id)
            path = self.paths.state(host_id, "Port", port_id, ACTIVE)
            DataWatch(self.client, path, self._callback(port_id, host_id, token))

    def host_of(self, port_id: uuid.UUID) -> uuid.UUID | None:
        watched = self._watching.get(port_id)
        return None if watched is None else watched[0]

    def _want_host(self, host_id: uuid.UUID) -> None:
        entry = self._hosts.get(host_id)
        if entry is not None:
            entry[0] += 1
            return
        token = object()
        self._hosts[host_id] = [1, token]
        path = self.paths.state(host_id, "Host", host_id, ALIVE)
        DataWatch(self.client, path, self._host_callback(host_id, token))

    def _release_host(self, host_id: uuid.UUID) -> None:
        entry = self._hosts[host_id]
        entry[0] -= 1
        if entry[0] == 0:
            del self._hosts[host_id]
            self._absent.discard(host_id)
            self.down_hosts.discard(host_id)

    def _current_host_token(self, host_id: uuid.UUID) -> object | None:
        entry = self._hosts.get(host_id)
        return None if entry is None else entry[1]

    def ports_of(self, host_id: uuid.UUID) -> list[uuid.UUID]:
        """The located ports on ``host_id``: what its liveness changes."""
        return [port_id for port_id, (host, _) in self.active.items() if host == host_id]

    def _callback(self, port_id: uuid.UUID, host_id: uuid.UUID,
                  token: object) -> WatchCallback:
        def on_data(data: bytes | None, stat: Any, event: Any = None) -> bool | None:
            if self._watching.get(port_id) != (host_id, token):
                return False  # no longer wanted, or moved to another namespace
            value = decode_port_active(data)
            if value is None or value[0] != host_id:
                # The agent there is restarting or gone. Keep the last known
                # key: its flows (fail-secure) keep delivering while it
                # restarts; whether the host is gone is its alive key's say.
                return None
            if self.active.get(port_id) != value:
                self.active[port_id] = value
                self.on_change(port_id)
            return None

        return on_data

    def _host_callback(self, host_id: uuid.UUID, token: object) -> WatchCallback:
        def on_data(data: bytes | None, stat: Any, event: Any = None) -> bool | None:
            if self._current_host_token(host_id) is not token:
                return False
            if stat is not None:
                self._absent.discard(host_id)
                if host_id in self.down_hosts:
                    self.down_hosts.discard(host_id)
                    LOG.warning("host %s is alive again: tunnelling to its ports", host_id)
                    self.on_host_change(host_id)
            elif host_id not in self.down_hosts and host_id not in self._absent:
                self._absent.add(host_id)
                if self.call_later is None or self.hold <= 0:
                    self._confirm_down(host_id, token)
                else:
                    self.call_later(self.hold, lambda: self._confirm_down(host_id, token))
            return None

        return on_data

    def _confirm_down(self, host_id: uuid.UUID, token: object) -> None:
        if self._current_host_token(host_id) is not token or host_id not in self._absent:
            return  # no longer wanted, or alive again within the hold
        self._absent.discard(host_id)
        self.down_hosts.add(host_id)
        LOG.warning("host %s is down (no ZooKeeper session): not tunnelling to its ports",
                    host_id)
        self.on_host_change(host_id)

    def clear(self) -> None:
        self._watching.clear()
        self.active.clear()
        self._hosts.clear()
        self._absent.clear()
        self.down_hosts.clear()
