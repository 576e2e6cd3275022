"""Ephemeral state keys: host liveness, port activity, and the like.

Keys live at ``<root>/zoom/0/state/<namespace>/<Class>/<id>/<key>`` where the
namespace is the writing host's id, as in MidoNet. They are ephemeral so
they vanish with the writer's session. Unlike MidoNet's agent, which shut
down when its session expired, the writer remembers every key it owns and
``restore()`` re-creates them on a new session.

A key set or deleted while ZooKeeper is unreachable is only noted
(``pending``) and written by ``flush_pending()`` once it is back: the caller
(the agent's worker) must never wait out an outage in a blocked request.
"""
from __future__ import annotations

import logging
import threading
import uuid

from kazoo.client import KazooClient
from kazoo.exceptions import NodeExistsError, NoNodeError

from midonet_ryu.nsdb.paths import Paths

LOG = logging.getLogger(__name__)


class StateKeys:
    """Single-last-writer-wins ephemeral keys in one namespace (this host)."""

    def __init__(self, client: KazooClient, paths: Paths, namespace: uuid.UUID) -> None:
        self.client = client
        self.paths = paths
        self.namespace = namespace
        self._owned: dict[str, bytes] = {}
        self._pending: set[str] = set()  # set or deleted while ZooKeeper was unreachable
        self._lock = threading.Lock()

    def path(self, kind: str, obj_id: uuid.UUID, key: str,
             namespace: uuid.UUID | None = None) -> str:
        return self.paths.state(namespace or self.namespace, kind, obj_id, key)

    def _write(self, path: str, value: bytes) -> None:
        try:
            self.client.retry(self.client.create, path, value, ephemeral=True, makepath=True)
        except NodeExistsError:
            # Ours from this session, or a leftover of our previous session
            # that has not expired yet: take it over by re-creating it.
            _, stat = self.client.retry(self.client.get, path)
            if stat.ephemeralOwner == self.client.client_id[0]:
                self.client.retry(self.client.set, path, value)
            else:
                try:
                    self.client.retry(self.client.delete, path)
                except NoNodeError:
                    pass
                self.client.retry(self.client.create, path, value, ephemeral=True,
                                  makepath=True)

    def set(self, kind: str, obj_id: uuid.UUID, key: str, value: bytes = b"") -> None:
        path = self.path(kind, obj_id, key)
        with self._lock:
            self._owned[path] = value
            if not self.client.connected:
                self._pending.add(path)
                return
        self._write(path, value)

    def delete(self, kind: str, obj_id: uuid.UUID, key: str) -> None:
        path = self.path(kind, obj_id, key)
        with self._lock:
            self._owned.pop(path, None)
            if not self.client.connected:
                self._pending.add(path)
                return
        self._delete(path)

    def _delete(self, path: str) -> None:
        try:
            self.client.retry(self.client.delete, path)
        except NoNodeError:
            pass

    @property
    def pending(self) -> int:
        return len(self._pending)

    def flush_pending(self) -> int:
        """Write what was set or deleted while ZooKeeper was unreachable."""
        with self._lock:
            pending, self._pending = self._pending, set()
            owned = {p: self._owned[p] for p in pending if p in self._owned}
        for path in pending:
            if path in owned:
                self._write(path, owned[path])
            else:
                self._delete(path)
        return len(pending)

    def get(self, kind: str, obj_id: uuid.UUID, key: str,
            namespace: uuid.UUID | None = None) -> bytes | None:
        try:
            data, _ = self.client.retry(self.client.get, self.path(kind, obj_id, key, namespace))
        except NoNodeError:
            return None
        return data

    def restore(self) -> int:
        """Re-create every owned key (after a session expiry); returns the count."""
        with self._lock:
            owned = dict(self._owned)
            self._pending.clear()  # a new session: the old one's keys are gone anyway
        for path, value in owned.items():
            self._write(path, value)
        LOG.info("re-created %d ephemeral state keys", len(owned))
        return len(owned)

    def owned(self) -> dict[str, bytes]:
        with self._lock:
            return dict(self._owned)
