"""midonet-cli's client interface (``post``, ``get``, ``put``, ``delete``, and
its errors) over the REST API tests' client, so every answer a test outside
``tests/functional/api`` receives is also held against the OpenAPI document."""
from __future__ import annotations

from typing import Any

from midonet_cli.client import error_of
from tests.functional.api.api_client import ApiClient, OpenApiChecker


class CheckedApi:
    def __init__(self, api_url: str, user: str, password: str) -> None:
        self.client = ApiClient(api_url, OpenApiChecker.for_cluster(api_url)).login(
            user, password)

    def call(self, method: str, path: str, body: Any = None) -> Any:
        resp = self.client.request(method, path, **({} if body is None else {"json": body}))
        if resp.status_code >= 300:
            raise error_of(resp)
        return resp.json() if resp.content else None

    def post(self, path: str, body: dict[str, Any]) -> Any:
        return self.call("POST", path, body)

    def get(self, path: str) -> Any:
        return self.call("GET", path)

    def put(self, path: str, body: dict[str, Any]) -> Any:
        return self.call("PUT", path, body)

    def delete(self, path: str) -> None:
        self.call("DELETE", path)
