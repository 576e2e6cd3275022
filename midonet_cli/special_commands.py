"""Commands for the API's relations and observed state, which are not
objects of the resource table: port bindings (``mm-ctl --bind-port``), port
links, port group members (Ingress Sets), IP address group addresses, tunnel
zone members, the state tables agents learn, host interfaces and the system
state. Each is one or two requests to a sub-resource of
``cluster_proxy/rest_api/memberships.py`` or ``observed.py``.
"""
from __future__ import annotations

import argparse
import ipaddress
import urllib.parse
from collections.abc import Sequence
from typing import Any

from cliff.command import Command
from cliff.lister import Lister
from cliff.show import ShowOne

from midonet_cli import display
from midonet_cli.client import CliError
from midonet_cli.resource_commands import LocalCommand, client_of, resolve, strict
from midonet_ryu.api.resources import BY_COLLECTION, Resource

PORTS = BY_COLLECTION["ports"]
HOSTS = BY_COLLECTION["hosts"]
PORT_GROUPS = BY_COLLECTION["port_groups"]
IP_ADDR_GROUPS = BY_COLLECTION["ip_addr_groups"]
TUNNEL_ZONES = BY_COLLECTION["tunnel_zones"]
BRIDGES = BY_COLLECTION["bridges"]
ROUTERS = BY_COLLECTION["routers"]


def _id(cmd: Command, res: Resource, ref: str) -> str:
    return resolve(client_of(cmd), res, ref)


def _listing(objs: Any, columns: Sequence[str]) -> tuple[Sequence[str], Any]:
    return columns, display.rows(objs or [], columns)


# --- port bindings and links ----------------------------------------------------------

class PortBind(LocalCommand, ShowOne):
    """Bind a port to an interface of a host (as mm-ctl --bind-port): POST hosts/{id}/ports."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = strict(super().get_parser(prog_name))
        parser.add_argument("port", metavar="PORT", help="port name or id")
        parser.add_argument("--host", required=True, metavar="HOST", help="host name or id")
        parser.add_argument("--interface", required=True, metavar="IFACE",
                            help="the host's interface name (a tap, a veth)")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        port = _id(self, PORTS, parsed_args.port)
        host = _id(self, HOSTS, parsed_args.host)
        binding = client_of(self).post(f"hosts/{host}/ports",
                                       {"portId": port, "interfaceName": parsed_args.interface})
        return display.shown(None, _no_links(binding, "host", "port"))


class PortUnbind(LocalCommand):
    """Unbind a port from its host: DELETE hosts/{host}/ports/{port}, the host
    read from the port."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = strict(super().get_parser(prog_name))
        parser.add_argument("port", metavar="PORT", help="port name or id")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> int:
        client = client_of(self)
        port_id = resolve(client, PORTS, parsed_args.port)
        port = client.get(f"ports/{port_id}")
        if not port.get("hostId"):
            raise CliError(f"port {port_id} is not bound to a host")
        client.delete(f"hosts/{port['hostId']}/ports/{port_id}")
        return 0


class PortLink(LocalCommand, ShowOne):
    """Link two ports (making them interior): POST ports/{id}/link."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = strict(super().get_parser(prog_name))
        parser.add_argument("port", metavar="PORT", help="port name or id")
        parser.add_argument("peer", metavar="PEER", help="the other port's name or id")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        port = _id(self, PORTS, parsed_args.port)
        peer = _id(self, PORTS, parsed_args.peer)
        link = client_of(self).post(f"ports/{port}/link", {"peerId": peer})
        return display.shown(None, _no_links(link, "port", "peer"))


class PortUnlink(LocalCommand):
    """Unlink a port from its peer: DELETE ports/{id}/link."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = strict(super().get_parser(prog_name))
        parser.add_argument("port", metavar="PORT", help="port name or id")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> int:
        client_of(self).delete(f"ports/{_id(self, PORTS, parsed_args.port)}/link")
        return 0


def _no_links(obj: Any, *links: str) -> Any:
    """A relation's answer without the URIs of its ends: the ids are there,
    and a URI is for programs following it, not for people reading a table."""
    if not isinstance(obj, dict):
        return obj
    return {k: v for k, v in obj.items() if k not in links}


class HostBindingList(LocalCommand, Lister):
    """List the ports bound to a host's interfaces: GET hosts/{id}/ports."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = strict(super().get_parser(prog_name))
        parser.add_argument("host", metavar="HOST", help="host name or id")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        host = _id(self, HOSTS, parsed_args.host)
        return _listing(client_of(self).get(f"hosts/{host}/ports"),
                        ("portId", "interfaceName", "hostId"))


class HostInterfaceList(LocalCommand, Lister):
    """List the interfaces a host's agent reports: GET hosts/{id}/interfaces."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = strict(super().get_parser(prog_name))
        parser.add_argument("host", metavar="HOST", help="host name or id")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        host = _id(self, HOSTS, parsed_args.host)
        return _listing(client_of(self).get(f"hosts/{host}/interfaces"),
                        ("name", "mac", "mtu", "status", "type", "addresses", "portId"))


# --- port groups (Ingress Sets) -----------------------------------------------------

class _GroupMember(LocalCommand):
    """A relation command taking a group then a member."""

    group_res: Resource = PORT_GROUPS

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = strict(super().get_parser(prog_name))
        parser.add_argument("group", metavar="GROUP", help="port group name or id")
        parser.add_argument("port", metavar="PORT", help="port name or id")
        return parser


class PortGroupAddMember(_GroupMember, ShowOne):
    """Add a port to a port group: POST port_groups/{id}/ports."""

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        group = _id(self, PORT_GROUPS, parsed_args.group)
        port = _id(self, PORTS, parsed_args.port)
        member = client_of(self).post(f"port_groups/{group}/ports", {"portId": port})
        return display.shown(None, _no_links(member, "port", "portGroup"))


class PortGroupRemoveMember(_GroupMember):
    """Remove a port from a port group: DELETE port_groups/{id}/ports/{port}."""

    def take_action(self, parsed_args: argparse.Namespace) -> int:
        group = _id(self, PORT_GROUPS, parsed_args.group)
        port = _id(self, PORTS, parsed_args.port)
        client_of(self).delete(f"port_groups/{group}/ports/{port}")
        return 0


class PortGroupMemberList(LocalCommand, Lister):
    """List a port group's ports: GET port_groups/{id}/ports."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = strict(super().get_parser(prog_name))
        parser.add_argument("group", metavar="GROUP", help="port group name or id")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        group = _id(self, PORT_GROUPS, parsed_args.group)
        return _listing(client_of(self).get(f"port_groups/{group}/ports"),
                        ("portId", "portGroupId"))


# --- IP address groups --------------------------------------------------------------

def _address(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an IP address") from None


class _GroupAddr(LocalCommand):
    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = strict(super().get_parser(prog_name))
        parser.add_argument("group", metavar="GROUP", help="IP address group name or id")
        parser.add_argument("addr", metavar="ADDR", type=_address, help="an IPv4 or IPv6 address")
        return parser


class IpAddrGroupAddAddr(_GroupAddr, ShowOne):
    """Add an address to an IP address group: POST ip_addr_groups/{id}/ip_addrs."""

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        group = _id(self, IP_ADDR_GROUPS, parsed_args.group)
        addr = client_of(self).post(f"ip_addr_groups/{group}/ip_addrs",
                                    {"addr": parsed_args.addr})
        return display.shown(None, _no_links(addr, "ipAddrGroup"))


class IpAddrGroupRemoveAddr(_GroupAddr):
    """Remove an address from an IP address group: DELETE ip_addr_groups/{id}/ip_addrs/{addr}."""

    def take_action(self, parsed_args: argparse.Namespace) -> int:
        group = _id(self, IP_ADDR_GROUPS, parsed_args.group)
        addr = urllib.parse.quote(parsed_args.addr, safe="")
        client_of(self).delete(f"ip_addr_groups/{group}/ip_addrs/{addr}")
        return 0


class IpAddrGroupAddrList(LocalCommand, Lister):
    """List an IP address group's addresses: GET ip_addr_groups/{id}/ip_addrs."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = strict(super().get_parser(prog_name))
        parser.add_argument("group", metavar="GROUP", help="IP address group name or id")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        group = _id(self, IP_ADDR_GROUPS, parsed_args.group)
        return _listing(client_of(self).get(f"ip_addr_groups/{group}/ip_addrs"),
                        ("addr", "version"))


# --- tunnel zones ---------------------------------------------------------------------

class TunnelZoneAddMember(LocalCommand, ShowOne):
    """Add a host to a tunnel zone at an underlay address: POST tunnel_zones/{id}/hosts."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = strict(super().get_parser(prog_name))
        parser.add_argument("zone", metavar="TUNNEL_ZONE", help="tunnel zone name or id")
        parser.add_argument("--host", required=True, metavar="HOST", help="host name or id")
        parser.add_argument("--address", required=True, metavar="IP",
                            help="the host's underlay IPv4 address in this zone")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        zone = _id(self, TUNNEL_ZONES, parsed_args.zone)
        host = _id(self, HOSTS, parsed_args.host)
        member = client_of(self).post(f"tunnel_zones/{zone}/hosts",
                                      {"hostId": host, "ipAddress": parsed_args.address})
        return display.shown(None, _no_links(member, "tunnelZone", "host"))


class TunnelZoneRemoveMember(LocalCommand):
    """Remove a host from a tunnel zone: DELETE tunnel_zones/{id}/hosts/{host}."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = strict(super().get_parser(prog_name))
        parser.add_argument("zone", metavar="TUNNEL_ZONE", help="tunnel zone name or id")
        parser.add_argument("--host", required=True, metavar="HOST", help="host name or id")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> int:
        zone = _id(self, TUNNEL_ZONES, parsed_args.zone)
        host = _id(self, HOSTS, parsed_args.host)
        client_of(self).delete(f"tunnel_zones/{zone}/hosts/{host}")
        return 0


class TunnelZoneMemberList(LocalCommand, Lister):
    """List a tunnel zone's hosts and their addresses: GET tunnel_zones/{id}/hosts."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = strict(super().get_parser(prog_name))
        parser.add_argument("zone", metavar="TUNNEL_ZONE", help="tunnel zone name or id")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        zone = _id(self, TUNNEL_ZONES, parsed_args.zone)
        return _listing(client_of(self).get(f"tunnel_zones/{zone}/hosts"),
                        ("hostId", "ipAddress"))


# --- observed state -------------------------------------------------------------------

# (device option, table) -> (URI segment, columns)
STATE_TABLES: dict[tuple[str, str], tuple[str, tuple[str, ...]]] = {
    ("bridge", "mac"): ("mac_table", ("macAddr", "portId", "vlanId")),
    ("bridge", "ip4mac"): ("arp_table", ("ip", "mac")),
    ("router", "arp"): ("arp_table", ("ip", "mac", "expiry", "stale")),
}
_DEFAULT_TABLE = {"bridge": "mac", "router": "arp"}


class StateTableShow(LocalCommand, Lister):
    """Show a state table the agents learn: a bridge's MAC table (mac) or
    IP-to-MAC table (ip4mac), a router's ARP table (arp)."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = strict(super().get_parser(prog_name))
        device = parser.add_mutually_exclusive_group(required=True)
        device.add_argument("--bridge", metavar="BRIDGE", help="bridge name or id")
        device.add_argument("--router", metavar="ROUTER", help="router name or id")
        parser.add_argument("--table", choices=sorted({t for _, t in STATE_TABLES}),
                            help="mac (default) or ip4mac for a bridge, arp for a router")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        kind, res = ("bridge", BRIDGES) if parsed_args.bridge else ("router", ROUTERS)
        table = parsed_args.table or _DEFAULT_TABLE[kind]
        if (kind, table) not in STATE_TABLES:
            allowed = ", ".join(t for k, t in STATE_TABLES if k == kind)
            raise CliError(f"a {kind} has no {table} table (it has: {allowed})")
        segment, columns = STATE_TABLES[(kind, table)]
        device = _id(self, res, parsed_args.bridge or parsed_args.router)
        return _listing(client_of(self).get(f"{res.collection}/{device}/{segment}"), columns)


class SystemStateShow(LocalCommand, ShowOne):
    """Show whether the cluster takes writes: GET system_state."""

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        return display.shown(None, client_of(self).get("system_state"))


COMMANDS: dict[str, type[Command]] = {
    "port bind": PortBind,
    "port unbind": PortUnbind,
    "port link": PortLink,
    "port unlink": PortUnlink,
    "host binding list": HostBindingList,
    "host interface list": HostInterfaceList,
    "port-group add-member": PortGroupAddMember,
    "port-group remove-member": PortGroupRemoveMember,
    "port-group member list": PortGroupMemberList,
    "ip-addr-group add-addr": IpAddrGroupAddAddr,
    "ip-addr-group remove-addr": IpAddrGroupRemoveAddr,
    "ip-addr-group addr list": IpAddrGroupAddrList,
    "tunnel-zone add-member": TunnelZoneAddMember,
    "tunnel-zone remove-member": TunnelZoneRemoveMember,
    "tunnel-zone member list": TunnelZoneMemberList,
    "state-table show": StateTableShow,
    "system-state show": SystemStateShow,
}
