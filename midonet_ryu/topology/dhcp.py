"""DHCP subnets of a network (MidoNet's ``Dhcp``), answered by the agents.

The agent answers DISCOVER/REQUEST from a port of a network with an enabled
``Dhcp`` whose ``hosts`` list the client's MAC; nothing leaves the host.
"""
from __future__ import annotations

import uuid
from typing import Annotated

from midonet_ryu.topology.base import ModelObject, model, value
from midonet_ryu.topology.bindings import OnDelete, declare_binding
from midonet_ryu.topology.types import Bounds, Cidr, IPv4, Mac, Name, Seconds


@value
class DhcpHost:
    mac: Mac
    ip_address: IPv4
    name: Name = ""


@value
class DhcpRoute:
    """A classless static route handed out in option 121 (RFC 3442)."""

    dest: Cidr
    gateway: IPv4


@model
class Dhcp(ModelObject):
    network_id: uuid.UUID | None = None
    subnet_address: Cidr = "0.0.0.0/0"
    server_address: IPv4 = "0.0.0.0"
    default_gateway: IPv4 | None = None
    dns_server_address: tuple[IPv4, ...] = ()
    interface_mtu: Annotated[int, Bounds(0, 65535)] = 0  # 0: do not send option 26
    lease_time: Seconds = 86400
    enabled: bool = True
    hosts: tuple[DhcpHost, ...] = ()
    # RFC 3442: a client that gets option 121 ignores option 3, so a default
    # route that should survive must be listed here too (as Neutron's is)
    opt121_routes: tuple[DhcpRoute, ...] = ()


declare_binding("Network", "dhcp_ids", OnDelete.CASCADE, "Dhcp", "network_id", OnDelete.CLEAR,
                backref="left")
