"""Which tenant owns an object, and what a caller may do with it.

Bridges, routers, chains, port groups and IP address groups carry their
``tenantId``; ports, rules, routes and load-balancing objects belong to the
tenant of the device they hang off (followed through the resource's
``owner`` attributes); hosts and tunnel zones are infrastructure, for
admins only. A tenant user touching another tenant's object gets 403, and
an object it creates without a ``tenantId`` becomes its own.
"""
from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol

import webob

from cluster_proxy.rest_api.errors import forbidden
from midonet_ryu.api.resources import BY_KIND, READ_REFERENCES, Resource
from midonet_ryu.nsdb.store import Transaction

if TYPE_CHECKING:
    from cluster_proxy.rest_api.reads import Reads
from midonet_ryu.topology.base import ModelObject, ref_ids
from midonet_ryu.topology.bindings import bindings_of

IDENTITY_KEY = "midonet.identity"

# reference attribute -> the resource it points at
_ATTR_KIND = {"network_id": "Network", "router_id": "Router", "chain_id": "Chain",
              "pool_id": "Pool", "load_balancer_id": "LoadBalancer"}


class Finder(Protocol):
    """Anything objects are read from: the API's reads, a transaction."""

    def find(self, cls: Any, obj_id: uuid.UUID) -> Any: ...


class Caller(Protocol):
    @property
    def tenant_id(self) -> str | None: ...

    @property
    def is_admin(self) -> bool: ...


@dataclasses.dataclass(frozen=True)
class _Admin:
    tenant_id: str | None = None
    is_admin: bool = True


NOAUTH_ADMIN = _Admin()


def caller_of(req: webob.Request) -> Caller:
    """The authenticated caller; an app served without the auth middleware
    (``[auth] strategy = noauth``, unit tests) runs every request as admin."""
    identity: Any = req.environ.get(IDENTITY_KEY)
    return identity if identity is not None else NOAUTH_ADMIN


class Ownership:
    def __init__(self, reads: Reads) -> None:
        self.store = reads

    def tenant_of(self, res: Resource, obj: ModelObject,
                  reader: Finder | None = None,
                  memo: dict[tuple[str, uuid.UUID], str | None] | None = None) -> str | None:
        """The owning tenant ("" when unset), None for infrastructure."""
        if res.owner is None:
            return None
        if isinstance(res.owner, str):
            owner: str = getattr(obj, res.owner)
            return owner
        reader = reader or self.store
        for attr in res.owner:
            parent_id = getattr(obj, attr, None)
            if parent_id is None:
                continue
            kind = _ATTR_KIND[attr]
            key = (kind, parent_id)
            if memo is not None and key in memo:
                return memo[key]
            parent_res = BY_KIND[kind]
            parent = reader.find(parent_res.cls, parent_id)
            tenant = "" if parent is None else self.tenant_of(parent_res, parent, reader, memo)
            if memo is not None:
                memo[key] = tenant
            return tenant
        return ""

    def check(self, caller: Caller, res: Resource, obj: ModelObject,
              write: bool = False, reader: Finder | None = None) -> None:
        if caller.is_admin:
            return
        tenant = self.tenant_of(res, obj, reader)
        if tenant is None:
            raise forbidden(f"{res.collection} are managed by administrators")
        if tenant != caller.tenant_id:
            raise forbidden(f"{res.singular} {obj.id} belongs to another tenant")

    def visible(self, caller: Caller, res: Resource, objs: Iterable[ModelObject],
                tenant: str | None) -> list[ModelObject]:
        """``objs`` the caller may list, narrowed to ``tenant`` when asked."""
        objs = list(objs)
        if caller.is_admin and tenant is None:
            return objs
        if res.owner is None and not caller.is_admin:
            raise forbidden(f"{res.collection} are managed by administrators")
        want = tenant if caller.is_admin else caller.tenant_id
        if tenant is not None and tenant != want:
            raise forbidden("a tenant user lists its own tenant's objects only")
        memo: dict[tuple[str, uuid.UUID], str | None] = {}
        return [o for o in objs if self.tenant_of(res, o, None, memo) == want]

    def claim(self, caller: Caller, res: Resource, obj: ModelObject, tx: Transaction,
              current: ModelObject | None = None) -> ModelObject:
        """``obj`` as the caller may write it: its tenant filled in, or 403."""
        if caller.is_admin:
            return obj
        if res.owner is None:
            raise forbidden(f"{res.collection} are managed by administrators")
        if isinstance(res.owner, str):
            tenant = getattr(obj, res.owner)
            if not tenant:
                obj = obj.replace(**{res.owner: caller.tenant_id or ""})
            elif tenant != caller.tenant_id:
                raise forbidden(f"cannot write an object of tenant {tenant!r}")
        elif self.tenant_of(res, obj, tx) != caller.tenant_id:
            raise forbidden(f"the {res.singular}'s device belongs to another tenant")
        self._check_references(caller, obj, tx, current)
        return obj

    def _check_references(self, caller: Caller, obj: ModelObject, tx: Transaction,
                          current: ModelObject | None) -> None:
        """A reference the store keeps on both ends (a filter chain, a jump, a
        route's next hop port, a port's groups) writes into the object it
        names: a tenant may only add ones to its own tenant's objects."""
        for end in bindings_of(obj.kind):
            before = set(ref_ids(getattr(current, end.field))) if current is not None else set()
            other = BY_KIND.get(end.other_kind)
            for ref in ref_ids(getattr(obj, end.field)):
                if ref in before or other is None:
                    continue
                target = tx.find(other.cls, ref)
                if target is not None and self.tenant_of(other, target, tx) != caller.tenant_id:
                    raise forbidden(f"{other.singular} {ref} belongs to another tenant")
        for path, kinds in READ_REFERENCES.get(obj.kind, ()):
            before = set(ref_ids(_at(current, path))) if current is not None else set()
            for ref in ref_ids(_at(obj, path)):
                if ref not in before:
                    self._check_named(caller, kinds, ref, tx)

    def _check_named(self, caller: Caller, kinds: tuple[str, ...], ref: uuid.UUID,
                     tx: Transaction) -> None:
        for kind in kinds:
            res = BY_KIND[kind]
            target = tx.find(res.cls, ref)
            if target is None:
                continue
            if self.tenant_of(res, target, tx) != caller.tenant_id:
                raise forbidden(f"{res.singular} {ref} belongs to another tenant")
            return


def _at(obj: Any, path: tuple[str, ...]) -> Any:
    for attr in path:
        obj = getattr(obj, attr, None)
    return obj
