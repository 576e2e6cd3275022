"""The OpenAPI document built from the routes: vendor media types, the
error types, the login, what needs no token."""
from __future__ import annotations

import types

from openapi_spec_validator import validate

from cluster_proxy.rest_api.app import RestApi
from cluster_proxy.rest_api.factory import EXTENSIONS
from midonet_ryu.api.openapi import Operation, document
from midonet_ryu.nsdb.paths import Paths


def _doc() -> dict:
    # building the routes reads nothing: a stand-in store is enough
    store = types.SimpleNamespace(client=None)
    return RestApi(store, Paths(), extensions=EXTENSIONS).openapi()  # type: ignore[arg-type]


def test_the_served_document_is_valid_and_names_vendor_types():
    doc = _doc()
    validate(doc)
    paths = doc["paths"]
    get_port = paths["/midonet-api/ports/{id}"]["get"]["responses"]["200"]["content"]
    assert set(get_port) == {"application/json", "application/vnd.org.midonet.Port-v3+json"}
    post = paths["/midonet-api/bridges/{pid}/ports"]["post"]
    assert "application/vnd.org.midonet.Port-v3+json" in post["requestBody"]["content"]
    assert "application/vnd.org.midonet.collection.Port-v3+json" in \
        paths["/midonet-api/bridges/{pid}/ports"]["get"]["responses"]["200"]["content"]
    binding = paths["/midonet-api/hosts/{id}/ports"]["post"]["responses"]["201"]["content"]
    assert "application/vnd.org.midonet.HostInterfacePort-v1+json" in binding
    mac = paths["/midonet-api/bridges/{id}/mac_table"]["get"]["responses"]["200"]["content"]
    assert "application/vnd.org.midonet.collection.MacPort-v2+json" in mac
    assert set(doc["components"]["responses"]["Error"]["content"]) == {
        "application/json", "application/vnd.org.midonet.Error-v1+json"}


def test_login_is_documented_and_public():
    paths = _doc()["paths"]
    login = paths["/midonet-api/login"]["post"]
    assert login["security"] == []
    token = login["responses"]["200"]["content"]
    assert set(token) == {"application/json", "application/vnd.org.midonet.Token-v1+json"}
    assert token["application/json"]["schema"]["required"] == ["key", "expires"]
    assert paths["/midonet-api/openapi.json"]["get"]["security"] == []
    assert "security" not in paths["/midonet-api/bridges"]["get"]


def test_operation_without_vendor_type_is_json_only():
    doc = document("/api", [("/x", {"GET": Operation("x", response={"type": "object"})})])
    assert set(doc["paths"]["/api/x"]["get"]["responses"]["200"]["content"]) == {
        "application/json"}
