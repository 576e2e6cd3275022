"""What midonetclient (and MidoNet's other clients) do, through a real cluster:
vendor media types, following Location, PUT of the whole object as read,
``{}`` bodies on GET and DELETE, the sessionId cookie, X-Auth-Project, the
discovery document."""
from __future__ import annotations

import json
import uuid

import pytest
import requests

from tests.functional.api.api_client import ApiClient

VND = "application/vnd.org.midonet."


def vendor(media: str) -> str:
    return f"{VND}{media}+json"


def test_post_with_vendor_type_then_follow_location(admin: ApiClient):
    resp = admin.expect(201, "POST", "/bridges", data=json.dumps({"name": "mc"}),
                        headers={"Content-Type": vendor("Bridge-v4"),
                                 "Accept": vendor("Bridge-v4")})
    assert resp.headers["Content-Type"] == vendor("Bridge-v4")
    location = resp.headers["Location"]
    got = admin.get(location, headers={"Accept": vendor("Bridge-v4")})
    assert got.status_code == 200
    assert got.headers["Content-Type"] == vendor("Bridge-v4")
    assert got.json() == resp.json() and got.json()["name"] == "mc"
    # an older version of the type is the same JSON: accepted, answered in ours
    older = admin.expect(201, "POST", "/bridges", data="{}",
                         headers={"Content-Type": vendor("Bridge-v1")})
    assert older.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize("accept,answered", [
    (vendor("Bridge-v4"), vendor("Bridge-v4")),
    (vendor("Bridge-v2"), vendor("Bridge-v4")),
    ("application/json", "application/json"),
    ("*/*", "application/json"),
    (None, "application/json"),
    (f"text/html, {vendor('Bridge-v4')};q=0.9", vendor("Bridge-v4")),
])
def test_vendor_media_types_when_asked_plain_json_always(admin: ApiClient, accept, answered):
    bridge = admin.create("/bridges", {})
    headers = {"Accept": accept} if accept else {}
    got = admin.get(bridge["uri"], headers=headers)
    assert got.status_code == 200 and got.headers["Content-Type"] == answered
    assert got.json()["id"] == bridge["id"]


def test_collection_media_types(admin: ApiClient):
    bridge = admin.create("/bridges", {})
    port = admin.create(f"{bridge['uri']}/ports", {})
    for path, media in (("/bridges", "collection.Bridge-v4"),
                        (f"{bridge['uri']}/ports", "collection.Port-v3")):
        got = admin.get(path, headers={"Accept": vendor(media)})
        assert got.headers["Content-Type"] == vendor(media), path
        assert isinstance(got.json(), list)
    assert port["id"] in [p["id"] for p in got.json()]
    # the object's type is not the collection's
    admin.expect(406, "GET", "/bridges", headers={"Accept": vendor("Bridge-v4")})
    admin.expect(406, "GET", bridge["uri"], headers={"Accept": vendor("collection.Bridge-v4")})


def test_relation_media_types(admin: ApiClient, agent):
    hv = agent("hv-media")
    bridge = admin.create("/bridges", {})
    port = admin.create(f"{bridge['uri']}/ports", {})
    made = admin.expect(201, "POST", f"/hosts/{hv.id}/ports",
                        {"portId": port["id"], "interfaceName": "tap-x"},
                        headers={"Content-Type": vendor("HostInterfacePort-v1"),
                                 "Accept": vendor("HostInterfacePort-v1")})
    assert made.headers["Content-Type"] == vendor("HostInterfacePort-v1")
    listed = admin.get(f"/hosts/{hv.id}/ports",
                       headers={"Accept": vendor("collection.HostInterfacePort-v1")})
    assert listed.headers["Content-Type"] == vendor("collection.HostInterfacePort-v1")
    state = admin.get("/system_state", headers={"Accept": vendor("SystemState-v2")})
    assert state.headers["Content-Type"] == vendor("SystemState-v2")
    assert state.json()["availability"] == "READWRITE"


def _samples(admin: ApiClient, agent) -> list[dict]:
    hv = agent("hv-put")
    bridge = admin.create("/bridges", {"name": "put"})
    router = admin.create("/routers", {"name": "put"})
    chain = admin.create("/chains", {})
    lb = admin.create("/load_balancers", {"routerId": router["id"]})
    pool = admin.create(f"{lb['uri']}/pools", {})
    port = admin.create(f"{router['uri']}/ports", {"portAddress": "10.0.0.1",
                                                    "networkAddress": "10.0.0.0",
                                                    "networkLength": 24})
    return [
        bridge, router, chain, lb, pool, port,
        admin.read(f"/hosts/{hv.id}"),
        admin.create(f"{bridge['uri']}/ports", {"vlanId": 3}),
        admin.create(f"{chain['uri']}/rules", {"type": "dnat", "natTargets": [
            {"addressFrom": "10.0.0.2", "addressTo": "10.0.0.2"}], "tpDst": {"start": 22,
                                                                            "end": 22}}),
        admin.create(f"{router['uri']}/routes", {"dstNetworkAddr": "10.5.0.0",
                                                 "dstNetworkLength": 16,
                                                 "nextHopPort": port["id"]}),
        admin.create("/port_groups", {"stateful": True}),
        admin.create("/ip_addr_groups", {}),
        admin.create("/tunnel_zones", {"type": "gre"}),
        admin.create(f"{pool['uri']}/pool_members", {"address": "10.0.0.3"}),
        admin.create(f"{pool['uri']}/vips", {"address": "10.0.0.4"}),
        admin.create(f"{bridge['uri']}/dhcp", {"subnetAddress": "10.0.0.0/24"}),
        admin.create("/traces", {"deviceType": "router", "deviceId": router["id"]}),
    ]


def test_put_of_the_whole_object_as_read(admin: ApiClient, agent):
    """midonetclient PUTs back what it read, uri, links and read-only fields
    included: ignored, not refused, and nothing changes."""
    for obj in _samples(admin, agent):
        current = admin.read(obj["uri"])
        updated = admin.update(obj["uri"], current)
        assert updated == current, obj["uri"]
        assert admin.read(obj["uri"]) == current
        # with one field changed, only that field changes
        if "adminStateUp" in current:
            flipped = admin.update(obj["uri"], dict(current, adminStateUp=not
                                                    current["adminStateUp"]))
            assert flipped == dict(current, adminStateUp=not current["adminStateUp"])


def test_read_only_fields_sent_back_changed_are_ignored(admin: ApiClient):
    bridge = admin.create("/bridges", {})
    port = admin.create(f"{bridge['uri']}/ports", {})
    current = admin.read(bridge["uri"])
    sent = dict(current, portIds=[], ports="http://elsewhere/x", uri="http://elsewhere/y",
                id=str(uuid.uuid4()))
    updated = admin.update(bridge["uri"], sent)
    assert updated == current
    assert updated["portIds"] == [port["id"]]


def test_empty_json_body_on_get_and_delete(admin: ApiClient):
    bridge = admin.create("/bridges", {})
    h = {"Content-Type": "application/json"}
    got = admin.expect(200, "GET", bridge["uri"], data="{}", headers=h)
    assert got.json()["id"] == bridge["id"]
    listed = admin.expect(200, "GET", "/bridges", data="{}", headers=h)
    assert bridge["id"] in [b["id"] for b in listed.json()]
    admin.expect(204, "DELETE", bridge["uri"], data="{}", headers=h)
    admin.expect(404, "GET", bridge["uri"], data="{}", headers=h)


def test_token_from_the_session_cookie(cluster, checker):
    client = ApiClient(cluster.api_url, checker)
    resp = client.login_response("admin")
    assert resp.status_code == 200
    cookie = resp.headers["Set-Cookie"]
    # midonetclient takes what is between "sessionId=" and the first ";"
    assert cookie.startswith("sessionId=")
    token = cookie[len("sessionId="):].split(";")[0]
    assert token == resp.json()["key"] == resp.headers["X-Auth-Token"]
    assert "Path=/midonet-api" in cookie
    # the cookie alone authenticates, as a browser or midonetclient sends it
    bare = requests.Session()
    got = bare.get(cluster.api_url + "/bridges", cookies={"sessionId": token}, timeout=30)
    checker.check(got)
    assert got.status_code == 200
    # and the same token as the header
    assert ApiClient(cluster.api_url, checker, token).get("/bridges").status_code == 200
    # the session remembers the cookie the login set
    jar = requests.Session()
    login = jar.post(cluster.api_url + "/login", auth=("admin", "admin-secret"), timeout=30)
    checker.check(login)
    got = jar.get(cluster.api_url + "/bridges", timeout=30)
    checker.check(got)
    assert got.status_code == 200


def test_x_auth_project_scopes_the_token(client_of, admin: ApiClient):
    alice = client_of("alice", project="tenant-a")
    bridge = alice.create("/bridges", {"name": "scoped"})
    assert bridge["tenantId"] == "tenant-a"
    # an admin scoped to a tenant lists that tenant's objects on request
    scoped = client_of("admin", project="tenant-a")
    assert bridge["id"] in [b["id"] for b in scoped.read("/bridges?tenant_id=tenant-a")]
    # a tenant user cannot scope itself to another tenant: 403, not 401
    resp = ApiClient(alice.api_url, alice.checker).login_response("alice", project="tenant-b")
    assert resp.status_code == 403


def test_token_media_type_when_asked(cluster, checker):
    client = ApiClient(cluster.api_url, checker)
    resp = client.login_response("admin", headers={"Accept": vendor("Token-v1")})
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == vendor("Token-v1")
    assert set(resp.json()) == {"key", "expires"}


def test_discovery_document(admin: ApiClient):
    root = admin.get("/", headers={"Accept": vendor("Application-v5")})
    assert root.headers["Content-Type"] == vendor("Application-v5")
    doc = root.json()
    assert doc["uri"] == admin.api_url + "/"
    assert doc["version"].startswith("v5")
    for key in ("bridges", "routers", "ports", "chains", "rules", "routes", "portGroups",
                "ipAddrGroups", "hosts", "tunnelZones", "loadBalancers", "pools",
                "poolMembers", "vips", "traces", "systemState"):
        assert doc[key].startswith(admin.api_url + "/"), key
    for key in ("bridgeTemplate", "routerTemplate", "portTemplate", "hostTemplate",
                "tunnelZoneTemplate", "portGroupTemplate", "ipAddrGroupTemplate"):
        assert doc[key].endswith("/{id}"), key
    # each collection URI answers; each template filled with an id names the object
    for key, uri in doc.items():
        if key in ("uri", "version", "traceSimulate") or key.endswith("Template"):
            continue
        if key == "openapi":
            assert admin.get(uri).status_code == 200
            continue
        assert admin.get(uri).status_code == 200, key
    bridge = admin.create("/bridges", {})
    assert admin.read(doc["bridgeTemplate"].replace("{id}", bridge["id"])) == bridge
    chain = admin.create("/chains", {})
    assert admin.read(doc["chainTemplate"].replace("{id}", chain["id"])) == chain
