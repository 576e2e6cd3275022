"""Service discovery in ZooKeeper: ``<root>/service-discovery/<service>/<id>``.

Each running instance of a cluster service keeps one ephemeral node whose data
is a Curator-style JSON ``ServiceInstance`` (name, id, address, port), so it
vanishes with the instance's session. The node is re-created after a session
expiry. Clients list the children and watch them.
"""
from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from kazoo.client import KazooClient
from kazoo.exceptions import NodeExistsError, NoNodeError
from kazoo.protocol.states import KazooState

from midonet_ryu.nsdb.paths import Paths

LOG = logging.getLogger(__name__)

STATE_PROXY = "state-proxy"

Endpoint = tuple[str, int]


class ServiceRegistration:
    """Keeps this instance registered while the process runs."""

    def __init__(self, client: KazooClient, paths: Paths, service: str, address: str,
                 port: int, instance_id: uuid.UUID | None = None) -> None:
        self.client = client
        self.service = service
        self.instance_id = instance_id or uuid.uuid4()
        self.path = f"{paths.discovery(service)}/{self.instance_id}"
        self.data = json.dumps({
            "name": service, "id": str(self.instance_id), "address": address, "port": port,
            "registrationTimeUTC": int(time.time() * 1000), "serviceType": "DYNAMIC",
        }).encode()
        self._active = False

    def start(self) -> None:
        self._active = True
        self.client.add_listener(self._session_changed)
        self._create()

    def stop(self) -> None:
        self._active = False
        self.client.remove_listener(self._session_changed)
        if not self.client.connected:
            # A request would wait for a connection that may never come (a
            # node stopped during a ZooKeeper outage did not exit); the
            # ephemeral node goes with the session anyway.
            LOG.warning("not connected: %s is unregistered when its session ends", self.path)
            return
        try:
            self.client.delete(self.path)
        except NoNodeError:
            pass
        except Exception as e:  # noqa: BLE001 - ZooKeeper may be gone at shutdown
            LOG.warning("could not unregister %s: %r", self.path, e)

    def _create(self) -> None:
        if not self._active:
            return
        try:
            self.client.create(self.path, self.data, ephemeral=True, makepath=True)
            LOG.info("registered %s at %s", self.service, self.path)
        except NodeExistsError:
            pass
        except Exception as e:  # noqa: BLE001 - retried on the next reconnection
            LOG.warning("registering %s failed: %r", self.path, e)

    def _session_changed(self, state: str) -> None:
        if state == KazooState.CONNECTED and self._active:
            self.client.handler.spawn(self._create)


def parse_instance(data: bytes) -> Endpoint | None:
    try:
        doc = json.loads(data)
        return str(doc["address"]), int(doc["port"])
    except (ValueError, KeyError, TypeError):
        return None


def list_instances(client: KazooClient, paths: Paths, service: str) -> list[Endpoint]:
    """Endpoints registered now (one ZooKeeper read per instance)."""
    base = paths.discovery(service)
    try:
        children = client.get_children(base)
    except NoNodeError:
        return []
    endpoints = []
    for child in sorted(children):
        try:
            data, _ = client.get(f"{base}/{child}")
        except NoNodeError:
            continue
        endpoint = parse_instance(data)
        if endpoint:
            endpoints.append(endpoint)
    return endpoints


class ServiceWatcher:
    """Keeps an up-to-date list of a service's endpoints; ``on_change`` must not block."""

    def __init__(self, client: KazooClient, paths: Paths, service: str,
                 on_change: Callable[[list[Endpoint]], Any] | None = None) -> None:
        self.client = client
        self.paths = paths
        self.service = service
        self.endpoints: list[Endpoint] = []
        self._on_change = on_change
        self._watch = None

    def start(self) -> None:
        base = self.paths.discovery(self.service)
        self.client.ensure_path(base)
        self._watch = self.client.ChildrenWatch(base, self._children)

    def _children(self, children: list[str]) -> None:
        try:
            self.endpoints = list_instances(self.client, self.paths, self.service)
        except Exception as e:  # noqa: BLE001 - keep the last known list
            LOG.warning("listing %s instances failed: %r", self.service, e)
            return
        if self._on_change:
            self._on_change(list(self.endpoints))
