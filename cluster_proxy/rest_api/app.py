"""The MidoNet-compatible REST API as a plain WSGI app (webob + routes).

Routes are generated from :mod:`midonet_ryu.api.resources`: every collection,
object and parent sub-collection, plus the sub-resources with handlers of
their own (:mod:`subresources`). Every write is one version-checked NSDB
transaction (``Store.run``); an ``If-Match`` ETag (the object's ZooKeeper
version, sent as ``ETag`` on every GET) turns a lost race into 409 instead of
a retry. Every refusal is an :class:`ApiError`; anything else that escapes a
handler is a bug, logged and answered 500 without details.
"""
from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import routes
import webob

from cluster_proxy.rest_api import negotiation
from cluster_proxy.rest_api.errors import (
    ApiError,
    bad_request,
    conflict,
    error_response,
    wants_vendor,
)
from cluster_proxy.rest_api.ownership import Ownership, caller_of
from cluster_proxy.rest_api.reads import Reads
from midonet_ryu.api import openapi, representation
from midonet_ryu.api.fields import Field
from midonet_ryu.api.openapi import Operation
from midonet_ryu.api.representation import InvalidBody
from midonet_ryu.api.resources import BY_COLLECTION, RESOURCES, Resource
from midonet_ryu.nsdb.model_cache import ModelCache
from midonet_ryu.nsdb.paths import Paths
from midonet_ryu.nsdb.store import (
    ConcurrentModification,
    MissingReference,
    NotFound,
    ObjectExists,
    ReferenceConflict,
    ReferentialIntegrityError,
    Store,
    Transaction,
)
from midonet_ryu.topology.base import ModelObject
from midonet_ryu.topology.rules import Chain

LOG = logging.getLogger(__name__)

API_VERSION = "v5.0"
UUID_RE = r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"

Handler = Callable[..., webob.Response]

# A write that lost a race (another writer changed what it read) is re-run on
# a fresh read: enough times, with growing random pauses (seconds, see
# Store.run), for twenty writers of one object to all land.
WRITE_RETRIES = 40
WRITE_PAUSE = 0.002

# Deletes MidoNet's API refused while something still hangs off the object:
# the store would cascade them, which is not what a user deleting a bridge expects.
_DELETE_GUARDS: dict[str, tuple[str, str]] = {
    "bridges": ("port_ids", "ports"),
    "routers": ("port_ids", "ports"),
}

# Children listed in the parent's order rather than the store's
_ORDERED_CHILDREN = {("chains", "rules"): "rule_ids"}

# POST <base>/login's answer (cluster_proxy.rest_api.auth)
_TOKEN = {"type": "object", "required": ["key", "expires"], "additionalProperties": False,
          "properties": {"key": {"type": "string"}, "expires": {"type": "string"}}}


class RestApi:
    """The WSGI application; ``base_path`` is where it is mounted (``/midonet-api``)."""

    def __init__(self, store: Store, paths: Paths, base_path: str = "/midonet-api",
                 max_body_size: int = 1 << 20,
                 extensions: Iterable[Callable[[RestApi], None]] = (),
                 cache: ModelCache | None = None) -> None:
        self.store = store
        self.reads = Reads(store, cache)
        self.paths = paths
        self.base_path = "/" + base_path.strip("/") if base_path.strip("/") else ""
        self.max_body_size = max_body_size
        self.ownership = Ownership(self.reads)
        self.mapper = routes.Mapper()
        self.mapper.explicit = True
        self._handlers: dict[str, dict[str, Handler]] = {}
        self._docs: list[tuple[str, dict[str, Operation]]] = []
        self._openapi: dict[str, Any] | None = None
        # per-collection hooks the sub-resource modules register
        self.extras: dict[str, Callable[[ModelObject], dict[str, Any]]] = {}
        self.after_create: dict[
            str, Callable[[Transaction, ModelObject, dict[str, Any]], None]] = {}
        self.before_delete: dict[str, Callable[[Transaction, ModelObject], None]] = {}
        self.after_create["rules"] = _place_rule
        self.after_delete: dict[str, Callable[[uuid.UUID], None]] = {}
        self.route("discovery", "/", GET=(self.discovery, Operation(
            "the discovery document: a URI per collection and URI templates",
            response={"type": "object"}, tag="api",
            media=negotiation.vendor("Application-v5"))))
        self.mapper.connect("discovery_bare", self.base_path or "/", _route="discovery")
        self.route("openapi", "/openapi.json", GET=(self.openapi_document, Operation(
            "this document", response={"type": "object"}, tag="api", public=True)))
        # served by the authentication middleware in front (auth.wrap), documented here
        self._docs.append(("/login", {"POST": Operation(
            "log in with HTTP Basic credentials (X-Auth-Project: the tenant to scope "
            "the token to): the token, also as X-Auth-Token and the sessionId cookie",
            response=_TOKEN, tag="auth", media=negotiation.vendor("Token-v1"),
            public=True)}))
        for ext in extensions:
            ext(self)
        self._generic_routes()

    # -- routing -----------------------------------------------------------------
    def route(self, name: str, template: str, **methods: tuple[Handler, Operation]) -> None:
        """Serve ``template`` (relative to the base path; ``{id}``/``{pid}``
        must be UUIDs) with a handler per method, documented by its Operation."""
        reqs = {k: UUID_RE for k in ("id", "pid") if "{" + k + "}" in template}
        self.mapper.connect(name, self.base_path + template, _route=name, requirements=reqs)
        self._handlers.setdefault(name, {}).update({m: h for m, (h, _) in methods.items()})
        self._docs.append((template, {m: op for m, (_, op) in methods.items()}))

    def _generic_routes(self) -> None:
        for res in RESOURCES:
            one, many, write = f"#{res.singular}", [f"#{res.singular}"], f"#{res.singular}Write"
            media, media_many = res.media_type, res.collection_media_type
            for parent in res.parents:
                self.route(f"{parent.collection}_{res.collection}",
                           f"/{parent.collection}/{{pid}}/{res.collection}",
                           GET=(self._list_under(res, parent.collection, parent.attr),
                                Operation(f"{res.collection} of a {parent.collection[:-1]}",
                                          response=many, media=media_many)),
                           POST=(self._create_under(res, parent.collection, parent.attr),
                                 Operation(f"create a {res.singular} under it", write, one,
                                           201, media=media)))
            if not res.top_level:
                continue
            methods: dict[str, tuple[Handler, Operation]] = {
                "GET": (self._list(res), Operation(f"list {res.collection}", response=many,
                                                   media=media_many))}
            if res.creatable:
                methods["POST"] = (self._create(res), Operation(
                    f"create a {res.singular}", write, one, 201, media=media))
            self.route(res.collection, f"/{res.collection}", **methods)
            self.route(res.collection + "_one", f"/{res.collection}/{{id}}",
                       GET=(self._get(res), Operation(f"a {res.singular}", response=one,
                                                      media=media)),
                       PUT=(self._update(res), Operation(f"update a {res.singular}", write,
                                                         one, media=media)),
                       DELETE=(self._delete(res), Operation(f"delete a {res.singular}",
                                                            status=204)))

    # -- WSGI --------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any],
                 start_response: Callable[..., Any]) -> Iterable[bytes]:
        req = webob.Request(environ)
        try:
            resp = self._dispatch(req)
        except ApiError as e:
            resp = error_response(e, wants_vendor(req))
        except Exception:  # noqa: BLE001 - a bug: log it, never show it
            LOG.exception("%s %s failed", req.method, req.path)
            resp = error_response(ApiError(500, "internal error (logged by the cluster)"))
        return resp(environ, start_response)

    def _dispatch(self, req: webob.Request) -> webob.Response:
        match = self.mapper.match(req.path_info)
        if match is None:
            raise ApiError(404, f"no resource at {req.path_info}")
        handlers = self._handlers[match.pop("_route")]
        method = "GET" if req.method == "HEAD" else req.method
        handler = handlers.get(method)
        if handler is None:
            allowed = ", ".join(sorted(handlers))
            raise ApiError(405, f"{req.method} is not allowed on {req.path_info} "
                           f"(allowed: {allowed})", headers={"Allow": allowed})
        return handler(req, **match)

    # -- helpers for handlers ----------------------------------------------------
    def base_uri(self, req: webob.Request) -> str:
        return req.host_url + self.base_path

    def body(self, req: webob.Request, vendor: str | None) -> Any:
        """The parsed JSON body of a write: 413, 415 and 400 as due."""
        negotiation.check_body_type(req, vendor)
        length = req.content_length
        if length is not None and length > self.max_body_size:
            raise ApiError(413, f"body of {length} bytes is over the limit of "
                           f"{self.max_body_size}")
        # webob reads a body without Content-Length as empty unless the server
        # says it ends the input (eventlet does, but does not say so): a chunked
        # body is read from the server's input, which stops at its last chunk
        chunked = length is None and "chunked" in req.headers.get(
            "Transfer-Encoding", "").lower()
        stream = req.body_file_raw if chunked else req.body_file
        raw = stream.read(self.max_body_size + 1)
        if len(raw) > self.max_body_size:
            raise ApiError(413, f"body is over the limit of {self.max_body_size} bytes")
        try:
            return json.loads(raw or b"{}")
        except (ValueError, UnicodeDecodeError) as e:
            raise bad_request(f"the body is not JSON: {e}") from None
        except RecursionError:
            raise bad_request("the body is not JSON this API takes: nested too deep") from None

    def respond(self, req: webob.Request, payload: Any, vendor: str | None,
                status: int = 200, headers: dict[str, str] | None = None) -> webob.Response:
        resp = webob.Response(status=status)
        resp.content_type = negotiation.answer_type(req, vendor)
        resp.body = json.dumps(payload, separators=(",", ":")).encode()
        for name, val in (headers or {}).items():
            resp.headers[name] = val
        return resp

    def created(self, req: webob.Request, payload: dict[str, Any], vendor: str) -> webob.Response:
        return self.respond(req, payload, vendor, 201, {"Location": payload["uri"]})

    def no_content(self) -> webob.Response:
        return webob.Response(status=204)

    def write(self, fn: Callable[[Transaction], Any], retries: int = WRITE_RETRIES) -> Any:
        """Run a write as one NSDB transaction, errors as API answers; one that
        lost a race is re-run on a fresh read after a random pause."""
        try:
            return self.store.run(fn, retries=retries, pause=WRITE_PAUSE)
        except ObjectExists as e:
            raise conflict(str(e)) from None
        except NotFound as e:
            raise ApiError(404, str(e)) from None
        except MissingReference as e:
            raise bad_request(str(e)) from None
        except (ReferenceConflict, ReferentialIntegrityError) as e:
            raise conflict(str(e)) from None
        except ConcurrentModification as e:
            raise conflict(f"the object changed while this request was applied: {e}") \
                from None
        except InvalidBody as e:
            raise bad_request(str(e), e.field) from None

    def represent(self, req: webob.Request, res: Resource, obj: ModelObject) -> dict[str, Any]:
        return representation.to_json(res, obj, self.base_uri(req), self.extra_fields(res, obj))

    def extra_fields(self, res: Resource, obj: ModelObject) -> dict[str, Any] | None:
        hook = self.extras.get(res.collection)
        return hook(obj) if hook else None

    # -- documents ---------------------------------------------------------------
    def discovery(self, req: webob.Request) -> webob.Response:
        base = self.base_uri(req)
        doc: dict[str, Any] = {"uri": base + "/", "version": API_VERSION}
        for res in RESOURCES:
            if not res.top_level:
                continue
            key = openapi.camel_collection(res.collection)
            doc[key] = f"{base}/{res.collection}"
            doc[f"{openapi.camel_singular(res.collection)}Template"] = \
                f"{base}/{res.collection}/{{id}}"
        doc["systemState"] = f"{base}/system_state"
        doc["traces"] = f"{base}/traces"
        doc["traceSimulate"] = f"{base}/traces/simulate"
        doc["openapi"] = f"{base}/openapi.json"
        return self.respond(req, doc, negotiation.vendor("Application-v5"))

    def openapi(self) -> dict[str, Any]:
        return openapi.document(self.base_path, self._docs)

    def openapi_document(self, req: webob.Request) -> webob.Response:
        if self._openapi is None:
            self._openapi = self.openapi()
        return self.respond(req, self._openapi, None)

    # -- generic CRUD ------------------------------------------------------------
    def _list(self, res: Resource) -> Handler:
        def handler(req: webob.Request) -> webob.Response:
            caller = caller_of(req)
            objs = self.reads.list_all(res.cls)
            tenant = req.GET.get("tenant_id")
            objs = self.ownership.visible(caller, res, objs, tenant)
            return self.respond(req, [self.represent(req, res, o) for o in objs],
                                res.collection_media_type)
        return handler

    def _list_under(self, res: Resource, parent: str, attr: str) -> Handler:
        parent_res = BY_COLLECTION[parent]

        def handler(req: webob.Request, pid: str) -> webob.Response:
            owner = self.owned(req, parent_res, pid)
            objs = [o for o in self.reads.list_all(res.cls) if getattr(o, attr) == owner.id]
            order = _ORDERED_CHILDREN.get((parent, res.collection))
            if order is not None:
                rank = {cid: i for i, cid in enumerate(getattr(owner, order))}
                objs.sort(key=lambda o: rank.get(o.id, len(rank)))
            return self.respond(req, [self.represent(req, res, o) for o in objs],
                                res.collection_media_type)
        return handler

    def _get(self, res: Resource) -> Handler:
        def handler(req: webob.Request, id: str) -> webob.Response:
            caller = caller_of(req)
            found = self.reads.get_with_version(res.cls, uuid.UUID(id))
            if found is None:
                raise ApiError(404, f"{res.singular} {id} does not exist")
            obj, version = found
            self.ownership.check(caller, res, obj)
            return self.respond(req, self.represent(req, res, obj), res.media_type,
                                headers={"ETag": f'"{version}"'})
        return handler

    def _create(self, res: Resource) -> Handler:
        def handler(req: webob.Request) -> webob.Response:
            return self.create_object(req, res, None)
        return handler

    def _create_under(self, res: Resource, parent: str, attr: str) -> Handler:
        parent_res = BY_COLLECTION[parent]

        def handler(req: webob.Request, pid: str) -> webob.Response:
            owner = self.owned(req, parent_res, pid, write=True)
            return self.create_object(req, res, {attr: owner.id})
        return handler

    def create_object(self, req: webob.Request, res: Resource,
                      fixed: dict[str, Any] | None) -> webob.Response:
        caller = caller_of(req)
        body = self.body(req, res.media_type)

        def create(tx: Transaction) -> ModelObject:
            obj = representation.from_json(res, body, None, fixed)
            if res.parents and not any(getattr(obj, p.attr) for p in res.parents):
                # a rule without its chain, a route without its router: nothing
                # would ever use it, and nobody could list it under its parent
                parent_attrs = {(p.attr,) for p in res.parents}
                names = [f.name for f in res.fields
                         if isinstance(f, Field) and f.path in parent_attrs]
                raise InvalidBody(names[0] if names else "(body)",
                                  f"{' or '.join(names) or 'a parent'} is required: create "
                                  f"the {res.singular} under its "
                                  f"{' or '.join(p.collection[:-1] for p in res.parents)}")
            obj = self.ownership.claim(caller, res, obj, tx)
            fresh = body.get("id") is None  # the server makes the id up: nothing to read
            if not fresh and tx.find(res.cls, obj.id) is not None:
                raise ObjectExists(res.cls.kind, obj.id)
            created = tx.create(obj, fresh_id=fresh)
            hook = self.after_create.get(res.collection)
            if hook is not None:
                hook(tx, created, body)
                # what the hook made of it is what is stored, and answered
                created = tx.get(res.cls, created.id)
            return created

        obj = self.write(create)
        return self.created(req, self.represent(req, res, obj), res.media_type)

    def _update(self, res: Resource) -> Handler:
        def handler(req: webob.Request, id: str) -> webob.Response:
            caller = caller_of(req)
            body = self.body(req, res.media_type)
            expected = _if_match(req)
            obj_id = uuid.UUID(id)

            def update(tx: Transaction) -> tuple[ModelObject, int]:
                current = tx.get(res.cls, obj_id)
                version = tx.version(res.cls, obj_id)
                if expected is not None and version != expected:
                    raise ConcurrentModification(
                        f"{res.singular} {obj_id} is at version {version}, not {expected}")
                self.ownership.check(caller, res, current, write=True)
                new = representation.from_json(res, body, current)
                new = self.ownership.claim(caller, res, new, tx, current)
                return tx.update(new), version

            obj, read_version = self.write(update, retries=1 if expected is not None
                                           else WRITE_RETRIES)
            version = read_version + 1  # ZooKeeper's set_data counts one up
            return self.respond(req, self.represent(req, res, obj), res.media_type,
                                headers={"ETag": f'"{version}"'})
        return handler

    def _delete(self, res: Resource) -> Handler:
        guard = _DELETE_GUARDS.get(res.collection)

        def handler(req: webob.Request, id: str) -> webob.Response:
            caller = caller_of(req)
            obj_id = uuid.UUID(id)
            expected = _if_match(req)

            def delete(tx: Transaction) -> None:
                current = tx.get(res.cls, obj_id)
                if expected is not None and tx.version(res.cls, obj_id) != expected:
                    raise ConcurrentModification(f"{res.singular} {obj_id} changed")
                self.ownership.check(caller, res, current, write=True)
                if guard and getattr(current, guard[0]):
                    raise ReferenceConflict(
                        f"{res.singular} {obj_id} still has {guard[1]}: delete them first")
                hook = self.before_delete.get(res.collection)
                if hook is not None:
                    hook(tx, current)
                tx.delete(res.cls, obj_id)

            self.write(delete)
            cleanup = self.after_delete.get(res.collection)
            if cleanup is not None:
                cleanup(obj_id)
            return self.no_content()
        return handler

    def owned(self, req: webob.Request, res: Resource, obj_id: str | uuid.UUID,
              write: bool = False) -> Any:
        """The object ``obj_id`` of ``res`` as the caller may see it (or write it):
        404 when it does not exist, 403 when it is another tenant's."""
        obj = self.reads.find(res.cls, uuid.UUID(str(obj_id)))
        if obj is None:
            raise ApiError(404, f"{res.singular} {obj_id} does not exist")
        self.ownership.check(caller_of(req), res, obj, write)
        return obj


def _place_rule(tx: Transaction, rule: ModelObject, body: dict[str, Any]) -> None:
    """MidoNet's ``position`` (1-based) on create: where the new rule goes in
    its chain (the store appended it); one past the last rule is the end."""
    position = body.get("position")
    chain_id = getattr(rule, "chain_id", None)
    if position is None or chain_id is None:
        return
    chain = tx.get(Chain, chain_id)
    order = [r for r in chain.rule_ids if r != rule.id]
    if position > len(order) + 1:
        raise InvalidBody("position", f"position: {position} is past the end of the chain "
                          f"({len(order)} rules: at most {len(order) + 1})")
    order.insert(position - 1, rule.id)
    tx.update(chain.replace(rule_ids=tuple(order)))


def _if_match(req: webob.Request) -> int | None:
    value = req.headers.get("If-Match")
    if not value or value.strip() == "*":
        return None
    try:
        return int(value.strip().strip('"').removeprefix("W/").strip('"'))
    except ValueError:
        raise bad_request(f"If-Match {value!r} is not an ETag this API gave") from None


