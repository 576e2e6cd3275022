"""A REST API client for functional tests: ``requests`` with the lab's login,
every answer held against the cluster's own OpenAPI document.

``ApiClient.request`` (and ``get``/``post``/``put``/``delete``) fails the
calling test with an AssertionError when an answer does not match the
document (or is a 5xx), so every response a test receives is checked. Paths
are relative to the API root (``"/bridges"``) or full URLs (a ``uri`` the API
gave).

    checker = OpenApiChecker.for_cluster(cluster.api_url)
    admin = ApiClient(cluster.api_url, checker).login("admin", "admin-secret")
    bridge = admin.create("/bridges", {"name": "b"})
    admin.expect(404, "GET", f"/bridges/{uuid.uuid4()}")
"""
from __future__ import annotations

import copy
import json
import threading
import uuid
from typing import Any

import jsonschema
import requests
from openapi_core import Config, OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse
from openapi_core.deserializing.media_types.util import json_loads
from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound

from midonet_ryu.nsdb.paths import Paths

__all__ = ["ApiClient", "ApiError", "OpenApiChecker", "models_snapshot", "LAB_PASSWORDS"]

LAB_PASSWORDS = {"admin": "admin-secret", "alice": "alice-secret", "bob": "bob-secret"}
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


class ApiError(AssertionError):
    """An answer that is not what the test expected (status and body in the message)."""


class OpenApiChecker:
    """Holds every answer against the OpenAPI document the cluster serves.

    Documented operations go through openapi-core's response validation
    (status, media type, body schema). A path the document does not have
    must be answered 404, a method it does not list 405 with an ``Allow``
    header naming exactly the documented methods; both with an Error body.
    Any 5xx fails.
    """

    _cache: dict[str, tuple[dict[str, Any], OpenAPI]] = {}
    _lock = threading.Lock()

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        # vendor types are JSON (openapi-core knows application/json only); the
        # spec itself is validated by test_openapi: skipped here (it costs seconds)
        vendor = {m.lower(): json_loads for m in _media_types(doc) if m.endswith("+json")}
        self.spec = OpenAPI.from_dict(copy.deepcopy(doc), config=Config(
            spec_validator_cls=None, extra_media_type_deserializers=vendor))
        self.error_schema = jsonschema.Draft202012Validator(doc["components"]["schemas"]["Error"])
        self.checked = 0

    @classmethod
    def for_cluster(cls, api_url: str) -> OpenApiChecker:
        """The checker for the document at ``<api_url>/openapi.json`` (a public
        document: no login needed); one per distinct document per session."""
        resp = requests.get(api_url + "/openapi.json", timeout=30)
        assert resp.status_code == 200, resp.text
        key = resp.text
        with cls._lock:
            found = cls._cache.get(key)
            if found is None:
                checker = cls(resp.json())
                cls._cache[key] = (checker.doc, checker.spec)
                found = cls._cache[key]
        checker = cls.__new__(cls)
        checker.doc, checker.spec = found
        checker.error_schema = jsonschema.Draft202012Validator(
            checker.doc["components"]["schemas"]["Error"])
        checker.checked = 0
        checker.check(resp)
        return checker

    def check(self, resp: requests.Response) -> None:
        what = f"{resp.request.method} {resp.request.url} -> {resp.status_code}"
        if resp.status_code >= 500:
            raise ApiError(f"{what}: server error: {resp.text[:2000]}")
        self.checked += 1
        try:
            self.spec.validate_response(_openapi_request(resp.request),
                                        RequestsOpenAPIResponse(resp))
        except PathNotFound:
            self._undocumented(resp, what, 404)
        except OperationNotFound:
            self._undocumented(resp, what, 405)
        except Exception as e:  # noqa: BLE001 - every other refusal is the test's failure
            raise ApiError(f"{what}: answer does not match the OpenAPI document: "
                           f"{type(e).__name__}: {_explain(e)[:3000]}\n{resp.text[:1000]}"
                           ) from None

    def _undocumented(self, resp: requests.Response, what: str, status: int) -> None:
        if resp.status_code != status:
            raise ApiError(f"{what}: not in the OpenAPI document, so it must be {status}: "
                           f"{resp.text[:2000]}")
        try:
            body = resp.json()
        except ValueError:
            raise ApiError(f"{what}: the error body is not JSON: {resp.text[:500]!r}") from None
        errors = [e.message for e in self.error_schema.iter_errors(body)]
        if errors:
            raise ApiError(f"{what}: not an Error body: {errors}: {resp.text[:500]}")
        if status == 405:
            item = self._path_item(resp.request.path_url.split("?")[0])
            documented = sorted(m.upper() for m in item if m in METHODS)
            allowed = sorted(m.strip() for m in resp.headers.get("Allow", "").split(",")
                             if m.strip())
            if allowed != documented:
                raise ApiError(f"{what}: Allow {allowed} is not what the document lists "
                               f"({documented})")

    def _path_item(self, path: str) -> dict[str, Any]:
        parts = path.rstrip("/").split("/")
        for template, item in self.doc["paths"].items():
            tparts = template.rstrip("/").split("/")
            if len(tparts) == len(parts) and all(
                    t == p or (t.startswith("{") and t.endswith("}"))
                    for t, p in zip(tparts, parts, strict=True)):
                return item
        raise ApiError(f"405 for {path}, a path the document does not have")


def _media_types(node: Any) -> set[str]:
    """Every media type named under a ``content`` of the document."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "content" and isinstance(value, dict):
                found |= set(value)
            found |= _media_types(value)
    elif isinstance(node, list):
        for value in node:
            found |= _media_types(value)
    return found


def _openapi_request(prepared: requests.PreparedRequest) -> RequestsOpenAPIRequest:
    # a streamed (chunked) body is a generator: the request side is not validated
    if prepared.body is not None and not isinstance(prepared.body, (bytes, str)):
        prepared = prepared.copy()
        prepared.body = None
    return RequestsOpenAPIRequest(prepared)


def _explain(e: BaseException) -> str:
    parts = [str(e)]
    for attr in ("schema_errors",):
        for err in getattr(e, attr, None) or ():
            parts.append(f"  {getattr(err, 'message', err)} at {list(getattr(err, 'path', []))}")
    cause = e.__cause__
    while cause is not None:
        parts.append(f"  caused by {type(cause).__name__}: {cause}")
        for err in getattr(cause, "schema_errors", None) or ():
            parts.append(f"    {getattr(err, 'message', err)} at "
                         f"{list(getattr(err, 'absolute_path', []))}")
        cause = cause.__cause__
    return "\n".join(parts)


class ApiClient:
    """One user's view of the API, over its own ``requests`` session (use
    :meth:`clone` for another thread: sessions are not thread-safe)."""

    def __init__(self, api_url: str, checker: OpenApiChecker, token: str | None = None,
                 timeout: float = 30.0) -> None:
        self.api_url = api_url.rstrip("/")
        self.checker = checker
        self.timeout = timeout
        self.session = requests.Session()
        self.token: str | None = None
        self.user: str | None = None
        if token is not None:
            self.use_token(token)

    def clone(self) -> ApiClient:
        other = ApiClient(self.api_url, self.checker, self.token, self.timeout)
        other.user = self.user
        return other

    def use_token(self, token: str | None) -> ApiClient:
        self.token = token
        if token is None:
            self.session.headers.pop("X-Auth-Token", None)
        else:
            self.session.headers["X-Auth-Token"] = token
        return self

    def url(self, path: str) -> str:
        return path if path.startswith("http") else self.api_url + path

    # -- authentication ----------------------------------------------------------
    def login_response(self, user: str, password: str | None = None,
                       project: str | None = None, **kw: Any) -> requests.Response:
        headers = dict(kw.pop("headers", {}))
        if project is not None:
            headers["X-Auth-Project"] = project
        if password is None:
            password = LAB_PASSWORDS[user]
        return self.request("POST", "/login", auth=(user, password), headers=headers, **kw)

    def login(self, user: str, password: str | None = None,
              project: str | None = None) -> ApiClient:
        resp = self.login_response(user, password, project)
        if resp.status_code != 200:
            raise ApiError(f"login of {user}: {resp.status_code} {resp.text}")
        self.user = user
        return self.use_token(resp.json()["key"])

    # -- requests ----------------------------------------------------------------
    def request(self, method: str, path: str, **kw: Any) -> requests.Response:
        kw.setdefault("timeout", self.timeout)
        resp = self.session.request(method, self.url(path), **kw)
        self.checker.check(resp)
        return resp

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> requests.Response:
        return self.request("POST", path, **_body(body, kw))

    def put(self, path: str, body: Any = None, **kw: Any) -> requests.Response:
        return self.request("PUT", path, **_body(body, kw))

    def delete(self, path: str, **kw: Any) -> requests.Response:
        return self.request("DELETE", path, **kw)

    def expect(self, status: int, method: str, path: str, body: Any = None,
               **kw: Any) -> requests.Response:
        """The answer to a request that must be ``status``."""
        if body is not None:
            kw = _body(body, kw)
        resp = self.request(method, path, **kw)
        if resp.status_code != status:
            raise ApiError(f"{method} {path}: expected {status}, got {resp.status_code}: "
                           f"{resp.text[:2000]}")
        return resp

    # -- conveniences ------------------------------------------------------------
    def create(self, path: str, body: dict[str, Any] | None = None, **kw: Any
               ) -> dict[str, Any]:
        return self.expect(201, "POST", path, body if body is not None else {}, **kw).json()

    def read(self, path: str, **kw: Any) -> Any:
        return self.expect(200, "GET", path, **kw).json()

    def update(self, path: str, body: dict[str, Any], **kw: Any) -> dict[str, Any]:
        return self.expect(200, "PUT", path, body, **kw).json()

    def remove(self, path: str, **kw: Any) -> None:
        self.expect(204, "DELETE", path, **kw)


def _body(body: Any, kw: dict[str, Any]) -> dict[str, Any]:
    if body is None or "data" in kw or "json" in kw:
        return kw
    kw = dict(kw)
    headers = dict(kw.pop("headers", {}) or {})
    headers.setdefault("Content-Type", "application/json")
    kw["headers"] = headers
    kw["data"] = json.dumps(body).encode()
    return kw


def models_snapshot(zk: Any, root: str) -> dict[str, tuple[bytes, int]]:
    """Every znode under ``<root>``'s models subtree (``<zoom>/models/<Class>/<id>``):
    ``{path: (data, version)}``, read with pipelined requests."""
    top = Paths(root).zoom + "/models"
    levels = [[top]]
    while levels[-1]:
        pending = [(p, zk.get_children_async(p)) for p in levels[-1]]
        nxt = []
        for path, result in pending:
            try:
                nxt += [f"{path}/{c}" for c in result.get()]
            except Exception:  # noqa: BLE001 - NoNodeError: gone or never there
                pass
        levels.append(nxt)
    out: dict[str, tuple[bytes, int]] = {}
    pending = [(p, zk.get_async(p)) for level in levels for p in level]
    for path, result in pending:
        try:
            data, stat = result.get()
        except Exception:  # noqa: BLE001 - NoNodeError
            continue
        out[path] = (data, stat.version)
    return out


def new_id() -> str:
    return str(uuid.uuid4())
