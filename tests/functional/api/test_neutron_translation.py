"""The cluster's /neutron endpoints against a real cluster and ZooKeeper: the
Neutron dicts Neutron's plugin sends, what the NSDB holds after each, and the
refusals. (Neutron itself drives these in tests/neutron, in its own venv.)"""
from __future__ import annotations

import threading
import time
import uuid

import pytest

from midonet_ryu.neutron.ids import derived
from midonet_ryu.nsdb.hosts import publish_port_active
from midonet_ryu.topology.dhcp import Dhcp, DhcpHost, DhcpRoute
from midonet_ryu.topology.model import Network, Port
from midonet_ryu.topology.router import Route, Router
from midonet_ryu.topology.rules import Chain, IPAddrGroup, Rule, RuleAction, RuleType

pytestmark = pytest.mark.functional

TENANT = "tenant-n"


def uid() -> str:
    return str(uuid.uuid4())


def network_body(**kw):
    return {"id": uid(), "name": "net", "tenant_id": TENANT, "project_id": TENANT,
            "admin_state_up": True, "mtu": 1450, "status": "ACTIVE", "subnets": [],
            "shared": False, "router:external": False, "provider:network_type": "vxlan",
            "provider:physical_network": None, "provider:segmentation_id": 1001, **kw}


def subnet_body(net, cidr="192.0.2.0/24", gateway="192.0.2.1", **kw):
    return {"id": uid(), "name": "sub", "tenant_id": TENANT, "network_id": net["id"],
            "ip_version": 4, "cidr": cidr, "gateway_ip": gateway, "enable_dhcp": True,
            "dns_nameservers": ["198.51.100.53"], "host_routes": [],
            "allocation_pools": [], **kw}


def port_body(net, subnet, ip, mac, **kw):
    return {"id": uid(), "name": "vm", "tenant_id": TENANT, "network_id": net["id"],
            "mac_address": mac, "admin_state_up": True, "status": "DOWN",
            "device_owner": "compute:nova", "device_id": uid(),
            "fixed_ips": [{"subnet_id": subnet["id"], "ip_address": ip}],
            "security_groups": [], "port_security_enabled": True,
            "allowed_address_pairs": [], "binding:host_id": "", **kw}


def sg_rule(sg_id, direction, protocol=None, low=None, high=None, ethertype="IPv4", **kw):
    return {"id": uid(), "security_group_id": sg_id, "direction": direction,
            "ethertype": ethertype, "protocol": protocol, "port_range_min": low,
            "port_range_max": high, "remote_ip_prefix": None, "remote_group_id": None,
            "remote_address_group_id": None, **kw}


def sg_body(rules_of=lambda sg_id: []):
    sg_id = uid()
    return {"id": sg_id, "name": "web", "tenant_id": TENANT, "description": "",
            "security_group_rules": rules_of(sg_id)}


def put(admin, collection, body, status=200):
    resp = admin.expect(status, "PUT", f"/neutron/{collection}/{body['id']}", body)
    return resp.json()


def rules_of(nsdb, chain_id):
    return [nsdb.get(Rule, r) for r in nsdb.get(Chain, chain_id).rule_ids]


def ip4_mac_entries(nsdb_zk, paths, network_id):
    path = paths.table("Network", uuid.UUID(network_id), "ip4_mac_table")
    return sorted(nsdb_zk.get_children(path)) if nsdb_zk.exists(path) else []


def test_network_subnet_and_secured_port(admin, nsdb, nsdb_zk, paths, agent):
    hv = agent("hv-neutron-1")
    net = network_body()
    assert put(admin, "networks", net) == {"id": net["id"], "result": "created"}
    sub = subnet_body(net, host_routes=[{"destination": "203.0.113.0/24",
                                         "nexthop": "192.0.2.254"}])
    put(admin, "subnets", sub)
    sg = sg_body(lambda g: [sg_rule(g, "ingress", "icmp"),
                            sg_rule(g, "ingress", "tcp", 22, 22),
                            sg_rule(g, "ingress", "tcp", 80, 80, remote_group_id=g),
                            sg_rule(g, "egress"), sg_rule(g, "egress", ethertype="IPv6")])
    put(admin, "security_groups", sg)
    vm = port_body(net, sub, "192.0.2.10", "fa:16:3e:00:00:10", security_groups=[sg["id"]],
                   allowed_address_pairs=[{"ip_address": "192.0.2.100",
                                           "mac_address": "fa:16:3e:00:00:10"}],
                   **{"binding:host_id": hv.name})
    put(admin, "ports", vm)

    bridge = nsdb.get(Network, uuid.UUID(net["id"]))
    assert (bridge.name, bridge.tenant_id) == ("net", TENANT)
    dhcp = nsdb.get(Dhcp, uuid.UUID(sub["id"]))
    assert dhcp.subnet_address == "192.0.2.0/24" and dhcp.default_gateway == "192.0.2.1"
    assert dhcp.interface_mtu == 1450 and dhcp.dns_server_address == ("198.51.100.53",)
    # option 121 overrides option 3, so the default route travels with the host route
    assert dhcp.opt121_routes == (DhcpRoute("0.0.0.0/0", "192.0.2.1"),
                                  DhcpRoute("203.0.113.0/24", "192.0.2.254"))
    assert dhcp.hosts == (DhcpHost("fa:16:3e:00:00:10", "192.0.2.10"),)

    port = nsdb.get(Port, uuid.UUID(vm["id"]))
    assert port.network_id == bridge.id and port.host_id == hv.id
    from_vm = rules_of(nsdb, port.inbound_filter_id)
    # anti-spoofing: each (MAC, source) pair jumps on, ARP from its MAC, the rest dropped
    assert [(r.condition.dl_src, r.condition.nw_src_ip) for r in from_vm
            if r.type is RuleType.JUMP_RULE] == [("fa:16:3e:00:00:10", "192.0.2.10/32"),
                                                 ("fa:16:3e:00:00:10", "192.0.2.100/32")]
    assert from_vm[-1].action is RuleAction.DROP
    to_vm = rules_of(nsdb, port.outbound_filter_id)
    assert to_vm[0].condition.match_return_flow and to_vm[-1].action is RuleAction.DROP
    assert [r.jump_chain_id for r in to_vm if r.type is RuleType.JUMP_RULE] == [
        derived(sg["id"], "ingress")]
    ingress = rules_of(nsdb, derived(sg["id"], "ingress"))
    assert sorted((r.condition.nw_proto, r.condition.tp_dst and r.condition.tp_dst.start,
                   r.condition.ip_addr_group_id_src) for r in ingress) == sorted(
        [(1, None, None), (6, 22, None), (6, 80, uuid.UUID(sg["id"]))])
    assert len(rules_of(nsdb, derived(sg["id"], "egress"))) == 1  # the IPv6 rule is not
    members = nsdb.get(IPAddrGroup, uuid.UUID(sg["id"])).ip_addr_ports
    assert [(m.ip_address, m.port_ids) for m in members] == [
        ("192.0.2.10", (uuid.UUID(vm["id"]),))]
    assert ip4_mac_entries(nsdb_zk, paths, net["id"]) == [
        "192.0.2.10,fa:16:3e:00:00:10,2147483647"]

    # the port moves to another address and leaves its group: the old entries go
    vm2 = dict(vm, fixed_ips=[{"subnet_id": sub["id"], "ip_address": "192.0.2.11"}],
               security_groups=[])
    assert put(admin, "ports", vm2)["result"] == "updated"
    assert nsdb.get(Dhcp, dhcp.id).hosts == (DhcpHost("fa:16:3e:00:00:10", "192.0.2.11"),)
    assert nsdb.get(IPAddrGroup, uuid.UUID(sg["id"])).ip_addr_ports == ()
    assert ip4_mac_entries(nsdb_zk, paths, net["id"]) == [
        "192.0.2.11,fa:16:3e:00:00:10,2147483647"]
    assert not any(r.type is RuleType.JUMP_RULE and r.jump_chain_id ==
                   derived(sg["id"], "ingress")
                   for r in rules_of(nsdb, nsdb.get(Port, port.id).outbound_filter_id))
    # sending the same again changes nothing
    assert put(admin, "ports", vm2)["result"] == "unchanged"
    # a group's rule removed is the group sent again
    sg["security_group_rules"] = [r for r in sg["security_group_rules"]
                                  if r["protocol"] != "icmp"]
    put(admin, "security_groups", sg)
    assert 1 not in {r.condition.nw_proto for r in rules_of(nsdb, derived(sg["id"], "ingress"))}

    # port security off: no filters, and their chains are gone
    put(admin, "ports", dict(vm2, port_security_enabled=False, security_groups=[]))
    assert nsdb.get(Port, port.id).inbound_filter_id is None
    assert nsdb.find(Chain, port.inbound_filter_id) is None

    for collection, body in (("ports", vm), ("security_groups", sg), ("subnets", sub),
                             ("networks", net)):
        admin.expect(204, "DELETE", f"/neutron/{collection}/{body['id']}")
        admin.expect(204, "DELETE", f"/neutron/{collection}/{body['id']}")  # idempotent
    assert nsdb.find(Network, bridge.id) is None and nsdb.find(Port, port.id) is None
    assert nsdb.find(IPAddrGroup, uuid.UUID(sg["id"])) is None
    assert ip4_mac_entries(nsdb_zk, paths, net["id"]) == []
    assert nsdb_zk.get_children(f"{paths.root}/neutron/ports") == []


def test_router_gateway_interface_extra_route_and_floating_ip(admin, nsdb, nsdb_zk, paths):
    ext = network_body(name="public", **{"router:external": True})
    ext_sub = subnet_body(ext, "203.0.113.0/24", "203.0.113.1")
    net = network_body()
    sub = subnet_body(net)
    for collection, body in (("networks", ext), ("subnets", ext_sub), ("networks", net),
                             ("subnets", sub)):
        put(admin, collection, body)
    router = {"id": uid(), "name": "r", "tenant_id": TENANT, "admin_state_up": True,
              "external_gateway_info": None, "routes": [], "gw_port_id": None}
    put(admin, "routers", router)
    gw_port = port_body(ext, ext_sub, "203.0.113.5", "fa:16:3e:00:00:01", tenant_id="",
                        device_owner="network:router_gateway", device_id=router["id"])
    put(admin, "ports", gw_port)
    router.update(gw_port_id=gw_port["id"], external_gateway_info={
        "network_id": ext["id"], "enable_snat": True,
        "external_fixed_ips": [{"subnet_id": ext_sub["id"], "ip_address": "203.0.113.5"}]})
    put(admin, "routers", router)
    iface = port_body(net, sub, "192.0.2.1", "fa:16:3e:00:00:02",
                      device_owner="network:router_interface", device_id=router["id"])
    put(admin, "ports", iface)
    vm = port_body(net, sub, "192.0.2.10", "fa:16:3e:00:00:10")
    put(admin, "ports", vm)
    router["routes"] = [{"destination": "198.51.100.0/24", "nexthop": "192.0.2.254"}]
    put(admin, "routers", router)

    r = nsdb.get(Router, uuid.UUID(router["id"]))
    gw_rp, if_rp = derived(gw_port["id"], "router-port"), derived(iface["id"], "router-port")
    assert set(r.port_ids) == {gw_rp, if_rp}
    assert nsdb.get(Port, if_rp).peer_id == uuid.UUID(iface["id"])
    assert nsdb.get(Port, uuid.UUID(iface["id"])).peer_id == if_rp
    assert (nsdb.get(Port, gw_rp).port_address, nsdb.get(Port, gw_rp).port_subnet) == (
        "203.0.113.5", "203.0.113.0/24")
    routes = {(x.dst_subnet, x.next_hop_port_id, x.next_hop_gateway)
              for x in (nsdb.get(Route, i) for i in r.route_ids)}
    assert routes == {("0.0.0.0/0", gw_rp, "203.0.113.1"),
                      ("198.51.100.0/24", if_rp, "192.0.2.254")}
    post = rules_of(nsdb, r.outbound_filter_id)
    assert post[0].type is RuleType.JUMP_RULE  # floating IPs first, then SNAT
    snat = post[1].nat_rule_data.nat_targets[0]
    assert (snat.nw_start, snat.tp_start, snat.tp_end) == ("203.0.113.5", 1024, 65535)
    assert post[1].condition.out_port_ids == (gw_rp,)

    fip = {"id": uid(), "tenant_id": TENANT, "floating_ip_address": "203.0.113.20",
           "floating_network_id": ext["id"], "router_id": router["id"], "port_id": vm["id"],
           "fixed_ip_address": "192.0.2.10", "status": "DOWN"}
    put(admin, "floatingips", fip)
    (dnat,) = rules_of(nsdb, derived(router["id"], "fip-inbound"))
    assert dnat.condition.nw_dst_ip == "203.0.113.20/32"
    assert dnat.nat_rule_data.dnat and dnat.nat_rule_data.nat_targets[0].nw_start == "192.0.2.10"
    (fsnat,) = rules_of(nsdb, derived(router["id"], "fip-outbound"))
    assert fsnat.condition.nw_src_ip == "192.0.2.10/32"
    assert ip4_mac_entries(nsdb_zk, paths, ext["id"]) == [
        "203.0.113.20,fa:16:3e:00:00:01,2147483647"]
    # disassociated: its NAT and ARP entry go, the router's SNAT stays
    put(admin, "floatingips", dict(fip, port_id=None, fixed_ip_address=None))
    assert rules_of(nsdb, derived(router["id"], "fip-inbound")) == []
    assert ip4_mac_entries(nsdb_zk, paths, ext["id"]) == []
    # SNAT off
    router["external_gateway_info"]["enable_snat"] = False
    put(admin, "routers", router)
    assert len(rules_of(nsdb, r.outbound_filter_id)) == 1


def test_a_vm_port_becomes_a_router_interface_and_back(admin, nsdb):
    """Neutron's router interface by port id: the port first exists as a VM's,
    then is updated into the router's (its owner and device change), then
    released again."""
    net = network_body()
    sub = subnet_body(net)
    router = {"id": uid(), "name": "r", "tenant_id": TENANT, "admin_state_up": True,
              "external_gateway_info": None, "routes": [], "gw_port_id": None}
    for collection, body in (("networks", net), ("subnets", sub), ("routers", router)):
        put(admin, collection, body)
    port = port_body(net, sub, "192.0.2.7", "fa:16:3e:00:00:07")
    put(admin, "ports", port)
    port_id, router_port = uuid.UUID(port["id"]), derived(port["id"], "router-port")
    assert nsdb.get(Port, port_id).inbound_filter_id is not None

    put(admin, "ports", dict(port, device_owner="network:router_interface",
                             device_id=router["id"]))
    assert nsdb.get(Port, port_id).peer_id == router_port
    assert nsdb.get(Port, router_port).peer_id == port_id
    assert nsdb.get(Port, port_id).inbound_filter_id is None
    assert router_port in nsdb.get(Router, uuid.UUID(router["id"])).port_ids

    put(admin, "ports", port)
    assert nsdb.get(Port, port_id).peer_id is None
    assert nsdb.find(Port, router_port) is None
    assert nsdb.get(Router, uuid.UUID(router["id"])).port_ids == ()


def test_a_gateway_without_subnet_and_a_route_without_interface_are_kept_idle(admin, nsdb):
    """Two states Neutron allows that route nothing: a router's gateway on an
    external network with no IPv4 subnet, and an extra route left behind when
    the interface towards its next hop goes. Both are accepted (the router's
    other changes must not be lost) and translated into nothing that routes."""
    ext = network_body(**{"router:external": True})
    put(admin, "networks", ext)
    router = {"id": uid(), "name": "r", "tenant_id": TENANT, "admin_state_up": True,
              "external_gateway_info": None, "routes": [], "gw_port_id": None}
    put(admin, "routers", router)
    gw = port_body(ext, {"id": None}, None, "fa:16:3e:00:00:31", fixed_ips=[],
                   device_owner="network:router_gateway", device_id=router["id"])
    put(admin, "ports", gw)
    router.update(gw_port_id=gw["id"], external_gateway_info={
        "network_id": ext["id"], "enable_snat": True, "external_fixed_ips": []})
    put(admin, "routers", router)
    r = nsdb.get(Router, uuid.UUID(router["id"]))
    assert r.port_ids == () and r.route_ids == ()
    assert rules_of(nsdb, r.outbound_filter_id)[1:] == []  # the floating IPs' jump only
    assert nsdb.get(Port, uuid.UUID(gw["id"])).network_id == uuid.UUID(ext["id"])

    net = network_body()
    sub = subnet_body(net)
    put(admin, "networks", net)
    put(admin, "subnets", sub)
    iface = port_body(net, sub, "192.0.2.1", "fa:16:3e:00:00:32",
                      device_owner="network:router_interface", device_id=router["id"])
    put(admin, "ports", iface)
    router["routes"] = [{"destination": "198.51.100.0/24", "nexthop": "192.0.2.254"}]
    put(admin, "routers", router)
    assert len(nsdb.get(Router, uuid.UUID(router["id"])).route_ids) == 1
    admin.expect(204, "DELETE", f"/neutron/ports/{iface['id']}")
    router["name"] = "renamed"
    put(admin, "routers", router)
    r = nsdb.get(Router, uuid.UUID(router["id"]))
    assert (r.name, r.route_ids) == ("renamed", ())


def test_refusals_are_clear_and_write_nothing(admin, alice, nsdb, nsdb_zk, paths):
    net = network_body()
    put(admin, "networks", net)
    v6 = subnet_body(net, "2001:db8::/64", None, ip_version=6)
    err = put(admin, "subnets", v6, status=422)
    assert "IPv4 subnets only" in err["message"]
    assert not nsdb_zk.exists(f"{paths.root}/neutron/subnets/{v6['id']}")
    broken = port_body(net, {"id": uid()}, "192.0.2.9", "fa:16:3e:00:00:09")
    assert "unknown" in put(admin, "ports", broken, status=422)["message"]
    no_net = {"id": uid(), "mac_address": "fa:16:3e:00:00:08"}
    assert "network_id" in put(admin, "ports", no_net, status=422)["message"]
    weird = dict(network_body(), **{"provider:network_type": "opflex"})
    assert "not supported" in put(admin, "networks", weird, status=422)["message"]
    admin.expect(404, "PUT", "/neutron/ports/nope", dict(no_net, id="nope"))
    admin.expect(400, "PUT", f"/neutron/networks/{uid()}", network_body())  # id mismatch
    admin.expect(404, "PUT", f"/neutron/lbaas/{net['id']}", net)
    admin.expect(400, "PUT", f"/neutron/networks/{net['id']}", [net])
    alice.expect(403, "PUT", f"/neutron/networks/{net['id']}", net)
    alice.expect(403, "GET", "/neutron/port_status")
    admin.expect(400, "GET", "/neutron/port_status?cursor=abc")
    assert nsdb.get(Network, uuid.UUID(net["id"])).name == "net"


def test_full_sync_reports_and_repairs_drift(admin, nsdb, nsdb_zk, paths):
    net, stale = network_body(name="kept"), network_body(name="gone")
    sub = subnet_body(net)
    vm = port_body(net, sub, "192.0.2.30", "fa:16:3e:00:00:30")
    for collection, body in (("networks", net), ("networks", stale), ("subnets", sub),
                             ("ports", vm)):
        put(admin, collection, body)
    everything = {"networks": [net], "subnets": [sub], "ports": [vm]}
    # someone deleted the bridge port behind Neutron's back, and a DHCP host entry
    nsdb.delete(Port, uuid.UUID(vm["id"]))
    nsdb.update_with(Dhcp, uuid.UUID(sub["id"]), lambda d: d.replace(hosts=()))
    report = admin.expect(200, "POST", "/neutron/sync?dry_run=true", everything).json()
    assert report["dryRun"] and f"ports/{vm['id']}" in report["updated"]
    assert f"networks/{stale['id']}" in report["deleted"]
    assert nsdb.find(Port, uuid.UUID(vm["id"])) is None  # a dry run writes nothing
    report = admin.expect(200, "POST", "/neutron/sync", everything).json()
    assert report["updated"] == [f"ports/{vm['id']}"] and report["failed"] == []
    # (and whatever the module's earlier tests left: Neutron does not have it)
    assert f"networks/{stale['id']}" in report["deleted"]
    assert nsdb.get(Port, uuid.UUID(vm["id"])).network_id == uuid.UUID(net["id"])
    assert nsdb.get(Dhcp, uuid.UUID(sub["id"])).hosts == (
        DhcpHost("fa:16:3e:00:00:30", "192.0.2.30"),)
    assert nsdb.find(Network, uuid.UUID(stale["id"])) is None
    again = admin.expect(200, "POST", "/neutron/sync", everything).json()
    assert (again["created"], again["updated"], again["deleted"]) == ([], [], [])


def test_port_status_follows_the_agents_active_keys(admin, nsdb, agent):
    hv = agent("hv-neutron-status")
    first = admin.read("/neutron/port_status")
    port_id = uuid.uuid4()
    answer: dict = {}

    def poll():
        started = time.monotonic()
        answer.update(admin.read(f"/neutron/port_status?cursor={first['cursor']}&timeout=10"))
        answer["waited"] = time.monotonic() - started

    poller = threading.Thread(target=poll)
    poller.start()
    time.sleep(0.5)
    publish_port_active(hv.keys, port_id, 7)
    poller.join(15)
    assert str(port_id) in answer["active"] and 0.4 < answer["waited"] < 5
    assert str(port_id) in admin.read("/neutron/port_status")["active"]
    hv.keys.delete("Port", port_id, "active")
    time.sleep(0.5)
    later = admin.read(f"/neutron/port_status?cursor={answer['cursor']}")
    assert later["inactive"] == [str(port_id)] and later["active"] == []
    # a cursor from the future (a restarted cluster) starts over
    assert admin.read("/neutron/port_status?cursor=99999999")["reset"] is True
