"""DHCP subnets of a network (MidoNet's ``Dhcp``), answered by the agents.

The agent answers DISCOVER/REQUEST from a port of a network with an enabled
``Dhcp`` whose ``hosts`` list the client's MAC; nothing leaves the host.
"""
from __future__ import annotations

import uuid

from midonet_ryu.topology.base import ModelObject, model, value
from midonet_ryu.topology.bindings import OnDelete, declare_binding


@value
class DhcpHost:
    mac: str
    ip_address: str
    name: str = ""


@model
class Dhcp(ModelObject):
    network_id: uuid.UUID | None = None
    subnet_address: str = "0.0.0.0/0"  # CIDR
    server_address: str = "0.0.0.0"
    default_gateway: str | None = None
    dns_server_address: tuple[str, ...] = ()
    interface_mtu: int = 0  # 0: do not send option 26
    lease_time: int = 86400  # seconds
    enabled: bool = True
    hosts: tuple[DhcpHost, ...] = ()


declare_binding("Network", "dhcp_ids", OnDelete.CASCADE, "Dhcp", "network_id", OnDelete.CLEAR,
                backref="left")
