"""Routers and routes (MidoNet topology.proto ``Router``, ``Route``).

A router's ports are ``Port`` objects with ``router_id`` and the
``port_address``/``port_subnet``/``port_mac`` fields. Routes hang off the
router (``router_id``) or off the port they leave by (``next_hop_port_id``);
the simulation uses both sets, plus an implicit route for each port subnet.
"""
from __future__ import annotations

import enum
import uuid

from midonet_ryu.topology.base import ModelObject, model
from midonet_ryu.topology.bindings import OnDelete, declare_binding
from midonet_ryu.topology.types import Cidr, IPv4, Name, TenantId, Weight

UUIDs = tuple[uuid.UUID, ...]


@model
class Router(ModelObject):
    """A virtual L3 router."""

    name: Name = ""
    tenant_id: TenantId = ""
    admin_state_up: bool = True
    inbound_filter_id: uuid.UUID | None = None
    outbound_filter_id: uuid.UUID | None = None
    load_balancer_id: uuid.UUID | None = None  # back-reference of LoadBalancer.router_id
    route_ids: UUIDs = ()  # back-reference of Route.router_id
    port_ids: UUIDs = ()  # back-reference of Port.router_id


class NextHop(enum.Enum):
    BLACKHOLE = "blackhole"  # drop silently
    REJECT = "reject"  # drop and answer ICMP network unreachable
    PORT = "port"  # forward out of next_hop_port_id (to next_hop_gateway if set)
    LOCAL = "local"  # addressed to the router itself


@model
class Route(ModelObject):
    """A route; among equally specific matches the lowest weight wins, ties are ECMP."""

    src_subnet: Cidr = "0.0.0.0/0"
    dst_subnet: Cidr = "0.0.0.0/0"
    next_hop: NextHop = NextHop.PORT
    next_hop_port_id: uuid.UUID | None = None
    next_hop_gateway: IPv4 | None = None
    weight: Weight = 100
    router_id: uuid.UUID | None = None


declare_binding("Router", "port_ids", OnDelete.CASCADE, "Port", "router_id", OnDelete.CLEAR,
                backref="left")
declare_binding("Router", "route_ids", OnDelete.CASCADE, "Route", "router_id", OnDelete.CLEAR,
                backref="left")
declare_binding("Port", "route_ids", OnDelete.CASCADE, "Route", "next_hop_port_id",
                OnDelete.CLEAR, backref="left")
