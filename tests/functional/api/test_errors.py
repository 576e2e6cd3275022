"""Every class of refusal through the real process: 400 naming the field,
404, 405 with Allow, 406, 415, 409, 413 (with Content-Length and chunked),
and never a 500 for bad input (the client fails any 5xx); a refusal writes
nothing."""
from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
import requests

from midonet_ryu.api.resources import BY_COLLECTION
from midonet_ryu.nsdb.store import Store
from tests.functional.api.api_client import ApiClient, models_snapshot
from tests.functional.api.conftest import Agent

# a small limit keeps the 413 bodies small; still above the 100 kB strings
# the fuzz tests send within the limit
CLUSTER_OPTIONS = {"rest_api_max_body_size": 200_000}
LIMIT = CLUSTER_OPTIONS["rest_api_max_body_size"]


@pytest.fixture(scope="module")
def objs(admin: ApiClient) -> dict[str, dict]:
    bridge = admin.create("/bridges", {})
    router = admin.create("/routers", {})
    chain = admin.create("/chains", {})
    return {"bridge": bridge, "router": router, "chain": chain,
            "port": admin.create(f"{bridge['uri']}/ports", {}),
            "pg": admin.create("/port_groups", {}),
            "ipg": admin.create("/ip_addr_groups", {}),
            "tz": admin.create("/tunnel_zones", {})}


@pytest.fixture(scope="module")
def host(zk_server, paths) -> Iterator[str]:
    """A registered host, there before any test snapshots the NSDB."""
    hv = Agent(zk_server.hosts, paths, "hv-errors")
    yield str(hv.id)
    hv.stop()


@pytest.fixture
def unchanged(nsdb_zk, cluster) -> Iterator[None]:
    """The test's refusals leave the NSDB as it was."""
    before = models_snapshot(nsdb_zk, cluster.root)
    yield
    assert models_snapshot(nsdb_zk, cluster.root) == before


BAD_FIELDS = [
    # (where, body, the field the answer names)
    ("/bridges", {"name": 5}, "name"),
    ("/bridges", {"adminStateUp": "yes"}, "adminStateUp"),
    ("/bridges", {"name": "x" * 256}, "name"),
    ("/bridges", {"inboundFilterId": "not-a-uuid"}, "inboundFilterId"),
    ("/bridges", {"inboundFilterId": 12}, "inboundFilterId"),
    ("/bridges", {"bogus": 1}, "bogus"),
    ("/bridges", {"id": "1234"}, "id"),
    ("{bridge}/ports", {"vlanId": 4096}, "vlanId"),
    ("{bridge}/ports", {"vlanId": -1}, "vlanId"),
    ("{bridge}/ports", {"vlanId": "10"}, "vlanId"),
    ("{bridge}/ports", {"vlanId": True}, "vlanId"),
    ("{bridge}/ports", {"vlanId": 1.5}, "vlanId"),
    ("{bridge}/ports", {"portGroupIds": ["nope"]}, "portGroupIds.0"),
    ("{router}/ports", {"portMac": "02:00:00:00:00"}, "portMac"),
    ("{router}/ports", {"portMac": "zz:00:00:00:00:01"}, "portMac"),
    ("{router}/ports", {"portAddress": "10.0.0.256"}, "portAddress"),
    ("{router}/ports", {"portAddress": "10.0.0.01"}, "portAddress"),
    ("{router}/ports", {"networkAddress": "10.0.0.1", "networkLength": 24}, "networkAddress"),
    ("{router}/ports", {"networkAddress": "10.0.0.0", "networkLength": 33}, "networkLength"),
    ("{router}/ports", {"portSubnet": "10.0.0.1/24"}, "portSubnet"),
    ("{router}/ports", {"portSubnet": "10.0.0.0/24/1"}, "portSubnet"),
    ("{router}/routes", {"dstNetworkAddr": "10.1.0.1", "dstNetworkLength": 16},
     "dstNetworkAddr"),
    ("{router}/routes", {"type": "Sideways"}, "type"),
    ("{router}/routes", {"weight": 70000}, "weight"),
    ("{router}/routes", {"nextHopGateway": "gateway"}, "nextHopGateway"),
    ("{chain}/rules", {"type": "accept", "tpDst": {"start": 0, "end": 65536}}, "tpDst.end"),
    ("{chain}/rules", {"type": "accept", "tpDst": {"start": 80}}, "tpDst.end"),
    ("{chain}/rules", {"type": "accept", "tpSrc": {"start": 1, "end": 2, "x": 3}}, "tpSrc.x"),
    ("{chain}/rules", {"type": "accept", "nwSrcAddress": "10.0.0.1", "nwSrcLength": 8},
     "nwSrcAddress"),
    ("{chain}/rules", {"type": "accept", "nwProto": 256}, "nwProto"),
    ("{chain}/rules", {"type": "accept", "dlSrc": "02-00-00-00-00-01"}, "dlSrc"),
    ("{chain}/rules", {"type": "accept", "vlan": 5000}, "vlan"),
    ("{chain}/rules", {"type": "teleport"}, "type"),
    ("{chain}/rules", {"type": "dnat", "natTargets": [{"addressFrom": "1.1.1.1"}]},
     "natTargets.0.addressTo"),
    ("{chain}/rules", {"type": "dnat", "natTargets": [
        {"addressFrom": "1.1.1.1", "addressTo": "1.1.1.1", "portTo": 70000}]},
     "natTargets.0.portTo"),
    ("{chain}/rules", {"type": "accept", "position": 0}, "position"),
    ("{chain}/rules", {"type": "accept", "inPorts": "not-a-list"}, "inPorts"),
    ("/tunnel_zones", {"type": "ipsec"}, "type"),
    ("/port_groups", {"stateful": "true"}, "stateful"),
    ("/pools", {"lbMethod": "random"}, "lbMethod"),
    ("/traces", {"limit": 0}, "limit"),
    ("/traces", {"deviceType": "switch"}, "deviceType"),
    ("{bridge}/dhcp", {"subnetAddress": "10.0.0.0/8", "hosts": [{"mac": "bad",
                                                                "ip_address": "10.0.0.1"}]},
     "hosts.0.mac"),
    ("{bridge}/dhcp", {"serverAddress": "10.0.0"}, "serverAddress"),
    ("/ports", {"type": "Bridge", "deviceId": "zzz"}, "deviceId"),
    ("/ports", {}, "type"),
    # a port without a device, or on two devices at once
    ("/ports", {"type": "Router"}, "deviceId"),
    ("/ports", {"type": "Bridge", "deviceId": "{bridge.id}", "routerId": "{router.id}"},
     "routerId"),
    ("{bridge}/ports", {"routerId": "{router.id}"}, "routerId"),
    # relations
    ("/hosts/{host}/ports", {"portId": "{port.id}"}, "interfaceName"),
    ("/hosts/{host}/ports", {"portId": "x", "interfaceName": "tap"}, "portId"),
    ("/hosts/{host}/ports", {"portId": "{port.id}", "interfaceName": ""}, "interfaceName"),
    ("{tz}/hosts", {"hostId": "{host}", "ipAddress": "300.0.0.1"}, "ipAddress"),
    ("{tz}/hosts", {"hostId": "{host}", "ipAddress": "10.0.0.1", "extra": 1}, "extra"),
    ("{pg}/ports", {"portId": 7}, "portId"),
    ("{ipg}/ip_addrs", {"addr": "10.0.0.0/24"}, "addr"),
    ("{ipg}/ip_addrs", {"addr": "1.2.3.4", "version": 5}, "version"),
    ("{port}/link", {"peerId": "not-a-uuid"}, "peerId"),
    ("{port}/link", {}, "peerId"),
]


def _fill(text: str, objs: dict[str, dict], host: str) -> str:
    for key, obj in objs.items():
        text = text.replace("{" + key + "}", obj["uri"]).replace(
            "{" + key + ".id}", obj["id"])
    return text.replace("{host}", host)


@pytest.mark.parametrize("where,body,field", BAD_FIELDS,
                         ids=[f"{w.split('/')[-1]}-{f}" for w, _, f in BAD_FIELDS])
def test_400_names_the_field(admin: ApiClient, objs, host, unchanged, where, body, field):
    path = _fill(where, objs, host)
    body = json.loads(_fill(json.dumps(body), objs, host))
    resp = admin.expect(400, "POST", path, body)
    err = resp.json()
    assert err["code"] == 400
    assert [v["property"] for v in err["violations"]] == [field], err
    assert field.split(".")[0] in err["message"], err


def test_400_on_put_names_the_field_and_changes_nothing(admin: ApiClient, objs, unchanged):
    port = admin.read(objs["port"]["uri"])
    for change, field in (({"vlanId": 9999}, "vlanId"), ({"name": ["x"]}, "name"),
                          ({"routerId": objs["router"]["id"]}, "routerId"),
                          ({"unknown": True}, "unknown")):
        resp = admin.expect(400, "PUT", port["uri"], dict(port, **change))
        assert resp.json()["violations"][0]["property"] == field
    assert admin.read(port["uri"]) == port


@pytest.mark.parametrize("raw", [
    b"{not json", b"[1, 2]", b"null", b'"a string"', b"42", b'{"name": "a"} trailing',
    b'{"name": "\xff"}', b"[" * 100_000, b'{"name": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
    b'{"a": {"b": {"c": {"d": {"e": ' * 3000 + b"1" + b"}" * 15000 + b"}",
    b'{"vlanId": ' + b"9" * 5000 + b"}", b'{"vlanId": NaN}', b'{"vlanId": 1e400}',
])
def test_malformed_bodies_are_400(admin: ApiClient, objs, unchanged, raw):
    for path in ("/bridges", f"{objs['bridge']['uri']}/ports", f"{objs['pg']['uri']}/ports"):
        resp = admin.expect(400, "POST", path, data=raw,
                            headers={"Content-Type": "application/json"})
        assert resp.json()["code"] == 400
    admin.expect(400, "PUT", objs["bridge"]["uri"], data=raw,
                 headers={"Content-Type": "application/json"})


def test_404(admin: ApiClient, objs, unchanged):
    missing = str(uuid.uuid4())
    for path in (f"/bridges/{missing}", f"/ports/{missing}", f"/hosts/{missing}",
                 f"/rules/{missing}", f"/traces/{missing}", f"/dhcp/{missing}"):
        assert missing in admin.expect(404, "GET", path).json()["message"]
        admin.expect(404, "PUT", path, {})
        admin.expect(404, "DELETE", path)
    for path in (f"/bridges/{missing}/ports", f"/routers/{missing}/routes",
                 f"/chains/{missing}/rules", f"/bridges/{missing}/mac_table",
                 f"/routers/{missing}/arp_table", f"/port_groups/{missing}/ports",
                 f"/ip_addr_groups/{missing}/ip_addrs", f"/tunnel_zones/{missing}/hosts",
                 f"/hosts/{missing}/ports"):
        admin.expect(404, "GET", path)
    admin.expect(404, "POST", f"/bridges/{missing}/ports", {})
    admin.expect(404, "POST", f"/ports/{missing}/link", {"peerId": objs["port"]["id"]})
    admin.expect(404, "GET", f"{objs['pg']['uri']}/ports/{objs['port']['id']}")
    admin.expect(404, "DELETE", f"{objs['ipg']['uri']}/ip_addrs/10.9.9.9")
    # unknown paths, and ids that are not UUIDs
    for path in ("/nothing", "/bridges/not-a-uuid", "/bridges/1234/ports", "/bridges//ports",
                 f"/bridges/{missing}/nothing", "/login/extra"):
        err = admin.expect(404, "GET", path).json()
        assert err["code"] == 404


@pytest.mark.parametrize("method,where,allowed", [
    ("PATCH", "{bridge}", "DELETE, GET, PUT"),
    ("POST", "{bridge}", "DELETE, GET, PUT"),
    ("PUT", "/bridges", "GET, POST"),
    ("DELETE", "/bridges", "GET, POST"),
    ("POST", "/hosts", "GET"),
    ("POST", "{bridge}/mac_table", "GET"),
    ("PUT", "{router}/arp_table", "GET"),
    ("GET", "{port}/link", "DELETE, POST"),
    ("PUT", "/system_state", "GET"),
    ("DELETE", "/", "GET"),
    ("GET", "/login", "POST"),
])
def test_405_with_allow(admin: ApiClient, objs, unchanged, method, where, allowed):
    resp = admin.expect(405, method, _fill(where, objs, ""), {} if method != "GET" else None)
    assert resp.headers["Allow"] == allowed
    assert resp.json()["code"] == 405


def test_406(admin: ApiClient, objs):
    for accept in ("text/html", "application/xml", "application/vnd.org.midonet.Router-v3+json",
                   "image/*"):
        resp = admin.expect(406, "GET", objs["bridge"]["uri"], headers={"Accept": accept})
        assert resp.json()["code"] == 406
    admin.expect(406, "GET", "/system_state", headers={"Accept": "text/plain"})


def test_415(admin: ApiClient, objs, unchanged):
    for ctype in ("text/plain", "application/xml", "application/x-www-form-urlencoded",
                  "application/vnd.org.midonet.Router-v3+json"):
        for method, path in (("POST", "/bridges"), ("PUT", objs["bridge"]["uri"]),
                             ("POST", f"{objs['pg']['uri']}/ports"),
                             ("POST", f"{objs['port']['uri']}/link")):
            resp = admin.expect(415, method, path, data="{}", headers={"Content-Type": ctype})
            assert resp.json()["code"] == 415


def test_409(admin: ApiClient, objs, agent, nsdb: Store):
    # a bridge that still has ports
    admin.expect(409, "DELETE", objs["bridge"]["uri"])
    # a second binding of one interface of a host; one port bound twice
    hv = agent("hv-409")
    p2 = admin.create(f"{objs['bridge']['uri']}/ports", {})
    admin.create(f"/hosts/{hv.id}/ports", {"portId": objs["port"]["id"], "interfaceName": "t"})
    admin.expect(409, "POST", f"/hosts/{hv.id}/ports", {"portId": p2["id"], "interfaceName": "t"})
    admin.expect(409, "POST", f"/hosts/{hv.id}/ports",
                 {"portId": objs["port"]["id"], "interfaceName": "u"})
    # a stale ETag: PUT and DELETE
    got = admin.get(objs["chain"]["uri"])
    etag = got.headers["ETag"]
    admin.update(objs["chain"]["uri"], dict(got.json(), name="moved on"),
                 headers={"If-Match": etag})
    stale = admin.expect(409, "PUT", objs["chain"]["uri"], dict(got.json(), name="lost"),
                         headers={"If-Match": etag})
    assert "version" in stale.json()["message"]
    admin.expect(409, "DELETE", objs["chain"]["uri"], headers={"If-Match": etag})
    assert admin.read(objs["chain"]["uri"])["name"] == "moved on"
    # the current one works, and a malformed one is 400
    current = admin.get(objs["chain"]["uri"]).headers["ETag"]
    admin.expect(400, "PUT", objs["chain"]["uri"], {}, headers={"If-Match": "yesterday"})
    admin.update(objs["chain"]["uri"], {"name": "fresh"}, headers={"If-Match": current})
    # an id that exists
    admin.expect(409, "POST", "/bridges", {"id": objs["bridge"]["id"]})


def test_413_with_content_length(admin: ApiClient, objs, nsdb_zk, cluster):
    before = models_snapshot(nsdb_zk, cluster.root)
    big = json.dumps({"name": "x" * LIMIT}).encode()
    for method, path in (("POST", "/bridges"), ("PUT", objs["bridge"]["uri"]),
                         ("POST", f"{objs['pg']['uri']}/ports")):
        resp = admin.expect(413, method, path, data=big,
                            headers={"Content-Type": "application/json"})
        assert resp.json()["code"] == 413
    # just under the limit is read (and refused for what it says, not its size)
    under = json.dumps({"name": "x" * (LIMIT - 20)}).encode()
    assert len(under) <= LIMIT
    resp = admin.expect(400, "POST", "/bridges", data=under,
                        headers={"Content-Type": "application/json"})
    assert resp.json()["violations"][0]["property"] == "name"
    assert models_snapshot(nsdb_zk, cluster.root) == before
    assert admin.get("/bridges").status_code == 200


def _chunks(data: bytes, size: int = 8192) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i:i + size]


def test_413_chunked(admin: ApiClient, objs, nsdb_zk, cluster):
    before = models_snapshot(nsdb_zk, cluster.root)
    big = json.dumps({"name": "x" * LIMIT}).encode()
    for method, path in (("POST", "/bridges"), ("PUT", objs["bridge"]["uri"]),
                         ("POST", f"{objs['tz']['uri']}/hosts")):
        resp = admin.expect(413, method, path, data=_chunks(big),
                            headers={"Content-Type": "application/json"})
        assert resp.request.headers.get("Transfer-Encoding") == "chunked"
        assert "Content-Length" not in resp.request.headers
    assert models_snapshot(nsdb_zk, cluster.root) == before


def test_chunked_bodies_are_read(admin: ApiClient, nsdb: Store):
    """A chunked body is the body: not an empty one."""
    body = json.dumps({"name": "chunked", "adminStateUp": False}).encode()
    resp = admin.expect(201, "POST", "/bridges", data=_chunks(body, 7),
                        headers={"Content-Type": "application/json"})
    assert resp.request.headers.get("Transfer-Encoding") == "chunked"
    made = resp.json()
    assert (made["name"], made["adminStateUp"]) == ("chunked", False)
    stored = nsdb.get(BY_COLLECTION["bridges"].cls, uuid.UUID(made["id"]))
    assert (stored.name, stored.admin_state_up) == ("chunked", False)
    bad = admin.expect(400, "POST", "/bridges", data=_chunks(b'{"name": 1}', 3),
                       headers={"Content-Type": "application/json"})
    assert bad.json()["violations"][0]["property"] == "name"


def test_refusals_keep_the_connection_usable(cluster, checker, objs):
    """After a 413 (body left unread) the same keep-alive connection serves
    the next request."""
    client = ApiClient(cluster.api_url, checker).login("admin")
    big = b'{"name": "' + b"x" * (LIMIT + 10) + b'"}'
    for _ in range(3):
        client.expect(413, "POST", "/bridges", data=big,
                      headers={"Content-Type": "application/json"})
        assert client.get("/system_state").status_code == 200
    # and the process answers a plain client too
    fresh = requests.get(cluster.api_url + "/openapi.json", timeout=30)
    checker.check(fresh)
    assert fresh.status_code == 200
