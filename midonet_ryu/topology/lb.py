"""L4 load balancers: LoadBalancer -> Pool -> PoolMember, and VIPs.

A router with ``load_balancer_id`` balances packets addressed to a VIP over
the pool's healthy members (``status`` ACTIVE, written by the health
monitor; ``admin_state_up``; ``weight`` > 0).

A pool with a HealthMonitor has its members probed (TCP connect) by the
agent of the host their port is bound to (``midonet_ryu.datapath.health_probes``),
which writes each member's ``status``.
"""
from __future__ import annotations

import enum
import uuid
from typing import Annotated

from midonet_ryu.topology.base import ModelObject, model
from midonet_ryu.topology.bindings import OnDelete, declare_binding
from midonet_ryu.topology.types import Bounds, IPv4, TenantId, TransportPort, Weight

UUIDs = tuple[uuid.UUID, ...]


class LBStatus(enum.Enum):
    ACTIVE = "active"
    INACTIVE = "inactive"


class PoolLBMethod(enum.Enum):
    ROUND_ROBIN = "round_robin"  # weighted choice by flow hash


class SessionPersistence(enum.Enum):
    SOURCE_IP = "source_ip"


class PoolProtocol(enum.Enum):
    TCP = "tcp"


class HealthMonitorType(enum.Enum):
    TCP = "tcp"  # the member accepts a TCP connection on its protocol_port


# seconds between probes, and how long one waits for its answer
ProbeSeconds = Annotated[int, Bounds(1, 3600)]
Retries = Annotated[int, Bounds(1, 10)]


@model
class LoadBalancer(ModelObject):
    admin_state_up: bool = True
    router_id: uuid.UUID | None = None
    pool_ids: UUIDs = ()


@model
class Pool(ModelObject):
    admin_state_up: bool = True
    load_balancer_id: uuid.UUID | None = None
    lb_method: PoolLBMethod = PoolLBMethod.ROUND_ROBIN
    protocol: PoolProtocol = PoolProtocol.TCP
    status: LBStatus = LBStatus.ACTIVE
    health_monitor_id: uuid.UUID | None = None
    pool_member_ids: UUIDs = ()
    vip_ids: UUIDs = ()


@model
class HealthMonitor(ModelObject):
    """MidoNet's health monitor: every ``delay`` seconds each member of its pools
    is probed; ``max_retries`` failed probes in a row (no answer within
    ``timeout``, or refused) make it INACTIVE, one answered probe ACTIVE."""

    tenant_id: TenantId = ""
    admin_state_up: bool = True
    type: HealthMonitorType = HealthMonitorType.TCP
    delay: ProbeSeconds = 5
    timeout: ProbeSeconds = 3
    max_retries: Retries = 3
    pool_ids: UUIDs = ()  # back-reference of Pool.health_monitor_id


@model
class PoolMember(ModelObject):
    admin_state_up: bool = True
    pool_id: uuid.UUID | None = None
    address: IPv4 = "0.0.0.0"
    protocol_port: TransportPort = 0
    weight: Weight = 1
    status: LBStatus = LBStatus.ACTIVE


@model
class Vip(ModelObject):
    admin_state_up: bool = True
    pool_id: uuid.UUID | None = None
    address: IPv4 = "0.0.0.0"
    protocol_port: TransportPort = 0
    session_persistence: SessionPersistence | None = None


declare_binding("Router", "load_balancer_id", OnDelete.CASCADE, "LoadBalancer", "router_id",
                OnDelete.CLEAR, backref="left")
declare_binding("LoadBalancer", "pool_ids", OnDelete.CASCADE, "Pool", "load_balancer_id",
                OnDelete.CLEAR, backref="left")
declare_binding("Pool", "pool_member_ids", OnDelete.CASCADE, "PoolMember", "pool_id",
                OnDelete.CLEAR, backref="left")
declare_binding("HealthMonitor", "pool_ids", OnDelete.CLEAR, "Pool", "health_monitor_id",
                OnDelete.CLEAR, backref="left")
declare_binding("Pool", "vip_ids", OnDelete.CASCADE, "Vip", "pool_id", OnDelete.CLEAR,
                backref="left")
