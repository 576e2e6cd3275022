"""Commands for the API's relations and observed state, which are not
objects of the resource table: port bindings (``mm-ctl --bind-port``), port
links, port group members (Ingress Sets), IP address group addresses, tunnel
zone members, the state tables agents learn, host interfaces and the system
state. Each is one or two requests to a sub-resource of
``cluster_proxy/rest_api/memberships.py`` or ``observed.py``.

A relation is described once (:class:`Relation`: its sub-resource, its
arguments, the body an addition sends, the columns of its listing) and its
add, remove and list commands are the generic classes below bound to it.
"""
from __future__ import annotations

import argparse
import dataclasses
import urllib.parse
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, cast

from cliff.command import Command
from cliff.lister import Lister
from cliff.show import ShowOne

from midonet_cli import display
from midonet_cli.client import CliError
from midonet_cli.options import ip_address
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


def _no_links(obj: Any, *links: str) -> Any:
    """A relation's answer without the URIs of its ends: the ids are there,
    and a URI is for programs following it, not for people reading a table."""
    if not isinstance(obj, dict):
        return obj
    return {k: v for k, v in obj.items() if k not in links}


# --- relations --------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Arg:
    """One argument of a relation command: a positional, or a required option
    when ``flag``; an object's name or id (sent as its id) when ``res``."""

    dest: str
    metavar: str
    help: str
    res: Resource | None = None
    flag: bool = False
    type: Callable[[str], str] = str

    def add_to(self, parser: argparse.ArgumentParser) -> None:
        if self.flag:
            parser.add_argument(f"--{self.dest}", required=True, metavar=self.metavar,
                                type=self.type, help=self.help)
        else:
            parser.add_argument(self.dest, metavar=self.metavar, type=self.type, help=self.help)

    def value(self, cmd: Command, parsed_args: argparse.Namespace) -> str:
        text: str = getattr(parsed_args, self.dest)
        return text if self.res is None else _id(cmd, self.res, text)


@dataclasses.dataclass(frozen=True)
class Relation:
    """The sub-resource ``{collection}/{id}/{segment}`` of the object ``owner``
    names.

    ``args`` are what adding takes, in order (``owner`` among them), and
    ``body`` the JSON fields it sends, each from an argument. Removing takes
    ``owner`` and ``member``, whose value ends the DELETE path (no member:
    DELETE the sub-resource itself); with ``owner_field`` it takes the member
    only and reads the owner from that field of the member object, refusing
    with ``unowned`` when it is empty. ``ends`` are the links of an added
    member left out of its display, ``columns`` those of the listing.
    ``add``, ``remove`` and ``listing`` are the commands it has: a command
    name and what the command does.
    """

    segment: str
    args: tuple[Arg, ...]
    owner: str
    body: tuple[tuple[str, str], ...] = ()
    member: str | None = None
    owner_field: str | None = None
    unowned: str = ""
    ends: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()
    add: tuple[str, str] | None = None
    remove: tuple[str, str] | None = None
    listing: tuple[str, str] | None = None

    def arg(self, dest: str) -> Arg:
        return next(a for a in self.args if a.dest == dest)

    @property
    def owner_res(self) -> Resource:
        res = self.arg(self.owner).res
        assert res is not None, "a relation's owner is an object"
        return res

    def path(self, owner_id: str) -> str:
        return f"{self.owner_res.collection}/{owner_id}/{self.segment}"


class _RelationCommand(LocalCommand):
    relation: ClassVar[Relation]

    def arguments(self) -> Sequence[Arg]:
        return self.relation.args

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = strict(super().get_parser(prog_name))
        for arg in self.arguments():
            arg.add_to(parser)
        return parser

    def values(self, parsed_args: argparse.Namespace) -> dict[str, str]:
        """Every argument's value, objects resolved to ids in argument order."""
        return {a.dest: a.value(self, parsed_args) for a in self.arguments()}


class RelationAdd(_RelationCommand, ShowOne):
    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        rel = self.relation
        values = self.values(parsed_args)
        added = client_of(self).post(rel.path(values[rel.owner]),
                                     {field: values[dest] for field, dest in rel.body})
        return display.shown(None, _no_links(added, *rel.ends))


class RelationRemove(_RelationCommand):
    def arguments(self) -> Sequence[Arg]:
        rel = self.relation
        named = {rel.member} if rel.owner_field else {rel.owner, rel.member}
        return [a for a in rel.args if a.dest in named]

    def take_action(self, parsed_args: argparse.Namespace) -> int:
        rel, client = self.relation, client_of(self)
        values = self.values(parsed_args)
        if rel.member is None:
            client.delete(rel.path(values[rel.owner]))
            return 0
        member = rel.arg(rel.member)
        if rel.owner_field:
            values[rel.owner] = self._owner(member, rel.owner_field, values[member.dest])
        key = values[member.dest]  # an id as the API gave it, a value (an address) quoted
        client.delete(f"{rel.path(values[rel.owner])}/"
                      f"{key if member.res else urllib.parse.quote(key, safe='')}")
        return 0

    def _owner(self, member: Arg, field: str, member_id: str) -> str:
        """The owner's id, read from the member object's ``field``."""
        assert member.res is not None, "a member read for its owner is an object"
        obj = client_of(self).get(f"{member.res.collection}/{member_id}")
        if not obj.get(field):
            raise CliError(self.relation.unowned.format(member_id))
        return str(obj[field])


class RelationList(_RelationCommand, Lister):
    def arguments(self) -> Sequence[Arg]:
        return [dataclasses.replace(self.relation.arg(self.relation.owner), flag=False)]

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        rel = self.relation
        owner_id = self.values(parsed_args)[rel.owner]
        return _listing(client_of(self).get(rel.path(owner_id)), rel.columns)


PORT = Arg("port", "PORT", "port name or id", PORTS)
HOST = Arg("host", "HOST", "host name or id", HOSTS, flag=True)

RELATIONS = (
    Relation(
        "ports", (PORT, HOST, Arg("interface", "IFACE",
                                  "the host's interface name (a tap, a veth)", flag=True)),
        owner="host", body=(("portId", "port"), ("interfaceName", "interface")),
        member="port", owner_field="hostId", unowned="port {} is not bound to a host",
        ends=("host", "port"), columns=("portId", "interfaceName", "hostId"),
        add=("port bind", "Bind a port to an interface of a host (as mm-ctl --bind-port)"),
        remove=("port unbind", "Unbind a port from its host"),
        listing=("host binding list", "List the ports bound to a host's interfaces")),
    Relation(
        "link", (PORT, Arg("peer", "PEER", "the other port's name or id", PORTS)),
        owner="port", body=(("peerId", "peer"),), ends=("port", "peer"),
        add=("port link", "Link two ports (making them interior)"),
        remove=("port unlink", "Unlink a port from its peer")),
    Relation(
        "interfaces", (HOST,), owner="host",
        columns=("name", "mac", "mtu", "status", "type", "addresses", "portId"),
        listing=("host interface list", "List the interfaces a host's agent reports")),
    Relation(
        "ports", (Arg("group", "GROUP", "port group name or id", PORT_GROUPS), PORT),
        owner="group", body=(("portId", "port"),), member="port", ends=("port", "portGroup"),
        columns=("portId", "portGroupId"),
        add=("port-group add-member", "Add a port to a port group"),
        remove=("port-group remove-member", "Remove a port from a port group"),
        listing=("port-group member list", "List a port group's ports")),
    Relation(
        "ip_addrs", (Arg("group", "GROUP", "IP address group name or id", IP_ADDR_GROUPS),
                     Arg("addr", "ADDR", "an IPv4 or IPv6 address", type=ip_address)),
        owner="group", body=(("addr", "addr"),), member="addr", ends=("ipAddrGroup",),
        columns=("addr", "version"),
        add=("ip-addr-group add-addr", "Add an address to an IP address group"),
        remove=("ip-addr-group remove-addr", "Remove an address from an IP address group"),
        listing=("ip-addr-group addr list", "List an IP address group's addresses")),
    Relation(
        "hosts", (Arg("zone", "TUNNEL_ZONE", "tunnel zone name or id", TUNNEL_ZONES), HOST,
                  Arg("address", "IP", "the host's underlay IPv4 address in this zone",
                      flag=True)),
        owner="zone", body=(("hostId", "host"), ("ipAddress", "address")), member="host",
        ends=("tunnelZone", "host"), columns=("hostId", "ipAddress"),
        add=("tunnel-zone add-member", "Add a host to a tunnel zone at an underlay address"),
        remove=("tunnel-zone remove-member", "Remove a host from a tunnel zone"),
        listing=("tunnel-zone member list", "List a tunnel zone's hosts and their addresses")),
)


def _bound(name: str, base: type[_RelationCommand], relation: Relation,
           description: str) -> type[Command]:
    """``base`` serving ``relation``, named after the command
    (``port-group add-member``: ``PortGroupAddMember``)."""
    class_name = "".join(w.title() for w in name.replace("-", " ").split())
    return cast(type[Command], type(class_name, (base,), {
        "relation": relation, "_description": description, "__module__": __name__}))


def _slot(name: str | None) -> str:
    return "{" + str(name) + "}"


def relation_commands(rel: Relation) -> dict[str, type[Command]]:
    """The add, remove and list commands of one relation, by command name,
    each described by what it does and the request it makes."""
    each = rel.path(_slot("id"))
    remove = each + (f"/{_slot(rel.member)}" if rel.member else "")
    if rel.owner_field:  # the owner is no argument: say where it comes from
        remove = (f"{rel.path(_slot(rel.owner))}/{_slot(rel.member)}, the {rel.owner}\n"
                  f"read from the {rel.member}")
    out = {}
    for base, command, request in ((RelationAdd, rel.add, f"POST {each}"),
                                   (RelationRemove, rel.remove, f"DELETE {remove}"),
                                   (RelationList, rel.listing, f"GET {each}")):
        if command is not None:
            name, what = command
            out[name] = _bound(name, base, rel, f"{what}: {request}.")
    return out


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
    **{name: cls for rel in RELATIONS for name, cls in relation_commands(rel).items()},
    "state-table show": StateTableShow,
    "system-state show": SystemStateShow,
}
