"""A fake transport for the CLI's unit tests: answers requests from a table
of handlers and records what was sent, so a test can assert the exact
method, path, headers and JSON body a command produced."""
from __future__ import annotations

import dataclasses
import io
import json
import logging
from collections.abc import Callable
from typing import Any

import requests

from midonet_cli.client import Client
from midonet_cli.main import MidonetCli
from midonet_cli.settings import Settings

BASE = "http://api.test/midonet-api"
TOKEN = "tok-1"

Answer = tuple[int, Any] | tuple[int, Any, dict[str, str]]


@dataclasses.dataclass
class Sent:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    params: dict[str, str]
    auth: tuple[str, str] | None


def response(status: int, body: Any = None, headers: dict[str, str] | None = None,
             method: str = "GET", url: str = BASE, raw: bytes | None = None
             ) -> requests.Response:
    resp = requests.Response()
    resp.status_code = status
    resp.reason = {200: "OK", 201: "Created", 204: "No Content", 401: "Unauthorized",
                   403: "Forbidden", 404: "Not Found", 502: "Bad Gateway"}.get(status, "")
    if raw is not None:
        resp._content = raw
    else:
        resp._content = b"" if body is None else json.dumps(body).encode()
    resp.headers.update(headers or {})
    resp.url = url
    resp.request = requests.Request(method, url).prepare()
    return resp


class FakeApi:
    """``routes``: ``(METHOD, path relative to the base)`` -> an answer or a
    callable taking the :class:`Sent` request. Login is answered unless a
    test replaces it."""

    def __init__(self) -> None:
        self.sent: list[Sent] = []
        self.tokens = [TOKEN]
        self.routes: dict[tuple[str, str],
                          Answer | Callable[[Sent], Answer | requests.Response]] = {
            ("POST", "login"): self._login}
        self.error: Exception | None = None

    def _login(self, sent: Sent) -> Answer:
        token = self.tokens[min(self.logins - 1, len(self.tokens) - 1)]
        return 200, {"key": token, "expires": "2030-01-01T00:00:00Z"}

    @property
    def logins(self) -> int:
        return sum(1 for s in self.sent if s.path == "login")

    def calls(self) -> list[tuple[str, str]]:
        """(method, path) of everything but logins."""
        return [(s.method, s.path) for s in self.sent if s.path != "login"]

    def request(self, method: str, url: str, timeout: Any = None, **kwargs: Any
                ) -> requests.Response:
        if self.error is not None:
            raise self.error
        assert url.startswith(BASE + "/"), url
        path = url[len(BASE) + 1:]
        sent = Sent(method, path, dict(kwargs.get("headers") or {}), kwargs.get("json"),
                    dict(kwargs.get("params") or {}), kwargs.get("auth"))
        self.sent.append(sent)
        route = self.routes.get((method, path))
        if route is None:
            return response(404, {"code": 404, "message": f"no resource at /{path}"},
                            method=method, url=url)
        answer = route(sent) if callable(route) else route
        if isinstance(answer, requests.Response):
            return answer
        status, body, *rest = answer
        return response(status, body, rest[0] if rest else None, method=method, url=url)


def client(api: FakeApi, **settings: Any) -> Client:
    values: dict[str, Any] = {"api_url": BASE, "username": "admin", "password": "pw"}
    values.update(settings)
    return Client(Settings(**values), session=api)  # type: ignore[arg-type]


@dataclasses.dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def run(api: FakeApi, *argv: str) -> Run:
    """``midonet-cli ARGV`` in this process against ``api``."""
    out, err = io.StringIO(), io.StringIO()
    app = MidonetCli(stdout=out, stderr=err)
    app._client = client(api)
    root = logging.getLogger()
    before = list(root.handlers)
    try:
        code = app.run(list(argv))
    except SystemExit as e:  # argparse's usage errors, as in a real process
        code = e.code if isinstance(e.code, int) else 1
    finally:
        for handler in root.handlers[:]:
            if handler not in before:
                root.removeHandler(handler)
    return Run(code, out.getvalue(), err.getvalue())
