"""The OpenAPI 3.1 document, built from the routes the server registered.

The server declares each route with an :class:`Operation` (what it takes and
answers); this module turns them and the resources' JSON Schemas into the
document served at ``<base>/openapi.json``, so the document describes
exactly what is routed, and the tests hold every answer against it.
"""
from __future__ import annotations

import dataclasses
import re
from typing import Any

from midonet_ryu.api.resources import RESOURCES

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["code", "message"],
    "properties": {"code": {"type": "integer"}, "message": {"type": "string"},
                   "violations": {"type": "array", "items": {
                       "type": "object", "properties": {"property": {"type": "string"},
                                                        "message": {"type": "string"}}}}}}

ERROR_STATUSES = ("400", "401", "403", "404", "405", "406", "409", "413", "415")
ERROR_MEDIA_TYPE = "application/vnd.org.midonet.Error-v1+json"
JSON = "application/json"


@dataclasses.dataclass(frozen=True)
class Operation:
    """One method of one route. Schemas are JSON Schema, or ``"#Name"`` for a
    component (``"#Bridge"``), or ``["#Name"]`` for an array of them."""

    summary: str
    request: Any = None
    response: Any = None
    status: int = 200
    tag: str = "topology"
    # the vendor media type answered (and, on a write, accepted) besides JSON,
    # e.g. application/vnd.org.midonet.Bridge-v4+json
    media: str | None = None
    # served without a token (login, this document)
    public: bool = False
    # refusals this operation answers besides ERROR_STATUSES (e.g. 422)
    errors: tuple[str, ...] = ()


def camel_collection(collection: str) -> str:
    head, *rest = collection.split("_")
    return head + "".join(p.title() for p in rest)


def camel_singular(collection: str) -> str:
    name = camel_collection(collection)
    if name.endswith("ies"):
        return name[:-3] + "y"
    return name[:-1] if name.endswith("s") else name


def _schema(spec: Any) -> dict[str, Any]:
    if spec is None:
        return {}
    if isinstance(spec, str) and spec.startswith("#"):
        return {"$ref": f"#/components/schemas/{spec[1:]}"}
    if isinstance(spec, list):
        return {"type": "array", "items": _schema(spec[0])}
    return dict(spec)


def components() -> dict[str, Any]:
    out: dict[str, Any] = {"Error": ERROR_SCHEMA}
    for res in RESOURCES:
        out[res.singular] = res.schema(write=False)
        out[res.singular + "Write"] = res.schema(write=True)
    return out


def _parameters(template: str) -> list[dict[str, Any]]:
    return [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in re.findall(r"{(\w+)}", template)]


def document(base_path: str, routes: list[tuple[str, dict[str, Operation]]],
             version: str = "5.0") -> dict[str, Any]:
    """The document for ``routes``: ``[(template relative to base, {METHOD: op})]``."""
    paths: dict[str, Any] = {}
    for template, ops in routes:
        item: dict[str, Any] = {}
        params = _parameters(template)
        if params:
            item["parameters"] = params
        for method, op in sorted(ops.items()):
            responses: dict[str, Any] = {}
            if op.status == 204:
                responses["204"] = {"description": "done"}
            else:
                responses[str(op.status)] = {
                    "description": op.summary, "content": _content(op.response, op.media)}
            for code in (*ERROR_STATUSES, *op.errors):
                responses[code] = {"$ref": "#/components/responses/Error"}
            entry: dict[str, Any] = {"summary": op.summary, "tags": [op.tag],
                                     "responses": responses,
                                     "operationId": f"{method.lower()}_{_op_id(template)}"}
            if op.request is not None:
                entry["requestBody"] = {"required": True,
                                        "content": _content(op.request, op.media)}
            if op.public:
                entry["security"] = []
            item[method.lower()] = entry
        paths[base_path + (template or "/")] = item
    return {
        "openapi": "3.1.0",
        "info": {"title": "midonet-ryu REST API (MidoNet compatible)", "version": version},
        "paths": paths,
        "components": {
            "schemas": components(),
            "responses": {"Error": {"description": "refused", "content": {
                media: {"schema": {"$ref": "#/components/schemas/Error"}}
                for media in (JSON, ERROR_MEDIA_TYPE)}}},
            "securitySchemes": {"token": {"type": "apiKey", "in": "header",
                                          "name": "X-Auth-Token"}}},
        "security": [{"token": []}],
    }


def _content(spec: Any, media: str | None) -> dict[str, Any]:
    """Plain JSON, and the vendor media type when the operation has one."""
    return {m: {"schema": _schema(spec)} for m in (JSON, media) if m}


def _op_id(template: str) -> str:
    cleaned = re.sub(r"[{}]", "", template.strip("/")).replace("/", "_").replace(".", "_")
    return cleaned or "root"
