"""``<base>/neutron``: where Neutron's plugin sends its resources.

As MidoNet's networking-midonet did, the plugin sends each Neutron resource
untranslated and whole; the cluster translates it
(:mod:`midonet_ryu.neutron`) and applies the result in one version-checked
transaction. Every write is idempotent (an upsert, a delete of what may be
gone), so the plugin's journal can resend after any failure without harm.
Only admins may call these: Neutron is the tenant-blind owner of what it
creates.

* ``PUT /neutron/{collection}/{id}``: create or update a resource;
* ``DELETE /neutron/{collection}/{id}``: delete it (204 also when absent);
* ``POST /neutron/sync[?dry_run=true]``: every resource Neutron has; the
  NSDB is repaired to hold exactly their translation;
* ``GET /neutron/port_status?cursor=C&timeout=T``: which ports the agents
  have bound, as changes since a cursor, long-polled.

A translation refused is 422 with the reason, which the plugin's journal
keeps for the operator.
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import webob
from kazoo.exceptions import NoNodeError

from cluster_proxy.rest_api.app import RestApi
from cluster_proxy.rest_api.errors import ApiError, bad_request, forbidden, not_found
from cluster_proxy.rest_api.ownership import caller_of
from midonet_ryu.api.openapi import Operation
from midonet_ryu.neutron import apply
from midonet_ryu.neutron.errors import TranslationError
from midonet_ryu.neutron.inputs import Uplink
from midonet_ryu.nsdb.port_activity import PortActivity
from midonet_ryu.nsdb.store import Transaction
from midonet_ryu.topology.model import Host

LOG = logging.getLogger(__name__)

_WRITE_ANSWER = {"type": "object", "required": ["id", "result"], "properties": {
    "id": {"type": "string"}, "result": {"type": "string",
                                         "enum": ["created", "updated", "unchanged"]}}}
_RESOURCE = {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}}
_SYNC_REQUEST = {"type": "object", "properties": {
    c: {"type": "array", "items": _RESOURCE} for c in apply.COLLECTIONS}}
_SYNC_REPORT = {"type": "object", "properties": {
    "created": {"type": "array", "items": {"type": "string"}},
    "updated": {"type": "array", "items": {"type": "string"}},
    "deleted": {"type": "array", "items": {"type": "string"}},
    "failed": {"type": "array", "items": {"type": "object"}},
    "dryRun": {"type": "boolean"}}}
_STATUS = {"type": "object", "required": ["cursor", "reset", "active", "inactive"],
           "properties": {"cursor": {"type": "integer"}, "reset": {"type": "boolean"},
                          "active": {"type": "array", "items": {"type": "string"}},
                          "inactive": {"type": "array", "items": {"type": "string"}}}}
# what a malformed Neutron dict raises inside a translation (a missing key, a
# string where a list is due): refused like a translation error, never a 500
_MALFORMED = (TranslationError, ValueError, KeyError, TypeError, AttributeError)


def extension(uplinks: Sequence[Uplink], activity: PortActivity | None,
              max_wait: float = 30.0) -> Callable[[RestApi], None]:
    def install(api: RestApi) -> None:
        NeutronEndpoints(api, uplinks, activity, max_wait).install()
    return install


class NeutronEndpoints:
    def __init__(self, api: RestApi, uplinks: Sequence[Uplink],
                 activity: PortActivity | None, max_wait: float) -> None:
        self.api = api
        self.uplinks = tuple(uplinks)
        self.activity = activity
        self.max_wait = max_wait

    def install(self) -> None:
        api = self.api
        api.route("neutron_sync", "/neutron/sync", POST=(self.sync, Operation(
            "repair the NSDB to hold the translation of exactly these Neutron resources",
            _SYNC_REQUEST, _SYNC_REPORT, tag="neutron", errors=("422",))))
        api.route("neutron_port_status", "/neutron/port_status", GET=(self.status, Operation(
            "ports the agents have bound: changes since a cursor, long-polled",
            response=_STATUS, tag="neutron", errors=("503",))))
        api.route("neutron_resource", "/neutron/{collection}/{id}",
                  PUT=(self.put, Operation("create or update a Neutron resource", _RESOURCE,
                                           _WRITE_ANSWER, tag="neutron", errors=("422",))),
                  DELETE=(self.delete, Operation("delete a Neutron resource", status=204,
                                                 tag="neutron", errors=("422",))))

    # -- helpers -------------------------------------------------------------------
    @staticmethod
    def _admin(req: webob.Request) -> None:
        if not caller_of(req).is_admin:
            raise forbidden("the /neutron endpoints are for Neutron's plugin: admins only")

    @staticmethod
    def _collection(collection: str) -> str:
        if collection not in apply.TRANSLATORS:
            raise not_found(f"unknown Neutron collection {collection!r} (known: "
                            f"{', '.join(apply.COLLECTIONS)})")
        return collection

    def _inputs(self, tx: Transaction, hosts: dict[str, uuid.UUID]) -> apply.TxInputs:
        return apply.TxInputs(tx, self.api.paths, hosts, self.uplinks)

    def _hosts(self) -> dict[str, uuid.UUID]:
        return {h.name: h.id for h in self.api.reads.list_all(Host) if h.name}

    def _translate(self, fn: Callable[[Transaction], Any]) -> Any:
        try:
            return self.api.write(fn)
        except _MALFORMED as e:
            raise ApiError(422, f"not translated: {_reason(e)}") from None

    # -- handlers ------------------------------------------------------------------
    def put(self, req: webob.Request, collection: str, id: str) -> webob.Response:
        self._admin(req)
        collection = self._collection(collection)
        body = self.api.body(req, None)
        if not isinstance(body, dict):
            raise bad_request("the body must be the Neutron resource, a JSON object")
        obj_id = uuid.UUID(id)
        if str(body.get("id", "")).lower() != str(obj_id):
            raise bad_request(f"id: the body's id {body.get('id')!r} is not {obj_id}", "id")
        body["id"] = str(obj_id)
        hosts = self._hosts()
        result = self._translate(
            lambda tx: apply.upsert(tx, self._inputs(tx, hosts), collection, body))
        return self.api.respond(req, {"id": str(obj_id), "result": result}, None)

    def delete(self, req: webob.Request, collection: str, id: str) -> webob.Response:
        self._admin(req)
        collection = self._collection(collection)
        obj_id = uuid.UUID(id)
        self._translate(lambda tx: apply.delete(tx, self._inputs(tx, {}), collection, obj_id))
        return self.api.no_content()

    def sync(self, req: webob.Request) -> webob.Response:
        self._admin(req)
        dry_run = str(req.params.get("dry_run", "false")).lower() in ("1", "true", "yes")
        body = self.api.body(req, None)
        if not isinstance(body, dict) or not all(isinstance(v, list) for v in body.values()):
            raise bad_request("the body must map Neutron collections to lists of resources")
        hosts = self._hosts()
        store = self.api.store

        def attempt(fn: Callable[[apply.TxInputs], Any]) -> Any:
            if dry_run:
                return fn(self._inputs(Transaction(store), hosts))
            return self.api.write(lambda tx: fn(self._inputs(tx, hosts)))

        def stored_ids(collection: str) -> list[uuid.UUID]:
            try:
                names = store.client.retry(store.client.get_children,
                                           apply.neutron_path(self.api.paths, collection))
            except NoNodeError:
                return []
            out = []
            for name in names:
                try:
                    out.append(uuid.UUID(name))
                except ValueError:
                    continue
            return out

        try:
            report = apply.full_sync(attempt, stored_ids, body)
        except TranslationError as e:
            raise bad_request(str(e)) from None
        if report["failed"]:
            LOG.warning("Neutron sync: %d resources not translated: %s",
                        len(report["failed"]), report["failed"][:5])
        return self.api.respond(req, {**report, "dryRun": dry_run}, None)

    def status(self, req: webob.Request) -> webob.Response:
        self._admin(req)
        if self.activity is None:
            raise ApiError(503, "port status is not available on this node")
        cursor = _int_param(req, "cursor", None)
        timeout = min(float(_int_param(req, "timeout", 0) or 0), self.max_wait)
        changes = self.activity.changes(cursor, timeout)
        return self.api.respond(req, {
            "cursor": changes.cursor, "reset": changes.reset,
            "active": [str(p) for p in changes.active],
            "inactive": [str(p) for p in changes.inactive]}, None)


def _int_param(req: webob.Request, name: str, default: int | None) -> int | None:
    raw = req.params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(str(raw))
    except ValueError:
        raise bad_request(f"{name}: {raw!r} is not an integer", name) from None
    if value < 0:
        raise bad_request(f"{name}: {value} is negative", name)
    return value


def _reason(e: Exception) -> str:
    if isinstance(e, TranslationError):
        return str(e)
    if isinstance(e, KeyError):
        return f"the resource has no {e.args[0]!r}"
    return f"the resource is malformed: {e}"
