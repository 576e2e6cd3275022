"""Applying a translation inside one NSDB transaction.

Each Neutron resource is stored at ``<root>/neutron/<collection>/<id>`` with
what its translation applied (:class:`desired.Applied`). An upsert
translates the new version, deletes what the old one owned and the new one
does not, creates or rewrites what differs, removes the old contributions
the new one no longer makes and makes sure every new one is there (so
sending a resource again repairs it); a delete undoes the stored record.
Everything, the stored resource included, is one multi-op: a translation
lands whole or not at all.
"""
from __future__ import annotations

import dataclasses
import ipaddress
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from midonet_ryu.neutron import l2, l3, security
from midonet_ryu.neutron.desired import (
    Applied,
    Contribution,
    Desired,
    DhcpHostEntry,
    GroupMember,
    Ip4Mac,
)
from midonet_ryu.neutron.errors import TranslationError
from midonet_ryu.neutron.ids import as_uuid
from midonet_ryu.neutron.inputs import Inputs, Uplink
from midonet_ryu.nsdb.paths import Paths
from midonet_ryu.nsdb.state_catalogue import IP4_MAC_TABLE, table_path
from midonet_ryu.nsdb.state_node_names import PERSISTENT_VERSION, encode_name
from midonet_ryu.nsdb.store import Transaction
from midonet_ryu.topology import base
from midonet_ryu.topology.base import ModelObject
from midonet_ryu.topology.bindings import bindings_of
from midonet_ryu.topology.dhcp import Dhcp, DhcpHost
from midonet_ryu.topology.model import Port
from midonet_ryu.topology.rules import Chain, IPAddrGroup, IPAddrPorts, Rule

T = TypeVar("T", bound=ModelObject)
Translator = Callable[[dict[str, Any], Inputs], Desired]

TRANSLATORS: dict[str, Translator] = {
    "networks": l2.network,
    "subnets": l2.subnet,
    "ports": l2.port,
    "security_groups": security.security_group,
    "address_groups": security.address_group,
    "routers": l3.router,
    "floatingips": l3.floating_ip,
}
# the order a full sync applies them in: what others reference first
COLLECTIONS = ("networks", "subnets", "address_groups", "security_groups", "routers",
               "ports", "floatingips")


class TxInputs:
    """:class:`Inputs` read through the applying transaction."""

    def __init__(self, tx: Transaction, paths: Paths, hosts: Mapping[str, uuid.UUID],
                 uplinks: Sequence[Uplink]) -> None:
        self.tx, self.paths, self.hosts, self.uplinks = tx, paths, hosts, uplinks

    def stored(self, collection: str, obj_id: uuid.UUID) -> dict[str, Any] | None:
        data = self.tx.node(neutron_path(self.paths, collection, obj_id))
        return json.loads(data) if data else None

    def body(self, collection: str, obj_id: uuid.UUID) -> dict[str, Any] | None:
        record = self.stored(collection, obj_id)
        return record["body"] if record else None

    def find(self, cls: type[T], obj_id: uuid.UUID) -> T | None:
        return self.tx.find(cls, obj_id)


def neutron_path(paths: Paths, collection: str, obj_id: uuid.UUID | None = None) -> str:
    base_path = f"{paths.root}/neutron/{collection}"
    return base_path if obj_id is None else f"{base_path}/{obj_id}"


def translator(collection: str) -> Translator:
    try:
        return TRANSLATORS[collection]
    except KeyError:
        raise TranslationError(f"unknown Neutron collection {collection!r} (known: "
                               f"{', '.join(sorted(TRANSLATORS))})") from None


def upsert(tx: Transaction, inputs: TxInputs, collection: str, body: dict[str, Any]) -> str:
    """Apply ``body``; "created", "updated" or "unchanged" (nothing to write)."""
    translate = translator(collection)
    obj_id = as_uuid(body.get("id"), "id")
    tx.prefetch(nodes=_bodies_read(inputs.paths, collection, obj_id, body))
    record = inputs.stored(collection, obj_id)
    old = Applied.from_json(record["applied"]) if record else Applied()
    new = translate(body, inputs)
    _prefetch(tx, inputs.paths, old, new)
    _apply(tx, inputs.paths, old, new)
    applied = Applied.of(new)
    data = json.dumps({"body": body, "applied": applied.to_json()}, sort_keys=True,
                      separators=(",", ":")).encode()
    path = neutron_path(inputs.paths, collection, obj_id)
    tx.set_node(path, data)
    if record is None:
        return "created"
    # a new revision of the same resource (its timestamps, its status) that
    # translates into the same objects is no change to report
    return "updated" if tx.has_writes(ignoring=path) else "unchanged"


def delete(tx: Transaction, inputs: TxInputs, collection: str, obj_id: uuid.UUID) -> bool:
    """Undo what the stored resource applied; False if there was none."""
    translator(collection)
    record = inputs.stored(collection, obj_id)
    if record is None:
        return False
    _apply(tx, inputs.paths, Applied.from_json(record["applied"]), Desired())
    tx.set_node(neutron_path(inputs.paths, collection, obj_id), None)
    return True


# -- reading ahead -------------------------------------------------------------
# One translation reads a few stored resources, then every object it owns or
# touches: read one by one that is some twenty round trips per port, read
# ahead it is two (ZooKeeper's multiRead).
def _bodies_read(paths: Paths, collection: str, obj_id: uuid.UUID,
                 body: dict[str, Any]) -> list[str]:
    """The stored resources a translation of ``body`` reads (itself included)."""
    out = [neutron_path(paths, collection, obj_id)]
    network = body.get("network_id")
    if isinstance(network, str):
        out.append(f"{neutron_path(paths, 'networks')}/{network}")
    fixed_ips = body.get("fixed_ips")
    for fixed in fixed_ips if isinstance(fixed_ips, list) else ():
        if isinstance(fixed, dict) and isinstance(fixed.get("subnet_id"), str):
            out.append(f"{neutron_path(paths, 'subnets')}/{fixed['subnet_id']}")
    return out


def _prefetch(tx: Transaction, paths: Paths, old: Applied, new: Desired) -> None:
    objects: list[tuple[str, uuid.UUID]] = list(old.owned)
    for obj in new.objects:
        objects.append((obj.kind, obj.id))
        for end in bindings_of(obj.kind):  # what creating or updating it links to
            objects.extend((end.other_kind, ref) for ref in base.ref_ids(getattr(obj, end.field)))
    nodes = []
    for c in (*old.contributions, *new.contributions):
        if isinstance(c, DhcpHostEntry):
            objects.append((Dhcp.kind, c.dhcp_id))
        elif isinstance(c, GroupMember):
            objects.append((IPAddrGroup.kind, c.group_id))
        elif isinstance(c, Ip4Mac):
            nodes.append(_ip4_mac_path(paths, c))
    tx.prefetch(objects, nodes)


# -- applying ------------------------------------------------------------------
def _apply(tx: Transaction, paths: Paths, old: Applied, new: Desired) -> None:
    wanted = {(o.kind, o.id) for o in new.objects}
    for contribution in old.contributions - new.contributions:
        _contribute(tx, paths, contribution, present=False)
    for kind, obj_id in reversed(old.owned):
        if (kind, obj_id) not in wanted:
            tx.delete(kind, obj_id, missing_ok=True)
    for obj in new.objects:
        _put(tx, obj, new.kept.get(obj.id, ()))
    _order_rules(tx, new.objects)
    for contribution in sorted(new.contributions, key=repr):
        _contribute(tx, paths, contribution, present=True)


def _maintained(kind: str) -> tuple[str, ...]:
    return tuple(end.field for end in bindings_of(kind) if end.maintained)


def _put(tx: Transaction, obj: ModelObject, kept: tuple[str, ...]) -> None:
    if isinstance(obj, Port) and obj.peer_id and tx.find(Port, obj.peer_id) is None:
        # linked when its peer is created (the link is kept on both sides):
        # a bridge port made a router's interface is updated before the
        # router's side of it exists
        obj = obj.replace(peer_id=None)
    actual = tx.find(type(obj), obj.id)
    if actual is None:
        tx.create(obj)
        return
    keep = {name: getattr(actual, name) for name in (*_maintained(obj.kind), *kept)}
    candidate = obj.replace(**keep)
    if candidate != actual:
        tx.update(candidate)


def _order_rules(tx: Transaction, objects: list[ModelObject]) -> None:
    """A chain this translation fills holds its rules in the translation's order."""
    order: dict[uuid.UUID, list[uuid.UUID]] = {}
    for obj in objects:
        if isinstance(obj, Rule) and obj.chain_id is not None:
            order.setdefault(obj.chain_id, []).append(obj.id)
    owned_chains = {o.id for o in objects if isinstance(o, Chain)}
    for chain_id, rules in order.items():
        if chain_id not in owned_chains:
            continue
        chain = tx.get(Chain, chain_id)
        if chain.rule_ids != tuple(rules) and set(chain.rule_ids) == set(rules):
            tx.update(chain.replace(rule_ids=tuple(rules)))


def _contribute(tx: Transaction, paths: Paths, c: Contribution, present: bool) -> None:
    if isinstance(c, DhcpHostEntry):
        dhcp = tx.find(Dhcp, c.dhcp_id)
        if dhcp is None:
            return  # the subnet is gone, and its hosts with it
        host = DhcpHost(c.mac, c.ip, c.name)
        others = tuple(h for h in dhcp.hosts
                       if (h.mac.lower(), h.ip_address) != (c.mac.lower(), c.ip))
        hosts = (*others, host) if present else others
        if set(hosts) != set(dhcp.hosts):
            tx.update(dhcp.replace(hosts=hosts))
    elif isinstance(c, GroupMember):
        group = tx.find(IPAddrGroup, c.group_id)
        if group is None:
            if present:
                raise TranslationError(f"security group {c.group_id} is unknown")
            return
        members = _members(group.ip_addr_ports, c, present)
        if members != group.ip_addr_ports:
            tx.update(group.replace(ip_addr_ports=members))
    elif isinstance(c, Ip4Mac):
        path = _ip4_mac_path(paths, c)
        exists = tx.node(path) is not None
        if present and not exists:
            tx.set_node(path, b"")
        elif not present and exists:
            tx.set_node(path, None)


def _ip4_mac_path(paths: Paths, c: Ip4Mac) -> str:
    name = encode_name(IP4_MAC_TABLE, ipaddress.IPv4Address(c.ip), c.mac.lower(),
                       PERSISTENT_VERSION)
    return f"{table_path(paths, IP4_MAC_TABLE, c.network_id)}/{name}"


def _members(members: tuple[IPAddrPorts, ...], c: GroupMember,
             present: bool) -> tuple[IPAddrPorts, ...]:
    out = []
    found = False
    for entry in members:
        if entry.ip_address == c.ip:
            found = True
            ports = tuple(p for p in entry.port_ids if p != c.port_id)
            if present:
                ports = (*ports, c.port_id)
            if ports:
                out.append(dataclasses.replace(entry, port_ids=ports))
        else:
            out.append(entry)
    if present and not found:
        out.append(IPAddrPorts(c.ip, (c.port_id,)))
    return tuple(out)


# -- full sync -----------------------------------------------------------------
Attempt = Callable[[Callable[[TxInputs], Any]], Any]


def full_sync(attempt: Attempt, stored_ids: Callable[[str], list[uuid.UUID]],
              given: Mapping[str, Sequence[Any]]) -> dict[str, list[Any]]:
    """Make the NSDB hold the translation of exactly ``given`` (every resource
    Neutron has): resources missing or different are applied again, stored
    ones Neutron no longer has are deleted. ``attempt(fn)`` runs ``fn`` in a
    transaction of its own (committed, or not in a dry run)."""
    unknown = set(given) - set(TRANSLATORS)
    if unknown:
        raise TranslationError(f"unknown Neutron collections: {', '.join(sorted(unknown))}")
    report: dict[str, list[Any]] = {"created": [], "updated": [], "deleted": [], "failed": []}
    for collection in COLLECTIONS:
        for body in given.get(collection, ()):
            label = body.get("id") if isinstance(body, dict) else repr(body)
            name = f"{collection}/{label}"

            def put(inputs: TxInputs, c: str = collection, b: Any = body) -> str:
                if not isinstance(b, dict):
                    raise TranslationError("a resource must be a JSON object")
                return upsert(inputs.tx, inputs, c, b)

            try:
                outcome = attempt(put)
            except (TranslationError, ValueError, KeyError, TypeError) as e:
                report["failed"].append({"resource": name, "error": str(e)})
                continue
            if outcome != "unchanged":
                report[outcome].append(name)
    for collection in reversed(COLLECTIONS):
        keep = {str(b.get("id")) for b in given.get(collection, ()) if isinstance(b, dict)}
        for obj_id in stored_ids(collection):
            if str(obj_id) in keep:
                continue

            def drop(inputs: TxInputs, c: str = collection, i: uuid.UUID = obj_id) -> bool:
                return delete(inputs.tx, inputs, c, i)

            if attempt(drop):
                report["deleted"].append(f"{collection}/{obj_id}")
    return report
