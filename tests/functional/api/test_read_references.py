"""References a tenant's rule or trace request only reads through (a rule
matching on a port group's members or an address group, a trace on a port)
stay inside the tenant: naming another tenant's object is 403, one's own is
fine, and what an admin set is kept when the tenant updates the rest."""
import pytest

from tests.functional.api.api_client import ApiClient

pytestmark = pytest.mark.functional


@pytest.fixture(scope="module")
def bobs(bob: ApiClient) -> dict:
    bridge = bob.create("/bridges", {"name": "bob-net"})
    return {"group": bob.create("/port_groups", {"name": "bob-pg"}),
            "addrs": bob.create("/ip_addr_groups", {"name": "bob-ips"}),
            "port": bob.create(bridge["ports"], {"name": "bob-port"}), "bridge": bridge}


@pytest.mark.parametrize("field, what", [
    ("portGroup", "group"), ("inPortGroup", "group"), ("ipAddrGroupSrc", "addrs"),
    ("ipAddrGroupDst", "addrs"), ("inPorts", "port"), ("traversedDevice", "bridge"),
])
def test_a_rule_cannot_name_another_tenants_objects(alice: ApiClient, admin: ApiClient, bobs,
                                                    field, what):
    chain = alice.create("/chains", {"name": f"a-{field}"})
    ref = bobs[what]["id"]
    alice.expect(403, "POST", chain["rules"],
                 {"type": "drop", field: [ref] if field == "inPorts" else ref})
    assert alice.read(chain["rules"]) == []
    # an admin may; the tenant's later update of other fields keeps it
    rule = admin.create(chain["rules"], {"type": "drop",
                                         field: [ref] if field == "inPorts" else ref})
    updated = alice.update(rule["uri"], dict(alice.read(rule["uri"]), nwProto=6))
    assert updated["nwProto"] == 6


def test_own_objects_may_be_named(alice: ApiClient):
    group = alice.create("/port_groups", {"name": "a-pg"})
    chain = alice.create("/chains", {"name": "a-own"})
    rule = alice.create(chain["rules"], {"type": "accept", "portGroup": group["id"]})
    assert rule["portGroup"] == group["id"]


def test_a_trace_cannot_watch_another_tenants_port(alice: ApiClient, bobs):
    alice.expect(403, "POST", "/traces", {"name": "peek", "deviceType": "port",
                                          "deviceId": bobs["port"]["id"], "enabled": True})
