"""Where ports bound to other hosts are reachable: their host and tunnel key.

Each remote exterior port publishes ``active`` in its host's state
namespace; the agent watches those keys (level-triggered ``DataWatch``) and
reports changes so flows that tunnel to a port follow it when it moves or
gets a new key. A port whose binding moves to another host is forgotten at
once; a port whose ``active`` key merely disappears keeps its last location.
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable

from kazoo.client import KazooClient
from kazoo.recipe.watchers import DataWatch

from midonet_ryu.nsdb.hosts import ACTIVE, decode_port_active
from midonet_ryu.nsdb.paths import Paths

LOG = logging.getLogger(__name__)


class RemotePorts:
    def __init__(self, client: KazooClient, paths: Paths,
                 on_change: Callable[[uuid.UUID], None]) -> None:
        self.client = client
        self.paths = paths
        self.on_change = on_change
        self.active: dict[uuid.UUID, tuple[uuid.UUID, int]] = {}
        self._watching: dict[uuid.UUID, uuid.UUID] = {}  # port -> host namespace

    def track(self, wanted: Iterable[tuple[uuid.UUID, uuid.UUID]]) -> None:
        """Watch exactly the (port, host) pairs in ``wanted``."""
        wanted = dict(wanted)
        for port_id in [p for p in self._watching if wanted.get(p) != self._watching[p]]:
            del self._watching[port_id]
            if self.active.pop(port_id, None) is not None:
                self.on_change(port_id)
        for port_id, host_id in wanted.items():
            if port_id in self._watching:
                continue
            self._watching[port_id] = host_id
            path = self.paths.state(host_id, "Port", port_id, ACTIVE)
            DataWatch(self.client, path, self._callback(port_id, host_id))

    def _callback(self, port_id: uuid.UUID, host_id: uuid.UUID):
        def on_data(data, stat, event=None):
            if self._watching.get(port_id) != host_id:
                return False  # no longer wanted, or moved to another namespace
            value = decode_port_active(data)
            if value is None or value[0] != host_id:
                # The agent there is restarting or gone. Keep the last known
                # key: its flows (fail-secure) keep delivering while it
                # restarts, and a dead host drops the traffic either way.
                return None
            if self.active.get(port_id) != value:
                self.active[port_id] = value
                self.on_change(port_id)
            return None

        return on_data

    def clear(self) -> None:
        self._watching.clear()
        self.active.clear()
