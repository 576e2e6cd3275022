"""Error answers of the REST API, in MidoNet's ``Error-v1`` shape.

Every refusal is raised as :class:`ApiError` and rendered in one place, so a
client always gets ``{"code": N, "message": "..."}`` (MidoNet's
``ErrorEntity``) with the vendor media type it understands, and no handler
can leak a traceback or answer 500 to bad input.
"""
from __future__ import annotations

import json
from typing import Any

import webob

ERROR_MEDIA_TYPE = "application/vnd.org.midonet.Error-v1+json"


class ApiError(Exception):
    """An answer other than success: ``status`` and a message naming the cause."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None,
                 violations: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
        self.violations = violations or []

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.status, "message": self.message}
        if self.violations:
            out["violations"] = self.violations
        return out


def bad_request(message: str, field: str | None = None) -> ApiError:
    violations = [{"property": field, "message": message}] if field else None
    return ApiError(400, message, violations=violations)


def unauthorized(message: str = "authentication required") -> ApiError:
    return ApiError(401, message, headers={"WWW-Authenticate": 'Basic realm="midonet-api"'})


def forbidden(message: str) -> ApiError:
    return ApiError(403, message)


def not_found(message: str) -> ApiError:
    return ApiError(404, message)


def conflict(message: str) -> ApiError:
    return ApiError(409, message)


def wants_vendor(req: webob.Request) -> bool:
    """Whether an error gets MidoNet's Error-v1 media type: unless the client
    asked for plain JSON only (the API and its auth layer answer alike)."""
    accept = req.headers.get("Accept", "")
    return not ("application/json" in accept and "vnd.org.midonet" not in accept)


def error_response(err: ApiError, accept_vendor: bool = True) -> webob.Response:
    """The answer for ``err``: JSON body, Error-v1 media type unless the client
    asked for plain JSON only."""
    resp = webob.Response(status=err.status)
    resp.content_type = ERROR_MEDIA_TYPE if accept_vendor else "application/json"
    resp.body = json.dumps(err.body(), sort_keys=True).encode()
    for name, val in err.headers.items():
        resp.headers[name] = val
    return resp
