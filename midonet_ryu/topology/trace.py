"""Trace requests: record the simulations of live packets that match a condition.

MidoNet's ``TraceRequest``: a condition (a rule's) evaluated where the packet
enters ``device_id`` (a port, bridge or router), a limit on the packets
recorded and an enabled flag. Agents that see matching packets record each
simulation's steps under the request in the NSDB, at most ``limit`` of them
across all hosts; unlike MidoNet, the records can be read back
(``GET /traces/{id}/flows``).
"""
from __future__ import annotations

import enum
import uuid
from typing import Annotated

from midonet_ryu.topology.base import ModelObject, model
from midonet_ryu.topology.rules import Condition
from midonet_ryu.topology.types import Bounds, Name, TenantId


class TraceDeviceType(enum.Enum):
    PORT = "port"
    BRIDGE = "bridge"
    ROUTER = "router"


@model
class TraceRequest(ModelObject):
    name: Name = ""
    tenant_id: TenantId = ""
    device_type: TraceDeviceType = TraceDeviceType.PORT
    device_id: uuid.UUID | None = None
    condition: Condition = Condition()
    limit: Annotated[int, Bounds(1, 10000)] = 100
    enabled: bool = False
    creation_timestamp_ms: int = 0
