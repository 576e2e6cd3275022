"""The agent's flow-state file: read once at start, written behind the datapath.

The hub thread takes a copy of the keys (:func:`local_store.dump` reads
dicts; copying them is fast and cannot interleave with a simulation), and
the JSON encoding and the write run in a native thread (eventlet's tpool),
so a large state never stalls packet handling. The file is replaced
atomically: a crash mid-write leaves the previous one. A file that cannot be
loaded is moved aside (``.bad``) with the reason logged, and the agent
starts without it.
"""
from __future__ import annotations

import logging
import os
import uuid
from typing import Any

from eventlet import tpool

from midonet_ryu.flowstate import local_store
from midonet_ryu.simulation.state import InMemoryState

LOG = logging.getLogger(__name__)


class FlowStateFile:
    def __init__(self, path: str, host_id: uuid.UUID, max_keys: int) -> None:
        self.path = path
        self.host_id = host_id
        self.max_keys = max_keys
        self._saved_version: int | None = None

    def load(self, local: InMemoryState, now: float) -> local_store.Loaded | None:
        try:
            with open(self.path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return None
        except OSError as e:
            LOG.error("flow state not reloaded: cannot read %s (%s)", self.path, e)
            return None
        try:
            loaded = local_store.load(self.host_id, local, data, now)
        except local_store.BadStateFile as e:
            aside = self.path + ".bad"
            LOG.error("flow state not reloaded from %s: %s; moved to %s", self.path, e, aside)
            try:
                os.replace(self.path, aside)
            except OSError:
                pass
            return None
        self._saved_version = local.version
        return loaded

    def save(self, local: InMemoryState, now: float) -> bool:
        """Write the state if it changed since the last save; True if written."""
        version = local.version
        if version == self._saved_version:
            return False
        snapshot = local_store.Snapshot.of(local, self.max_keys)
        data: bytes = tpool.execute(snapshot.encode, self.host_id, now)
        tmp = f"{self.path}.tmp"
        try:
            tpool.execute(_write, tmp, data)
            os.replace(tmp, self.path)
        except OSError as e:
            LOG.warning("flow state not saved to %s: %s", self.path, e)
            return False
        self._saved_version = version
        return True


def _write(path: str, data: Any) -> None:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
