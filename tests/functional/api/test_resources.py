"""CRUD of every resource of the REST API against a real cluster process,
each write read back from the NSDB (what the API answered is what the store
holds), and the parents' sub-collections."""
from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from midonet_ryu.api.representation import to_json
from midonet_ryu.api.resources import BY_COLLECTION, RESOURCES
from midonet_ryu.nsdb.store import Store
from midonet_ryu.topology.base import ModelObject
from midonet_ryu.topology.model import Host
from midonet_ryu.topology.rules import Chain, PortRange, RuleAction, RuleType
from tests.functional.api.api_client import ApiClient

Topo = dict[str, dict[str, Any]]


@pytest.fixture(scope="module")
def topo(admin: ApiClient) -> Topo:
    """Parents the resources hang off."""
    bridge = admin.create("/bridges", {"name": "parent-bridge"})
    router = admin.create("/routers", {"name": "parent-router"})
    chain = admin.create("/chains", {"name": "parent-chain"})
    lb = admin.create("/load_balancers", {"routerId": router["id"]})
    pool = admin.create(f"/load_balancers/{lb['id']}/pools", {})
    return {"bridge": bridge, "router": router, "chain": chain, "lb": lb, "pool": pool}


@dataclasses.dataclass(frozen=True)
class Recipe:
    """How to create one resource and what the store must then hold."""

    name: str
    collection: str
    path: Callable[[Topo], str]  # where to POST
    body: Callable[[Topo], dict[str, Any]]
    stored: Callable[[Topo], dict[str, Any]]  # model attribute (dotted) -> value
    change: dict[str, Any]  # fields a PUT changes
    changed: dict[str, Any]  # model attribute -> value after the PUT
    parent: str | None = None  # the topo key whose sub-collection lists it


def _id(topo: Topo, key: str) -> uuid.UUID:
    return uuid.UUID(topo[key]["id"])


RECIPES = [
    Recipe("bridge", "bridges", lambda t: "/bridges",
           lambda t: {"name": "b1", "adminStateUp": False, "tenantId": "t-1"},
           lambda t: {"name": "b1", "admin_state_up": False, "tenant_id": "t-1"},
           {"name": "b2", "adminStateUp": True}, {"name": "b2", "admin_state_up": True}),
    Recipe("router", "routers", lambda t: "/routers",
           lambda t: {"name": "r1", "inboundFilterId": t["chain"]["id"]},
           lambda t: {"name": "r1", "inbound_filter_id": _id(t, "chain")},
           {"name": "r2", "inboundFilterId": None},
           {"name": "r2", "inbound_filter_id": None}),
    Recipe("bridge port", "ports", lambda t: f"/bridges/{t['bridge']['id']}/ports",
           lambda t: {"name": "bp", "vlanId": 10},
           lambda t: {"network_id": _id(t, "bridge"), "router_id": None, "vlan_id": 10,
                      "name": "bp"},
           {"vlanId": 4095, "adminStateUp": False}, {"vlan_id": 4095, "admin_state_up": False},
           parent="bridge"),
    Recipe("router port", "ports", lambda t: f"/routers/{t['router']['id']}/ports",
           lambda t: {"portAddress": "10.0.0.1", "networkAddress": "10.0.0.0",
                      "networkLength": 24, "portMac": "02:00:00:00:00:01"},
           lambda t: {"router_id": _id(t, "router"), "network_id": None,
                      "port_address": "10.0.0.1", "port_subnet": "10.0.0.0/24",
                      "port_mac": "02:00:00:00:00:01"},
           {"networkLength": 16}, {"port_subnet": "10.0.0.0/16"}, parent="router"),
    Recipe("port by type and deviceId", "ports", lambda t: "/ports",
           lambda t: {"type": "Bridge", "deviceId": t["bridge"]["id"]},
           lambda t: {"network_id": _id(t, "bridge"), "router_id": None},
           {"name": "renamed"}, {"name": "renamed"}, parent="bridge"),
    Recipe("router port by type and deviceId", "ports", lambda t: "/ports",
           lambda t: {"type": "Router", "deviceId": t["router"]["id"],
                      "portAddress": "192.168.1.1"},
           lambda t: {"router_id": _id(t, "router"), "network_id": None,
                      "port_address": "192.168.1.1"},
           {"portAddress": "192.168.1.2"}, {"port_address": "192.168.1.2"}, parent="router"),
    Recipe("chain", "chains", lambda t: "/chains", lambda t: {"name": "c1"},
           lambda t: {"name": "c1"}, {"name": "c2"}, {"name": "c2"}),
    Recipe("accept rule", "rules", lambda t: f"/chains/{t['chain']['id']}/rules",
           lambda t: {"type": "accept", "nwSrcAddress": "10.0.0.0", "nwSrcLength": 8,
                      "nwProto": 6, "tpDst": {"start": 80, "end": 443}, "invNwDst": True,
                      "dlSrc": "02:00:00:00:00:aa"},
           lambda t: {"chain_id": _id(t, "chain"), "type": RuleType.LITERAL_RULE,
                      "action": RuleAction.ACCEPT, "condition.nw_src_ip": "10.0.0.0/8",
                      "condition.nw_proto": 6, "condition.tp_dst": PortRange(80, 443),
                      "condition.nw_dst_inv": True, "condition.dl_src": "02:00:00:00:00:aa"},
           {"type": "drop", "nwSrcLength": 16, "tpDst": None},
           {"action": RuleAction.DROP, "condition.nw_src_ip": "10.0.0.0/16",
            "condition.tp_dst": None}, parent="chain"),
    Recipe("snat rule", "rules", lambda t: f"/chains/{t['chain']['id']}/rules",
           lambda t: {"type": "snat", "flowAction": "continue", "natTargets": [
               {"addressFrom": "1.1.1.1", "addressTo": "1.1.1.2", "portFrom": 1000,
                "portTo": 2000}]},
           lambda t: {"type": RuleType.NAT_RULE, "action": RuleAction.CONTINUE,
                      "nat_rule_data.dnat": False, "nat_rule_data.reverse": False,
                      "nat_rule_data.nat_targets.0.nw_start": "1.1.1.1",
                      "nat_rule_data.nat_targets.0.nw_end": "1.1.1.2",
                      "nat_rule_data.nat_targets.0.tp_start": 1000,
                      "nat_rule_data.nat_targets.0.tp_end": 2000},
           {"type": "dnat"}, {"nat_rule_data.dnat": True, "nat_rule_data.reverse": False},
           parent="chain"),
    Recipe("rev_snat rule", "rules", lambda t: f"/chains/{t['chain']['id']}/rules",
           lambda t: {"type": "rev_snat"},
           lambda t: {"type": RuleType.NAT_RULE, "nat_rule_data.reverse": True,
                      "nat_rule_data.dnat": False},
           {"type": "rev_dnat"}, {"nat_rule_data.reverse": True, "nat_rule_data.dnat": True},
           parent="chain"),
    Recipe("jump rule", "rules", lambda t: "/rules",
           lambda t: {"chainId": t["chain"]["id"], "type": "jump",
                      "jumpChainId": t["chain"]["id"]},
           lambda t: {"type": RuleType.JUMP_RULE, "jump_chain_id": _id(t, "chain")},
           {"type": "return", "jumpChainId": None},
           {"type": RuleType.LITERAL_RULE, "action": RuleAction.RETURN, "jump_chain_id": None},
           parent="chain"),
    Recipe("route", "routes", lambda t: f"/routers/{t['router']['id']}/routes",
           lambda t: {"srcNetworkAddr": "10.0.0.0", "srcNetworkLength": 8,
                      "dstNetworkAddr": "172.16.0.0", "dstNetworkLength": 12,
                      "type": "BlackHole", "weight": 5},
           lambda t: {"router_id": _id(t, "router"), "src_subnet": "10.0.0.0/8",
                      "dst_subnet": "172.16.0.0/12", "next_hop": "blackhole", "weight": 5},
           {"type": "Reject", "dstNetworkLength": 16},
           {"next_hop": "reject", "dst_subnet": "172.16.0.0/16"}, parent="router"),
    Recipe("port group", "port_groups", lambda t: "/port_groups",
           lambda t: {"name": "pg", "stateful": True},
           lambda t: {"name": "pg", "stateful": True},
           {"stateful": False}, {"stateful": False}),
    Recipe("IP address group", "ip_addr_groups", lambda t: "/ip_addr_groups",
           lambda t: {"name": "ipg"}, lambda t: {"name": "ipg"},
           {"name": "ipg2"}, {"name": "ipg2"}),
    Recipe("tunnel zone", "tunnel_zones", lambda t: "/tunnel_zones",
           lambda t: {"name": "tz", "type": "gre"}, lambda t: {"name": "tz", "type": "gre"},
           {"type": "vxlan"}, {"type": "vxlan"}),
    Recipe("load balancer", "load_balancers", lambda t: "/load_balancers",
           lambda t: {"adminStateUp": False}, lambda t: {"admin_state_up": False},
           {"adminStateUp": True}, {"admin_state_up": True}),
    Recipe("pool", "pools", lambda t: f"/load_balancers/{t['lb']['id']}/pools",
           lambda t: {"lbMethod": "round_robin", "protocol": "tcp", "status": "inactive"},
           lambda t: {"load_balancer_id": _id(t, "lb"), "status": "inactive"},
           {"status": "active"}, {"status": "active"}, parent="lb"),
    Recipe("pool member", "pool_members", lambda t: f"/pools/{t['pool']['id']}/pool_members",
           lambda t: {"address": "10.0.0.5", "protocolPort": 8080, "weight": 3},
           lambda t: {"pool_id": _id(t, "pool"), "address": "10.0.0.5",
                      "protocol_port": 8080, "weight": 3},
           {"weight": 0}, {"weight": 0}, parent="pool"),
    Recipe("vip", "vips", lambda t: f"/pools/{t['pool']['id']}/vips",
           lambda t: {"address": "203.0.113.7", "protocolPort": 443,
                      "sessionPersistence": "source_ip"},
           lambda t: {"pool_id": _id(t, "pool"), "address": "203.0.113.7",
                      "protocol_port": 443, "session_persistence": "source_ip"},
           {"sessionPersistence": None}, {"session_persistence": None}, parent="pool"),
    Recipe("health monitor", "health_monitors", lambda t: "/health_monitors",
           lambda t: {"delay": 2, "timeout": 1, "maxRetries": 4},
           lambda t: {"delay": 2, "timeout": 1, "max_retries": 4, "type": "tcp"},
           {"adminStateUp": False}, {"admin_state_up": False}),
    Recipe("dhcp subnet", "dhcp", lambda t: f"/bridges/{t['bridge']['id']}/dhcp",
           lambda t: {"subnetAddress": "10.1.0.0/24", "serverAddress": "10.1.0.2",
                      "defaultGateway": "10.1.0.1", "dnsServerAddress": ["8.8.8.8"],
                      "hosts": [{"mac": "02:00:00:00:01:01", "ip_address": "10.1.0.10"}]},
           lambda t: {"network_id": _id(t, "bridge"), "subnet_address": "10.1.0.0/24",
                      "dns_server_address": ("8.8.8.8",),
                      "hosts.0.mac": "02:00:00:00:01:01", "hosts.0.ip_address": "10.1.0.10"},
           {"leaseTime": 600, "enabled": False}, {"lease_time": 600, "enabled": False},
           parent="bridge"),
    Recipe("trace request", "traces", lambda t: "/traces",
           lambda t: {"name": "tr", "deviceType": "bridge", "deviceId": t["bridge"]["id"],
                      "nwSrcAddress": "10.0.0.0", "nwSrcLength": 24, "limit": 50},
           lambda t: {"name": "tr", "device_type": "bridge", "device_id": _id(t, "bridge"),
                      "condition.nw_src_ip": "10.0.0.0/24", "limit": 50, "enabled": False},
           {"enabled": True, "limit": 10}, {"enabled": True, "limit": 10}),
]


def _attr(obj: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        obj = obj[int(part)] if part.isdigit() else getattr(obj, part)
    return getattr(obj, "value", obj) if not isinstance(obj, (str, int, bool)) and hasattr(
        obj, "value") else obj


def _expect_stored(nsdb: Store, collection: str, obj_id: str, expected: dict[str, Any]) -> Any:
    obj = nsdb.get(BY_COLLECTION[collection].cls, uuid.UUID(obj_id))
    for dotted, value in expected.items():
        got = _attr(obj, dotted)
        want = getattr(value, "value", value) if hasattr(value, "value") else value
        assert got == want, f"stored {dotted} is {got!r}, not {want!r} ({obj})"
    return obj


def test_every_resource_has_a_recipe():
    creatable = {r.collection for r in RESOURCES if r.creatable}
    assert creatable == {r.collection for r in RECIPES}


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda r: r.name)
def test_crud(recipe: Recipe, admin: ApiClient, nsdb: Store, topo: Topo):
    res = BY_COLLECTION[recipe.collection]
    created_resp = admin.expect(201, "POST", recipe.path(topo), recipe.body(topo))
    created = created_resp.json()
    _assert_echoes(recipe.body(topo), created)
    uri = created["uri"]
    assert created_resp.headers["Location"] == uri
    assert uri == f"{admin.api_url}/{recipe.collection}/{created['id']}"
    _expect_stored(nsdb, recipe.collection, created["id"], recipe.stored(topo))

    got = admin.get(uri)
    assert got.status_code == 200
    assert got.json() == created
    _, version = nsdb.get_with_version(res.cls, uuid.UUID(created["id"]))
    assert got.headers["ETag"] == f'"{version}"'

    listed = admin.read(f"/{recipe.collection}")
    assert created["id"] in [o["id"] for o in listed]
    if recipe.parent is not None:
        parent = topo[recipe.parent]
        under = admin.read(f"{parent['uri']}/{recipe.collection}")
        assert created in under
        field = _parent_field(parent)
        assert all(o[field] == parent["id"] for o in under), under

    updated = admin.update(uri, dict(created, **recipe.change))
    _assert_echoes(recipe.change, updated)
    assert admin.read(uri) == updated
    _expect_stored(nsdb, recipe.collection, created["id"], recipe.changed)
    _, new_version = nsdb.get_with_version(res.cls, uuid.UUID(created["id"]))
    assert new_version > version

    admin.remove(uri)
    admin.expect(404, "GET", uri)
    assert nsdb.find(res.cls, uuid.UUID(created["id"])) is None
    assert created["id"] not in [o["id"] for o in admin.read(f"/{recipe.collection}")]


def _assert_echoes(sent: Any, answered: Any, where: str = "") -> None:
    """The answer shows what was sent (objects may add fields: their defaults)."""
    if isinstance(sent, dict):
        for key, value in sent.items():
            assert key in answered, f"{where}{key} missing from {answered}"
            _assert_echoes(value, answered[key], f"{where}{key}.")
    elif isinstance(sent, list):
        assert isinstance(answered, list) and len(answered) == len(sent), (where, answered)
        for i, (s, a) in enumerate(zip(sent, answered, strict=True)):
            _assert_echoes(s, a, f"{where}{i}.")
    else:
        assert answered == sent, f"{where.rstrip('.')}: sent {sent!r}, answered {answered!r}"


def _parent_field(parent: dict[str, Any]) -> str:
    kind = parent["uri"].split("/")[-2]
    return {"bridges": "networkId", "routers": "routerId", "chains": "chainId",
            "load_balancers": "loadBalancerId", "pools": "poolId"}[kind]


def test_parent_lists_only_its_children(admin: ApiClient):
    b1 = admin.create("/bridges", {"name": "one"})
    b2 = admin.create("/bridges", {"name": "two"})
    p1 = admin.create(f"/bridges/{b1['id']}/ports", {})
    p2 = admin.create(f"/bridges/{b2['id']}/ports", {})
    assert [p["id"] for p in admin.read(f"{b1['uri']}/ports")] == [p1["id"]]
    assert [p["id"] for p in admin.read(f"{b2['uri']}/ports")] == [p2["id"]]
    # the parent's representation carries its children's ids and the sub-collection URI
    b1 = admin.read(b1["uri"])
    assert b1["portIds"] == [p1["id"]]
    assert b1["ports"] == f"{b1['uri']}/ports"
    assert p1["type"] == "Bridge" and p1["deviceId"] == b1["id"]


def test_router_sub_collections(admin: ApiClient, nsdb: Store):
    router = admin.create("/routers", {"name": "sub"})
    port = admin.create(f"{router['uri']}/ports", {"portAddress": "10.9.0.1",
                                                    "networkAddress": "10.9.0.0",
                                                    "networkLength": 24})
    route = admin.create(f"{router['uri']}/routes", {
        "dstNetworkAddr": "10.10.0.0", "dstNetworkLength": 16, "nextHopPort": port["id"],
        "nextHopGateway": "10.9.0.254", "type": "Normal"})
    assert [p["id"] for p in admin.read(f"{router['uri']}/ports")] == [port["id"]]
    assert [r["id"] for r in admin.read(f"{router['uri']}/routes")] == [route["id"]]
    assert route["srcNetworkAddr"] == "0.0.0.0" and route["srcNetworkLength"] == 0
    stored = nsdb.get(BY_COLLECTION["routes"].cls, uuid.UUID(route["id"]))
    assert (stored.next_hop_port_id, stored.next_hop_gateway, stored.dst_subnet) == (
        uuid.UUID(port["id"]), "10.9.0.254", "10.10.0.0/16")
    # the port's back-reference to the routes leaving by it
    assert admin.read(port["uri"])["routeIds"] == [route["id"]]
    # deleting the port takes its routes with it (the store's cascade)
    admin.remove(port["uri"])
    admin.expect(404, "GET", route["uri"])
    assert admin.read(f"{router['uri']}/routes") == []


def test_rules_list_in_chain_order_and_position_inserts(admin: ApiClient, nsdb: Store):
    chain = admin.create("/chains", {"name": "ordered"})
    rules = f"{chain['uri']}/rules"
    first = admin.create(rules, {"type": "accept"})
    second = admin.create(rules, {"type": "drop"})
    head = admin.create(rules, {"type": "reject", "position": 1})
    middle = admin.create(rules, {"type": "return", "position": 3})
    tail = admin.create(rules, {"type": "continue", "position": 5})  # one past the end
    want = [head["id"], first["id"], middle["id"], second["id"], tail["id"]]
    assert [r["id"] for r in admin.read(rules)] == want
    assert [r["type"] for r in admin.read(rules)] == [
        "reject", "accept", "return", "drop", "continue"]
    assert [str(i) for i in nsdb.get(Chain, uuid.UUID(chain["id"])).rule_ids] == want
    assert admin.read(chain["uri"])["ruleIds"] == want
    # past one beyond the end is refused, naming the field; nothing is created
    resp = admin.expect(400, "POST", rules, {"type": "drop", "position": 7})
    assert resp.json()["violations"][0]["property"] == "position"
    assert [r["id"] for r in admin.read(rules)] == want
    # deleting a rule closes the gap
    admin.remove(middle["uri"])
    want.remove(middle["id"])
    assert [r["id"] for r in admin.read(rules)] == want


def test_hosts_are_read_updated_and_deleted_not_created(admin: ApiClient, nsdb: Store,
                                                         agent):
    hv = agent("hv-crud")
    admin.expect(405, "POST", "/hosts", {"name": "x"})
    host = admin.read(f"/hosts/{hv.id}")
    assert host["name"] == "hv-crud" and host["alive"] is True
    assert str(hv.id) in [h["id"] for h in admin.read("/hosts")]
    updated = admin.update(host["uri"], dict(host, floodingProxyWeight=7, name="renamed"))
    assert updated["floodingProxyWeight"] == 7
    assert updated["name"] == "hv-crud"  # the agent's: read-only
    assert nsdb.get(Host, hv.id).flooding_proxy_weight == 7
    # alive: refused; once the agent's session is gone, deleted
    resp = admin.expect(409, "DELETE", host["uri"])
    assert "alive" in resp.json()["message"]
    assert nsdb.find(Host, hv.id) is not None
    hv.stop()
    assert admin.read(host["uri"])["alive"] is False
    admin.remove(host["uri"])
    assert nsdb.find(Host, hv.id) is None
    admin.expect(404, "GET", host["uri"])


def test_delete_refused_while_ports_remain_then_allowed(admin: ApiClient, nsdb: Store):
    for kind in ("bridges", "routers"):
        device = admin.create(f"/{kind}", {})
        port = admin.create(f"{device['uri']}/ports", {})
        resp = admin.expect(409, "DELETE", device["uri"])
        assert "ports" in resp.json()["message"]
        assert nsdb.find(BY_COLLECTION[kind].cls, uuid.UUID(device["id"])) is not None
        admin.remove(port["uri"])
        admin.remove(device["uri"])
        assert nsdb.find(BY_COLLECTION[kind].cls, uuid.UUID(device["id"])) is None


def test_client_chosen_id_is_kept(admin: ApiClient, nsdb: Store):
    chosen = str(uuid.uuid4())
    bridge = admin.create("/bridges", {"id": chosen, "name": "chosen"})
    assert bridge["id"] == chosen
    assert nsdb.get(BY_COLLECTION["bridges"].cls, uuid.UUID(chosen)).name == "chosen"
    resp = admin.expect(409, "POST", "/bridges", {"id": chosen})
    assert chosen in resp.json()["message"]


def test_store_reads_back_as_the_api_answered(admin: ApiClient, nsdb: Store, topo: Topo):
    """Every object the API lists is the representation of what the store holds."""
    for res in RESOURCES:
        listed = admin.read(f"/{res.collection}")
        for item in listed:
            obj: ModelObject = nsdb.get(res.cls, uuid.UUID(item["id"]))
            extra = {k: item[k] for k in ("alive", "addresses") if res.collection == "hosts"}
            assert to_json(res, obj, admin.api_url, extra) == item
