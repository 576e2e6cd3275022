"""The demo's API client interface (``tools.demo.Api``: ``post``, ``get``,
``call``) over the REST API tests' client, so every answer a test outside
``tests/functional/api`` receives is also held against the OpenAPI document."""
from __future__ import annotations

from typing import Any

from tests.functional.api.api_client import ApiClient, OpenApiChecker
from tools.demo import ApiError


class CheckedApi:
    def __init__(self, api_url: str, user: str, password: str) -> None:
        self.client = ApiClient(api_url, OpenApiChecker.for_cluster(api_url)).login(
            user, password)

    def call(self, method: str, path: str, body: Any = None) -> Any:
        resp = self.client.request(method, path, **({} if body is None else {"json": body}))
        if resp.status_code >= 300:
            raise ApiError(f"{method} {path}: {resp.status_code} {resp.text}")
        return resp.json() if resp.content else None

    def post(self, path: str, body: dict[str, Any]) -> Any:
        return self.call("POST", path, body)

    def get(self, path: str) -> Any:
        return self.call("GET", path)
