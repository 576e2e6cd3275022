"""``<noun> list|show|create|set|delete`` for every resource of the API's table.

The commands are classes generated from :data:`midonet_ryu.api.resources.RESOURCES`
(the table the server builds its routes from): the noun from the collection
(``port_groups`` -> ``port-group``), the options from the resource's write
schema (:mod:`midonet_cli.options`), ``--bridge ID`` and the like from its
parents. A resource added to the table gets its commands for free.

An object is named by its id or, when its resource has a ``name``, by that
name: operators think in names, and the id is one ``list`` away when two
objects share one (an ambiguous name is refused, never guessed).

``set`` reads the object and PUTs the whole of it back with the changes,
as MidoNet's client does, with ``If-Match`` set to the ETag it read: a
concurrent change makes the API answer 409 instead of being overwritten.
"""
from __future__ import annotations

import argparse
import uuid
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar, cast

from cliff.command import Command
from cliff.lister import Lister
from cliff.show import ShowOne

from midonet_cli import display
from midonet_cli.client import Client, CliError
from midonet_cli.options import (
    body_from_args,
    command_options,
    noun,
    parent_options,
    put_body,
)
from midonet_ryu.api.resources import RESOURCES, Resource


class LocalCommand(Command):
    """A command of this package: its help has no "provided by the X plugin"
    epilog. cliff finds that out by scanning every installed distribution's
    metadata, which took a fifth of a second of every run."""

    def get_epilog(self) -> str:
        epilog: str | None = getattr(self, "_epilog", None)  # cliff types it None
        return epilog or ""


def client_of(cmd: Command) -> Client:
    """The application's API client (created on first use, so ``help`` needs
    no settings)."""
    client = getattr(cmd.app, "client", None)
    if not isinstance(client, Client):
        raise CliError("this command needs the midonet-cli application")
    return client


def strict(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """No abbreviated options: with generated option sets, a prefix that is
    unique today becomes ambiguous when a field is added."""
    parser.allow_abbrev = False
    return parser


def resolve(client: Client, res: Resource, ref: str) -> str:
    """The id of ``ref``: a UUID as it is, else the one object of ``res``
    with that name."""
    try:
        return str(uuid.UUID(ref))
    except ValueError:
        pass
    what = noun(res.collection)
    if res.field("name") is None:
        raise CliError(f"{ref!r} is not a {what} id (a UUID)")
    matches = [o for o in client.get(res.collection) if o.get("name") == ref]
    if not matches:
        raise CliError(f"no {what} is named {ref!r}")
    if len(matches) > 1:
        raise CliError(f"{len(matches)} {what}s are named {ref!r}: give the id")
    return str(matches[0]["id"])


def add_parent_options(parser: argparse.ArgumentParser, res: Resource, action: str) -> None:
    parents = parent_options(res)
    if not parents:
        return
    group = parser.add_mutually_exclusive_group()
    for p in parents:
        group.add_argument(p.flag, dest=p.dest, metavar="ID", default=None,
                           help=f"{action} under this {noun(p.collection)} "
                                f"({p.collection}/{{id}}/{res.collection})")


def collection_path(client: Client, res: Resource, args: argparse.Namespace) -> str:
    """``<parent>/{id}/<collection>`` when a parent option is given, else the
    top-level collection."""
    for p in parent_options(res):
        ref = getattr(args, p.dest, None)
        if ref:
            return f"{p.collection}/{resolve(client, p.resource, ref)}/{res.collection}"
    return res.collection


def _ref_help(res: Resource) -> str:
    return "name or id" if res.field("name") is not None else "id"


class ResourceList(LocalCommand, Lister):
    resource: ClassVar[Resource]

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = strict(super().get_parser(prog_name))
        add_parent_options(parser, self.resource, "list")
        if self.resource.owner is not None:
            parser.add_argument("--tenant-id", dest="filter_tenant", metavar="TENANT",
                                help="only this tenant's (the API's ?tenant_id=; a port "
                                     "belongs to its device's tenant)")
        parser.add_argument("--long", action="store_true",
                            help="every field, not only the summary columns")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        client = client_of(self)
        params = {}
        if getattr(parsed_args, "filter_tenant", None):
            params["tenant_id"] = parsed_args.filter_tenant
        objs = client.get(collection_path(client, self.resource, parsed_args), params)
        summary = display.summary_columns(self.resource)
        columns = summary
        if parsed_args.long or display.wants_more(parsed_args.columns, summary):
            columns = display.all_columns(self.resource)
        return columns, display.rows(objs, columns)


class ResourceShow(LocalCommand, ShowOne):
    resource: ClassVar[Resource]

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = strict(super().get_parser(prog_name))
        parser.add_argument("ref", metavar=noun(self.resource.collection).upper(),
                            help=_ref_help(self.resource))
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        client = client_of(self)
        obj_id = resolve(client, self.resource, parsed_args.ref)
        return display.shown(self.resource, client.get(f"{self.resource.collection}/{obj_id}"))


class ResourceCreate(LocalCommand, ShowOne):
    resource: ClassVar[Resource]

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = strict(super().get_parser(prog_name))
        parser.usage = "%(prog)s [-h] [options]"  # the option list fills a screen
        add_parent_options(parser, self.resource, "create")
        fields = parser.add_argument_group("fields")
        for opt in command_options(self.resource, creating=True):
            opt.add_to(fields)
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        client = client_of(self)
        body = body_from_args(command_options(self.resource, creating=True), parsed_args)
        created = client.post(collection_path(client, self.resource, parsed_args), body)
        return display.shown(self.resource, created)


class ResourceSet(LocalCommand, ShowOne):
    resource: ClassVar[Resource]

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = strict(super().get_parser(prog_name))
        parser.usage = f"%(prog)s [-h] [options] {noun(self.resource.collection).upper()}"
        parser.add_argument("ref", metavar=noun(self.resource.collection).upper(),
                            help=_ref_help(self.resource))
        fields = parser.add_argument_group("fields")
        for opt in command_options(self.resource, creating=False):
            opt.add_to(fields)
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        changes = body_from_args(command_options(self.resource, creating=False), parsed_args)
        if not changes:
            raise CliError("nothing to change: give at least one field option "
                           f"(see {self.app.NAME} help {self.cmd_name})")
        client = client_of(self)
        path = f"{self.resource.collection}/{resolve(client, self.resource, parsed_args.ref)}"
        current, etag = client.get_with_etag(path)
        updated = client.put(path, put_body(self.resource, current, changes), etag)
        return display.shown(self.resource, updated)


class ResourceDelete(LocalCommand):
    resource: ClassVar[Resource]

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = strict(super().get_parser(prog_name))
        parser.add_argument("refs", nargs="+", metavar=noun(self.resource.collection).upper(),
                            help=_ref_help(self.resource))
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> int:
        """Deletes every one it can and then reports those it could not, so one
        bad id does not leave the rest of a batch undone."""
        client = client_of(self)
        failures = []
        for ref in parsed_args.refs:
            try:
                obj_id = resolve(client, self.resource, ref)
                client.delete(f"{self.resource.collection}/{obj_id}")
            except CliError as e:
                failures.append(f"{ref}: {e}")
        if failures:
            raise CliError("; ".join(failures))
        return 0


def _bound(base: type[Command], res: Resource, description: str) -> type[Command]:
    name = base.__name__.replace("Resource", noun(res.collection).title().replace("-", ""))
    return cast(type[Command], type(name, (base,), {
        "resource": res, "_description": description, "__module__": __name__}))


def _a(word: str) -> str:
    return ("an " if word[:1] in "aeiou" else "a ") + word


def resource_commands(res: Resource) -> dict[str, type[Command]]:
    """The commands of one resource, by command name."""
    n = noun(res.collection)
    under = "".join(f", or under {_a(noun(p.collection))} ({p.collection}/{{id}}/"
                    f"{res.collection})" for p in res.parents)
    out = {
        f"{n} list": _bound(ResourceList, res, f"List {res.collection}{under}."),
        f"{n} show": _bound(ResourceShow, res, f"Show {_a(n)}: GET {res.collection}/{{id}}."),
        f"{n} set": _bound(ResourceSet, res, f"Change fields of {_a(n)}: GET it, then PUT "
                                             "it back with the changes."),
        f"{n} delete": _bound(ResourceDelete, res, f"Delete {n}s: DELETE "
                                                   f"{res.collection}/{{id}}."),
    }
    if res.creatable:
        out[f"{n} create"] = _bound(ResourceCreate, res, f"Create {_a(n)}: POST "
                                                         f"{res.collection}{under}.")
    return out


def all_commands(resources: Iterable[Resource] = RESOURCES) -> dict[str, type[Command]]:
    out: dict[str, type[Command]] = {}
    for res in resources:
        out.update(resource_commands(res))
    return out

