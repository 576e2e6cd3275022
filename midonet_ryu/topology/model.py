"""Core topology classes: networks (bridges), ports, hosts and tunnel zones.

Field names follow MidoNet's topology.proto so the mapping is obvious. Fields
ending in ``_ids`` that another class's binding points at are back-references
maintained by the store: callers never write them directly.
"""
from __future__ import annotations

import enum
import uuid
from typing import Annotated

from midonet_ryu.topology.base import ModelObject, model, value
from midonet_ryu.topology.bindings import OnDelete, declare_binding
from midonet_ryu.topology.types import Bounds, Cidr, IPv4, Mac, Name, TenantId, VlanId, Weight

UUIDs = tuple[uuid.UUID, ...]


@model
class Network(ModelObject):
    """A virtual L2 network, simulated as a MAC-learning bridge."""

    name: Name = ""
    tenant_id: TenantId = ""
    admin_state_up: bool = True
    inbound_filter_id: uuid.UUID | None = None
    outbound_filter_id: uuid.UUID | None = None
    port_ids: UUIDs = ()  # back-reference of Port.network_id
    dhcp_ids: UUIDs = ()  # back-reference of Dhcp.network_id


@model
class Port(ModelObject):
    """A port of a network or a router.

    Exterior when bound to a host (``host_id``; the interface is found by
    ``interface_name``, or by OVS ``external_ids:iface-id`` equal to the port
    id when the name is unset, as OpenStack binds), interior when linked to a
    peer port (``peer_id``).
    """

    name: Name = ""
    admin_state_up: bool = True
    network_id: uuid.UUID | None = None
    router_id: uuid.UUID | None = None
    peer_id: uuid.UUID | None = None
    host_id: uuid.UUID | None = None
    interface_name: Annotated[str, Bounds(1, 255)] | None = None
    inbound_filter_id: uuid.UUID | None = None
    outbound_filter_id: uuid.UUID | None = None
    port_group_ids: UUIDs = ()
    # bridge ports: the VLAN this port carries untagged (None: trunk/untagged)
    vlan_id: VlanId | None = None
    # router ports
    port_address: IPv4 | None = None
    port_subnet: Cidr | None = None
    port_mac: Mac | None = None
    route_ids: UUIDs = ()  # back-reference of Route.next_hop_port_id

    @property
    def is_exterior(self) -> bool:
        return self.host_id is not None

    @property
    def is_interior(self) -> bool:
        return self.peer_id is not None


@model
class Host(ModelObject):
    """A hypervisor or gateway running an agent."""

    name: Name = ""
    flooding_proxy_weight: Weight = 1
    tunnel_zone_ids: UUIDs = ()  # back-reference of TunnelZone.host_ids
    port_ids: UUIDs = ()  # back-reference of Port.host_id


class TunnelZoneType(enum.Enum):
    GRE = "gre"
    VXLAN = "vxlan"
    VTEP = "vtep"


@value
class HostToIp:
    """A member of a tunnel zone and its underlay address in that zone."""

    host_id: uuid.UUID
    ip: IPv4


@model
class TunnelZone(ModelObject):
    """Hosts that reach each other over one encapsulation."""

    name: Name = ""
    type: TunnelZoneType = TunnelZoneType.VXLAN
    hosts: tuple[HostToIp, ...] = ()
    host_ids: UUIDs = ()

    def ip_of(self, host_id: uuid.UUID) -> str | None:
        for member in self.hosts:
            if member.host_id == host_id:
                return member.ip
        return None


declare_binding("Network", "port_ids", OnDelete.CASCADE, "Port", "network_id", OnDelete.CLEAR,
                backref="left")
declare_binding("Host", "port_ids", OnDelete.CLEAR, "Port", "host_id", OnDelete.CLEAR,
                backref="left")
declare_binding("Port", "peer_id", OnDelete.CLEAR, "Port", "peer_id", OnDelete.CLEAR)
declare_binding("TunnelZone", "host_ids", OnDelete.CLEAR, "Host", "tunnel_zone_ids",
                OnDelete.CLEAR, backref="right")
