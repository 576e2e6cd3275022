"""The interested set: which hosts need a flow's state.

A connection's return packets are simulated wherever they enter the
virtual topology, and its later forward packets wherever *they* enter. The
ingress host knows two such places for sure: the ingress port (forward
packets) and the egress ports (return packets). Operators name the others:
a ``PortGroup`` with ``stateful=True`` (MidoNet's "ingress set", e.g. every
uplink of a provider router, which upstream ECMP may pick for either
direction) makes every member port's host interested whenever one member is
on the path. This mirrors MidoNet's ``PeerResolver``, without its VXLAN
flooding proxies and load-balancer service ports (see doc/flow-state.md).
"""
from __future__ import annotations

import uuid
from collections.abc import Iterable

from midonet_ryu.topology.model import Port, TunnelZone
from midonet_ryu.topology.rules import PortGroup
from midonet_ryu.topology.snapshot import TopologyView


def path_ports(ingress_port_id: uuid.UUID,
               egress_port_ids: Iterable[uuid.UUID]) -> list[uuid.UUID]:
    """The ports a flow touches, ingress first, without duplicates."""
    seen = dict.fromkeys([ingress_port_id, *egress_port_ids])
    return list(seen)


def interested_ports(topology: TopologyView, ports: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """``ports`` plus every member of a stateful port group holding one of them.

    Groups are found through ``Port.port_group_ids``, the back-reference the
    store keeps of ``PortGroup.port_ids``: a lookup per group of the port,
    never a scan of every group.
    """
    ports = list(ports)
    out = set(ports)
    for pid in ports:
        port = topology.get(Port, pid)
        if port is None:
            continue
        for gid in port.port_group_ids:
            group = topology.get(PortGroup, gid)
            if group is not None and group.stateful:
                out.update(group.port_ids)
    return out


def sent_from(topology: TopologyView, local_host_id: uuid.UUID, sender: uuid.UUID,
              source_ip: str) -> bool:
    """True when ``source_ip`` is ``sender``'s address in a tunnel zone this
    host is in: a state packet's self-declared sender must match where it
    came from, or any host (or anything that can reach the underlay) could
    write state under another's name."""
    if sender == local_host_id:
        return False
    for tz in topology.objects(TunnelZone):
        if tz.ip_of(local_host_id) is not None and tz.ip_of(sender) == source_ip:
            return True
    return False


def interested_hosts(topology: TopologyView, ingress_port_id: uuid.UUID,
                     egress_port_ids: Iterable[uuid.UUID],
                     local_host_id: uuid.UUID) -> set[uuid.UUID]:
    """Hosts (other than ``local_host_id``) that must receive the flow's state:
    the hosts of the ingress port, of the egress ports, and of every member of
    a stateful port group containing one of those ports."""
    hosts: set[uuid.UUID] = set()
    for pid in interested_ports(topology, path_ports(ingress_port_id, egress_port_ids)):
        port = topology.get(Port, pid)
        if port is not None and port.host_id is not None:
            hosts.add(port.host_id)
    hosts.discard(local_host_id)
    return hosts
