"""Authentication and tenants through the real process (local users of the
lab: admin, alice of tenant-a, bob of tenant-b)."""
from __future__ import annotations

import base64
import json
import time
import uuid

import pytest
import requests

from midonet_ryu.nsdb.store import Store
from midonet_ryu.topology.model import Network, Port
from midonet_ryu.topology.router import Router
from tests.functional.api.api_client import ApiClient, OpenApiChecker
from tools.lab.cluster import ClusterProcess


def test_login(cluster, checker):
    client = ApiClient(cluster.api_url, checker)
    resp = client.login_response("alice")
    assert resp.status_code == 200
    body = resp.json()
    assert body["key"] == resp.headers["X-Auth-Token"]
    assert body["expires"].endswith("Z")
    assert resp.headers["Cache-Control"] == "no-store"
    client.use_token(body["key"])
    assert client.get("/bridges").status_code == 200


@pytest.mark.parametrize("user,password", [("alice", "wrong"), ("nobody", "alice-secret"),
                                           ("alice", "")])
def test_login_refused(cluster, checker, user, password):
    resp = ApiClient(cluster.api_url, checker).login_response(user, password)
    assert resp.status_code == 401
    assert resp.json()["message"] == "wrong user name or password"  # same for both
    assert "Set-Cookie" not in resp.headers and "X-Auth-Token" not in resp.headers


def test_login_without_or_with_malformed_credentials(cluster, checker):
    client = ApiClient(cluster.api_url, checker)
    assert client.request("POST", "/login").status_code == 401
    for header in ("Bearer abc", "Basic !!!", "Basic " + base64.b64encode(b"nocolon").decode()):
        resp = client.request("POST", "/login", headers={"Authorization": header})
        assert resp.status_code == 401, header
        assert resp.headers["WWW-Authenticate"].startswith("Basic")
    resp = client.request("GET", "/login", auth=("admin", "admin-secret"))
    assert resp.status_code == 405 and resp.headers["Allow"] == "POST"


def test_401_without_token_or_with_a_bad_one(anonymous: ApiClient, admin: ApiClient):
    bridge = admin.create("/bridges", {})
    for method, path in (("GET", "/bridges"), ("GET", bridge["uri"]), ("POST", "/bridges"),
                         ("PUT", bridge["uri"]), ("DELETE", bridge["uri"]), ("GET", "/"),
                         ("GET", "/hosts"), ("POST", f"{bridge['uri']}/ports")):
        resp = anonymous.request(method, path, **({"json": {}} if method in ("POST", "PUT")
                                                 else {}))
        assert resp.status_code == 401, (method, path)
        assert "token" in resp.json()["message"]
    assert admin.read(bridge["uri"]) == bridge  # nothing happened to it
    token = admin.token
    assert token is not None
    head, _, sig = token.rpartition(".")
    tampered = head + "." + ("A" if sig[0] != "A" else "B") + sig[1:]
    for bad in ("garbage", token + "x", tampered, "v1.e30.AAAA", ""):
        resp = ApiClient(anonymous.api_url, anonymous.checker, bad).get("/bridges")
        assert resp.status_code == 401, bad
    # the public document needs none
    assert anonymous.get("/openapi.json").status_code == 200


def test_token_of_another_cluster_secret_is_refused(anonymous: ApiClient, zk_server):
    other = ClusterProcess(zk_server.hosts, root=f"/other-{uuid.uuid4().hex[:8]}").start()
    try:
        foreign = ApiClient(other.api_url, OpenApiChecker.for_cluster(other.api_url)).login(
            "admin").token
    finally:
        other.cleanup()
    resp = ApiClient(anonymous.api_url, anonymous.checker, foreign).get("/bridges")
    assert resp.status_code == 401


def test_expired_token(zk_server):
    short = ClusterProcess(zk_server.hosts, root=f"/expiry-{uuid.uuid4().hex[:8]}",
                           auth_opts={"token_lifetime": 1}).start()
    try:
        checker = OpenApiChecker.for_cluster(short.api_url)
        client = ApiClient(short.api_url, checker).login("alice")
        assert client.get("/bridges").status_code == 200
        time.sleep(2.2)
        resp = client.get("/bridges")
        assert resp.status_code == 401
        assert "expired" in resp.json()["message"]
        # and via the cookie too
        bare = requests.get(short.api_url + "/bridges", cookies={"sessionId": client.token},
                            timeout=30)
        checker.check(bare)
        assert bare.status_code == 401
        # a new login works again
        assert client.login("alice").get("/bridges").status_code == 200
    finally:
        short.cleanup()


@pytest.fixture(scope="module")
def bobs(bob: ApiClient) -> dict:
    bridge = bob.create("/bridges", {"name": "bobs"})
    router = bob.create("/routers", {"name": "bobs"})
    return {"bridge": bridge, "router": router,
            "port": bob.create(f"{bridge['uri']}/ports", {}),
            "chain": bob.create("/chains", {}),
            "pg": bob.create("/port_groups", {}),
            "ipg": bob.create("/ip_addr_groups", {})}


def test_alice_cannot_touch_bobs_bridge(alice: ApiClient, bob: ApiClient, bobs, nsdb: Store):
    bridge = bobs["bridge"]
    assert bridge["tenantId"] == "tenant-b"
    for method, path, body in (("GET", bridge["uri"], None),
                               ("PUT", bridge["uri"], dict(bridge, name="mine now")),
                               ("DELETE", bridge["uri"], None),
                               ("POST", f"{bridge['uri']}/ports", {}),
                               ("GET", f"{bridge['uri']}/ports", None),
                               ("GET", f"{bridge['uri']}/mac_table", None),
                               ("GET", f"{bridge['uri']}/arp_table", None),
                               ("POST", f"{bridge['uri']}/dhcp", {}),
                               ("GET", bobs["port"]["uri"], None),
                               ("PUT", bobs["port"]["uri"], {"name": "x"}),
                               ("DELETE", bobs["port"]["uri"], None)):
        resp = alice.expect(403, method, path, body)
        assert resp.json()["code"] == 403, (method, path)
    assert bob.read(bridge["uri"]) == bob.read(bridge["uri"])
    stored = nsdb.get(Network, uuid.UUID(bridge["id"]))
    assert stored.name == "bobs" and len(stored.port_ids) == 1


def test_listing_shows_only_her_own(alice: ApiClient, bob: ApiClient, admin: ApiClient, bobs):
    hers = alice.create("/bridges", {"name": "hers"})
    listed = alice.read("/bridges")
    assert hers["id"] in [b["id"] for b in listed]
    assert {b["tenantId"] for b in listed} == {"tenant-a"}
    assert bobs["bridge"]["id"] not in [b["id"] for b in listed]
    # ports follow their bridge's tenant
    port = alice.create(f"{hers['uri']}/ports", {})
    ports = alice.read("/ports")
    assert port["id"] in [p["id"] for p in ports]
    assert bobs["port"]["id"] not in [p["id"] for p in ports]
    # asking for another tenant's objects is refused; her own is fine
    alice.expect(403, "GET", "/bridges?tenant_id=tenant-b")
    assert [b["id"] for b in alice.read("/bridges?tenant_id=tenant-a")] == [
        b["id"] for b in listed]
    # the admin sees both, and narrows on request
    every = [b["id"] for b in admin.read("/bridges")]
    assert hers["id"] in every and bobs["bridge"]["id"] in every
    assert {b["tenantId"] for b in admin.read("/bridges?tenant_id=tenant-b")} == {"tenant-b"}


def test_tenantless_create_fills_her_tenant(alice: ApiClient, nsdb: Store):
    for collection in ("bridges", "routers", "chains", "port_groups", "ip_addr_groups",
                       "traces"):
        made = alice.create(f"/{collection}", {})
        assert made["tenantId"] == "tenant-a", collection
    bridge = alice.create("/bridges", {"tenantId": ""})
    assert nsdb.get(Network, uuid.UUID(bridge["id"])).tenant_id == "tenant-a"
    explicit = alice.create("/bridges", {"tenantId": "tenant-a"})
    assert explicit["tenantId"] == "tenant-a"
    # she cannot create for, or move an object to, another tenant
    alice.expect(403, "POST", "/bridges", {"tenantId": "tenant-b"})
    alice.expect(403, "PUT", bridge["uri"], dict(bridge, tenantId="tenant-b"))
    assert nsdb.get(Network, uuid.UUID(bridge["id"])).tenant_id == "tenant-a"


def test_alice_cannot_reach_bobs_objects_sideways(alice: ApiClient, bobs, nsdb: Store):
    """Through ports, links, memberships and references, not only the object's URI."""
    hers = alice.create("/bridges", {})
    her_port = alice.create(f"{hers['uri']}/ports", {})
    # a port on bob's bridge by type and deviceId
    alice.expect(403, "POST", "/ports", {"type": "Bridge", "deviceId": bobs["bridge"]["id"]})
    # a port of hers on bob's router too
    resp = alice.request("POST", f"{hers['uri']}/ports", **_json({"routerId":
                                                                  bobs["router"]["id"]}))
    assert resp.status_code in (400, 403), resp.text
    assert nsdb.get(Router, uuid.UUID(bobs["router"]["id"])).port_ids == ()
    # moving her port onto bob's bridge
    alice.expect(403, "PUT", her_port["uri"], dict(her_port, networkId=bobs["bridge"]["id"]))
    assert nsdb.get(Port, uuid.UUID(her_port["id"])).network_id == uuid.UUID(hers["id"])
    # linking to bob's port, adding to bob's group, bob's addresses
    alice.expect(403, "POST", f"{her_port['uri']}/link", {"peerId": bobs["port"]["id"]})
    alice.expect(403, "POST", f"{bobs['pg']['uri']}/ports", {"portId": her_port["id"]})
    alice.expect(403, "GET", f"{bobs['pg']['uri']}/ports")
    alice.expect(403, "POST", f"{bobs['ipg']['uri']}/ip_addrs", {"addr": "10.0.0.1"})
    alice.expect(403, "GET", f"{bobs['chain']['uri']}/rules")
    alice.expect(403, "POST", f"{bobs['chain']['uri']}/rules", {"type": "accept"})
    alice.expect(403, "POST", "/rules", {"chainId": bobs["chain"]["id"], "type": "drop"})
    alice.expect(403, "GET", f"{bobs['router']['uri']}/routes")
    alice.expect(403, "GET", f"{bobs['router']['uri']}/arp_table")
    assert nsdb.get(Port, uuid.UUID(bobs["port"]["id"])).peer_id is None


def test_infrastructure_is_for_admins(alice: ApiClient, admin: ApiClient, agent):
    hv = agent("hv-auth")
    tz = admin.create("/tunnel_zones", {})
    for method, path, body in (("GET", "/hosts", None), ("GET", f"/hosts/{hv.id}", None),
                               ("PUT", f"/hosts/{hv.id}", {}), ("DELETE", f"/hosts/{hv.id}",
                                                                None),
                               ("GET", f"/hosts/{hv.id}/ports", None),
                               ("GET", f"/hosts/{hv.id}/interfaces", None),
                               ("GET", "/tunnel_zones", None), ("POST", "/tunnel_zones", {}),
                               ("GET", f"{tz['uri']}/hosts", None),
                               ("POST", f"{tz['uri']}/hosts", {"hostId": str(hv.id),
                                                               "ipAddress": "10.0.0.1"})):
        alice.expect(403, method, path, body)
    hers = alice.create("/bridges", {})
    port = alice.create(f"{hers['uri']}/ports", {})
    alice.expect(403, "POST", f"/hosts/{hv.id}/ports", {"portId": port["id"],
                                                        "interfaceName": "tap"})
    assert admin.read(f"/hosts/{hv.id}/ports") == []


def _json(body: dict) -> dict:
    return {"data": json.dumps(body), "headers": {"Content-Type": "application/json"}}


def test_references_cannot_write_into_bobs_objects(alice: ApiClient, bob: ApiClient, bobs,
                                                   nsdb: Store):
    """A reference the store keeps on both ends (a filter, a jump, a route's
    next hop, a port's groups) writes into the object referenced: not into
    another tenant's."""
    chain, port, pg = bobs["chain"], bobs["port"], bobs["pg"]
    her_chain = alice.create("/chains", {})
    her_router = alice.create("/routers", {})
    hers = alice.create("/bridges", {})
    her_port = alice.create(f"{hers['uri']}/ports", {})
    before = {k: bob.read(v["uri"]) for k, v in (("chain", chain), ("port", port), ("pg", pg))}
    alice.expect(403, "POST", "/bridges", {"inboundFilterId": chain["id"]})
    alice.expect(403, "PUT", hers["uri"], {"outboundFilterId": chain["id"]})
    alice.expect(403, "POST", f"{her_chain['uri']}/rules", {"type": "jump",
                                                             "jumpChainId": chain["id"]})
    alice.expect(403, "POST", f"{her_router['uri']}/routes", {"nextHopPort": port["id"]})
    alice.expect(403, "PUT", her_port["uri"], {"portGroupIds": [pg["id"]]})
    assert {k: bob.read(v["uri"]) for k, v in (("chain", chain), ("port", port),
                                              ("pg", pg))} == before
    # her own objects she may reference
    mine = alice.create("/bridges", {"inboundFilterId": her_chain["id"]})
    assert nsdb.get(Network, uuid.UUID(mine["id"])).inbound_filter_id == uuid.UUID(
        her_chain["id"])
    alice.create(f"{her_chain['uri']}/rules", {"type": "jump", "jumpChainId": her_chain["id"]})
