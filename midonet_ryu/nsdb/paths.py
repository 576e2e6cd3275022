"""ZooKeeper layout, MidoNet's ZOOM version 0.

    <root>/zoom/0/models/<Class>/<uuid>                   topology objects
    <root>/zoom/0/state/<namespace>/<Class>/<uuid>/<key>  ephemeral state keys
    <root>/zoom/0/tables/<Class>/<uuid>/<table>[/<arg>]   state tables
    <root>/zoom/0/locks, <root>/nat/...                   leases and locks
    <root>/traces/<trace request uuid>/flow-<seq>         live trace records
"""
from __future__ import annotations

import uuid

ZOOM_VERSION = 0
# The cluster's own state namespace, as in MidoNet.
CLUSTER_NAMESPACE = uuid.UUID(int=0)


class Paths:
    """Path builder for one root (``[zookeeper] root_key``)."""

    def __init__(self, root: str = "/midonet") -> None:
        root = "/" + root.strip("/")
        self.root = root
        self.zoom = f"{root}/zoom/{ZOOM_VERSION}"

    def models(self, kind: str) -> str:
        return f"{self.zoom}/models/{kind}"

    def model(self, kind: str, obj_id: uuid.UUID) -> str:
        return f"{self.zoom}/models/{kind}/{obj_id}"

    def state_root(self, namespace: uuid.UUID) -> str:
        return f"{self.zoom}/state/{namespace}"

    def state(self, namespace: uuid.UUID, kind: str, obj_id: uuid.UUID, key: str) -> str:
        return f"{self.zoom}/state/{namespace}/{kind}/{obj_id}/{key}"

    def table(self, kind: str, obj_id: uuid.UUID | str, name: str,
              args: tuple[str, ...] = ()) -> str:
        path = f"{self.zoom}/tables/{kind}/{obj_id}/{name}"
        for arg in args:
            path += f"/{arg}"
        return path

    def global_table(self, name: str) -> str:
        return f"{self.zoom}/tables/global/{name}"

    def discovery(self, service: str) -> str:
        return f"{self.root}/service-discovery/{service}"

    def trace_flows(self, trace_id: uuid.UUID) -> str:
        """Where agents record the simulations a trace request matched."""
        return f"{self.root}/traces/{trace_id}"

    def nat_lease(self, device_id: uuid.UUID, ip: str, block: int) -> str:
        return f"{self.root}/nat/{device_id}/{ip}/{block}"
