"""Where each virtual port is, seen from this host: the translation's input.

A port bound here is an OpenFlow port of the integration bridge; a port bound
elsewhere is a tunnel to its host's underlay address with that port's key; a
port nobody serves is nowhere (its outputs are skipped). The shell feeds the
OVSDB interfaces, the remote ports' published locations and the hosts that
are down (a down host's ports are nowhere too); :meth:`sync`
says which bindings changed, so the shell does the OVSDB and ZooKeeper
writes and the flow setup installs or removes the flows.
"""
from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable, Mapping, Set

from midonet_ryu.datapath.local_ports import Interface, LocalBinding, desired_bindings
from midonet_ryu.datapath.translate import LocalPort, RemotePort
from midonet_ryu.topology.model import Port, TunnelZone
from midonet_ryu.topology.snapshot import TopologyView

TUNNEL_INTERFACE_TYPES = {"vxlan": "tun-vxlan", "gre": "tun-gre"}
VM_INTERFACE_TYPES = frozenset({"", "system", "internal", "dummy", "tap"})


@dataclasses.dataclass(frozen=True, slots=True)
class BindingChanges:
    """What a sync changed; the shell acts on it in this order."""

    tunnels_changed: bool
    unbound: tuple[LocalBinding, ...]
    bound: tuple[LocalBinding, ...]
    # ports now bound to another host, (port, host), and ports no longer bound
    # to another host: what the shell starts and stops watching
    remote_moved: tuple[tuple[uuid.UUID, uuid.UUID], ...]
    remote_gone: tuple[uuid.UUID, ...]
    mac_tables_wanted: tuple[tuple[uuid.UUID, int | None], ...]  # (network, vlan)


class PortMap:
    def __init__(self, host_id: uuid.UUID, topology: TopologyView,
                 remote_active: Mapping[uuid.UUID, tuple[uuid.UUID, int]],
                 down_hosts: Set[uuid.UUID] = frozenset()) -> None:
        self.host_id = host_id
        self.topology = topology
        # port -> (host, tunnel key) and the hosts that are down, kept
        # current by the shell's watches
        self.remote_active = remote_active
        self.down_hosts = down_hosts
        self.bindings: dict[uuid.UUID, LocalBinding] = {}
        self.ofport_to_port: dict[int, uuid.UUID] = {}
        self.tunnel_ofports: dict[str, int] = {}  # tunnel type -> ofport
        self.remote_hosts: dict[uuid.UUID, uuid.UUID] = {}  # port bound elsewhere -> host

    def host_underlay_ip(self, host_id: uuid.UUID) -> str | None:
        """The address tunnels to ``host_id`` go to (a tunnel zone shared with it)."""
        tunnel = self._tunnel_to(host_id)
        return None if tunnel is None else tunnel[0]

    def state_sources(self) -> frozenset[tuple[int, str]]:
        """(tunnel ofport, underlay IP) of every other member of each tunnel
        zone this host is in: the only senders of flow state it accepts, on
        the tunnel port of that zone's type."""
        out = set()
        own = self.host_id
        for tz in self.topology.objects(TunnelZone):
            ofport = self.tunnel_ofports.get(tz.type.value)
            if ofport is None or tz.ip_of(own) is None:
                continue
            for member in tz.hosts:
                if member.host_id != own:
                    out.add((ofport, member.ip))
        return frozenset(out)

    def locate(self, port_id: uuid.UUID) -> LocalPort | RemotePort | None:
        binding = self.bindings.get(port_id)
        if binding is not None:
            return LocalPort(binding.ofport)
        active = self.remote_active.get(port_id)
        if active is None:
            return None
        host_id, key = active
        if host_id in self.down_hosts:
            return None
        tunnel = self._tunnel_to(host_id)
        return None if tunnel is None else RemotePort(tunnel[1], key, tunnel[0])

    def locating(self, port_id: uuid.UUID) -> bool:
        """Bound to another host by the topology, but not followed yet (the
        shell starts watching its location at the next sync): not located
        *yet*, which is not the same as nowhere."""
        if port_id in self.bindings or port_id in self.remote_hosts:
            return False
        port = self.topology.get(Port, port_id)
        return port is not None and port.host_id is not None and port.host_id != self.host_id

    def _tunnel_to(self, host_id: uuid.UUID) -> tuple[str, int] | None:
        """(underlay IP, tunnel ofport) of the first tunnel zone this host
        shares with ``host_id`` whose tunnel type has a port here."""
        for tz in self.topology.objects(TunnelZone):
            if tz.ip_of(self.host_id) is None:
                continue
            ip = tz.ip_of(host_id)
            ofport = self.tunnel_ofports.get(tz.type.value)
            if ip is not None and ofport is not None:
                return ip, ofport
        return None

    def sync(self, interfaces: Iterable[Interface],
             changed_ports: Iterable[uuid.UUID] | None = None) -> BindingChanges:
        """Compare the NSDB's bindings with the bridge's interfaces and apply
        the difference to this map.

        Local bindings cost the host's own ports; remote ones are followed
        from ``changed_ports`` (the ports the topology changed since the last
        sync), so a periodic sync never walks a big bridge's ports. ``None``
        looks at every port: the first sync, and after a lost session."""
        ifaces = list(interfaces)
        tunnels = {ttype: i.ofport for ttype, name in TUNNEL_INTERFACE_TYPES.items()
                   for i in ifaces if i.name == name and i.ofport > 0}
        tunnels_changed = tunnels != self.tunnel_ofports
        self.tunnel_ofports = tunnels
        usable = [i for i in ifaces if i.type in VM_INTERFACE_TYPES]
        current_keys = {pid: b.tunnel_key for pid, b in self.bindings.items()}
        desired = desired_bindings(self.topology, self.host_id, usable, current_keys)
        unbound = [old for pid, old in self.bindings.items() if desired.get(pid) != old]
        for old in unbound:
            del self.bindings[old.port_id]
            if self.ofport_to_port.get(old.ofport) == old.port_id:
                del self.ofport_to_port[old.ofport]
        bound = [b for pid, b in desired.items() if self.bindings.get(pid) != b]
        for b in bound:
            self.bindings[b.port_id] = b
            self.ofport_to_port[b.ofport] = b.port_id
        moved, gone = self._remote_changes(changed_ports)
        tables: list[tuple[uuid.UUID, int | None]] = []
        for binding in self.bindings.values():
            port = self.topology.get(Port, binding.port_id)
            if port is not None and port.network_id is not None:
                tables.append((port.network_id, port.vlan_id))
        return BindingChanges(tunnels_changed, tuple(unbound), tuple(bound), moved, gone,
                              tuple(dict.fromkeys(tables)))

    def _remote_changes(self, changed_ports: Iterable[uuid.UUID] | None
                        ) -> tuple[tuple[tuple[uuid.UUID, uuid.UUID], ...], tuple[uuid.UUID, ...]]:
        if changed_ports is None:
            now = {p.id: p.host_id for p in self.topology.objects(Port)
                   if p.host_id is not None and p.host_id != self.host_id}
            moved = tuple((p, h) for p, h in now.items() if self.remote_hosts.get(p) != h)
            gone = tuple(p for p in self.remote_hosts if p not in now)
            self.remote_hosts = now
            return moved, gone
        moved_l: list[tuple[uuid.UUID, uuid.UUID]] = []
        gone_l: list[uuid.UUID] = []
        for port_id in changed_ports:
            port = self.topology.get(Port, port_id)
            host = None if port is None or port.host_id == self.host_id else port.host_id
            if host == self.remote_hosts.get(port_id):
                continue
            if host is None:
                del self.remote_hosts[port_id]
                gone_l.append(port_id)
            else:
                self.remote_hosts[port_id] = host
                moved_l.append((port_id, host))
        return tuple(moved_l), tuple(gone_l)

    def still_bound_here(self, port_id: uuid.UUID) -> bool:
        """Whether the NSDB still binds ``port_id`` to this host (an unbound
        port whose binding stayed keeps its published location)."""
        port = self.topology.get(Port, port_id)
        return port is not None and port.host_id == self.host_id
