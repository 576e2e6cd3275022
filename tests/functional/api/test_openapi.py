"""The OpenAPI document the cluster serves: a valid OpenAPI 3.1 document that
covers what is routed, and the check every test's answers go through (see
api_client.OpenApiChecker) really refuses an answer that does not match."""
from __future__ import annotations

import collections
import copy
import json

import pytest
import requests
from openapi_spec_validator import validate

from midonet_ryu.api.resources import RESOURCES
from tests.functional.api.api_client import ApiClient, ApiError, OpenApiChecker

BASE = "/midonet-api"


@pytest.fixture(scope="module")
def doc(cluster, checker) -> dict:
    resp = requests.get(cluster.api_url + "/openapi.json", timeout=30)  # public
    checker.check(resp)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "application/json"
    return resp.json()


def test_document_is_valid_openapi(doc):
    validate(doc)
    assert doc["openapi"].startswith("3.1")


def test_document_covers_every_resource_and_relation(doc):
    paths = doc["paths"]
    for res in RESOURCES:
        for parent in res.parents:
            item = paths[f"{BASE}/{parent.collection}/{{pid}}/{res.collection}"]
            assert {"get", "post"} <= set(item)
        if res.top_level:
            collection = paths[f"{BASE}/{res.collection}"]
            assert ("post" in collection) == res.creatable, res.collection
            assert {"get", "put", "delete"} <= set(paths[f"{BASE}/{res.collection}/{{id}}"])
        for special in res.specials:
            assert f"{BASE}/{res.collection}/{{id}}/{special}" in paths, special
    for path, methods in {
        "/hosts/{id}/ports": {"get", "post"}, "/hosts/{id}/ports/{port_id}": {"get", "delete"},
        "/tunnel_zones/{id}/hosts/{host_id}": {"get", "delete"},
        "/port_groups/{id}/ports/{port_id}": {"get", "delete"},
        "/ip_addr_groups/{id}/versions/{version}/ip_addrs/{addr}": {"delete"},
        "/ports/{id}/link": {"post", "delete"}, "/routers/{id}/arp_table": {"get"},
        "/system_state": {"get"}, "/login": {"post"}, "/": {"get"}, "/openapi.json": {"get"},
    }.items():
        assert methods <= set(paths[BASE + path]), path
    # the public ones say so; everything else needs the token
    assert paths[BASE + "/login"]["post"]["security"] == []
    assert paths[BASE + "/openapi.json"]["get"]["security"] == []
    assert doc["security"] == [{"token": []}]


def test_operations_name_their_vendor_media_types(doc):
    ops = doc["paths"]
    bridge = ops[f"{BASE}/bridges/{{id}}"]
    assert set(bridge["get"]["responses"]["200"]["content"]) == {
        "application/json", "application/vnd.org.midonet.Bridge-v4+json"}
    assert set(bridge["put"]["requestBody"]["content"]) == {
        "application/json", "application/vnd.org.midonet.Bridge-v4+json"}
    assert set(ops[f"{BASE}/bridges"]["get"]["responses"]["200"]["content"]) == {
        "application/json", "application/vnd.org.midonet.collection.Bridge-v4+json"}
    errors = doc["components"]["responses"]["Error"]["content"]
    assert set(errors) == {"application/json", "application/vnd.org.midonet.Error-v1+json"}
    ids = [op["operationId"] for item in ops.values() for m, op in item.items()
           if m != "parameters"]
    assert [i for i, n in collections.Counter(ids).items() if n > 1] == []


def test_every_collection_and_object_answers_as_documented(admin: ApiClient, doc, agent):
    """A crawl: every parameterless GET, then every object of every collection
    and each sub-collection the document lists, all validated by the client."""
    hv = agent("hv-crawl")
    bridge = admin.create("/bridges", {})
    router = admin.create("/routers", {})
    admin.create(f"{bridge['uri']}/ports", {"vlanId": 2})
    admin.create(f"{router['uri']}/routes", {"dstNetworkAddr": "10.0.0.0",
                                             "dstNetworkLength": 8})
    chain = admin.create("/chains", {})
    admin.create(f"{chain['uri']}/rules", {"type": "rev_dnat"})
    lb = admin.create("/load_balancers", {"routerId": router["id"]})
    pool = admin.create(f"{lb['uri']}/pools", {})
    admin.create(f"{pool['uri']}/pool_members", {})
    admin.create(f"{pool['uri']}/vips", {})
    admin.create(f"{bridge['uri']}/dhcp", {})
    admin.create("/traces", {})
    tz = admin.create("/tunnel_zones", {})
    admin.create(f"{tz['uri']}/hosts", {"hostId": str(hv.id), "ipAddress": "10.1.1.1"})
    admin.create("/port_groups", {})
    admin.create("/ip_addr_groups", {})
    seen = 0
    for path, item in doc["paths"].items():
        if "{" in path or "get" not in item:
            continue
        listed = admin.get(path[len(BASE):] or "/")
        assert listed.status_code == 200, path
        seen += 1
        if not isinstance(listed.json(), list):
            continue
        for obj in listed.json()[:5]:
            one = admin.get(obj["uri"])
            assert one.status_code == 200
            seen += 1
            collection = path[len(BASE) + 1:]
            for sub in doc["paths"]:
                prefix = f"{BASE}/{collection}/{{id}}/"
                pprefix = f"{BASE}/{collection}/{{pid}}/"
                for p in (prefix, pprefix):
                    if sub.startswith(p) and "{" not in sub[len(p):] and \
                            "get" in doc["paths"][sub]:
                        assert admin.get(obj["uri"] + "/" + sub[len(p):]).status_code == 200
                        seen += 1
    assert seen > 40


def _answer(status: int, body, content_type="application/json", url="/bridges",
            method="GET", base="http://127.0.0.1:1/midonet-api") -> requests.Response:
    resp = requests.Response()
    resp.status_code = status
    resp._content = json.dumps(body).encode()
    resp.headers["Content-Type"] = content_type
    resp.request = requests.Request(method, base + url).prepare()
    resp.url = resp.request.url
    return resp


def test_the_check_refuses_what_does_not_match(checker: OpenApiChecker, admin: ApiClient):
    bridge = admin.read(admin.create("/bridges", {})["uri"])
    path = f"/bridges/{bridge['id']}"
    checker.check(_answer(200, bridge, url=path))  # as it came: fine
    broken = [
        _answer(200, dict(bridge, name=7), url=path),                 # wrong type
        _answer(200, dict(bridge, surprise=True), url=path),          # undocumented field
        _answer(200, {k: v for k, v in bridge.items() if k != "uri"} | {"adminStateUp": "y"},
                url=path),
        _answer(200, [bridge], url=path),                             # a list, not an object
        _answer(200, bridge, url="/bridges"),                         # not a list
        _answer(200, bridge, "text/html", url=path),                  # undocumented type
        _answer(201, bridge, url=path),                               # undocumented status
        _answer(500, {"code": 500, "message": "x"}, url=path),        # never
        _answer(404, {"message": "no code"}, url=path),               # not an Error
        _answer(200, bridge, url="/nowhere"),                         # undocumented path
        _answer(405, {"code": 405, "message": "x"}, url=path, method="PATCH"),  # no Allow
    ]
    for resp in broken:
        with pytest.raises(ApiError):
            checker.check(resp)
    ok = _answer(405, {"code": 405, "message": "x"}, url=path, method="PATCH")
    ok.headers["Allow"] = "DELETE, GET, PUT"
    checker.check(ok)


def test_vendor_answers_are_validated_as_json(checker: OpenApiChecker, admin: ApiClient):
    bridge = admin.read(admin.create("/bridges", {})["uri"])
    path = f"/bridges/{bridge['id']}"
    vendor = "application/vnd.org.midonet.Bridge-v4+json"
    checker.check(_answer(200, bridge, vendor, url=path))
    with pytest.raises(ApiError):
        checker.check(_answer(200, dict(bridge, portIds="none"), vendor, url=path))
    # another resource's type is not this operation's
    with pytest.raises(ApiError):
        checker.check(_answer(200, bridge, "application/vnd.org.midonet.Router-v3+json",
                              url=path))


def test_document_is_the_same_for_every_reader(cluster, admin: ApiClient, doc):
    again = admin.read("/openapi.json")
    assert again == doc
    assert copy.deepcopy(doc) == doc
