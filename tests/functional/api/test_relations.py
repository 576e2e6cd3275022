"""Sub-resources that are relations or observed state: port bindings, tunnel
zone members, port group members, IP address group addresses, port links,
the MAC/IP-MAC/ARP tables the agents write and the interfaces they report;
each write read back from the NSDB."""
from __future__ import annotations

import ipaddress
import uuid

import pytest

from midonet_ryu.nsdb.paths import Paths
from midonet_ryu.nsdb.state_catalogue import ARP_TABLE, IP4_MAC_TABLE, MAC_TABLE, table_path
from midonet_ryu.nsdb.state_codecs import ArpEntry
from midonet_ryu.nsdb.state_table import TableWriter
from midonet_ryu.nsdb.store import Store
from midonet_ryu.topology.model import Host, HostToIp, Port, TunnelZone
from midonet_ryu.topology.rules import IPAddrGroup, PortGroup
from tests.functional.api.api_client import ApiClient


@pytest.fixture
def bridge(admin: ApiClient) -> dict:
    return admin.create("/bridges", {"name": "rel"})


def test_port_bindings(admin: ApiClient, nsdb: Store, agent, bridge):
    hv, other = agent("hv-bind"), agent("hv-other")
    p1 = admin.create(f"{bridge['uri']}/ports", {})
    p2 = admin.create(f"{bridge['uri']}/ports", {})
    bindings = f"/hosts/{hv.id}/ports"
    assert admin.read(bindings) == []
    made = admin.create(bindings, {"portId": p1["id"], "interfaceName": "tap-1"},
                        headers={"Content-Type":
                                 "application/vnd.org.midonet.HostInterfacePort-v1+json"})
    assert made["uri"] == f"{admin.api_url}/hosts/{hv.id}/ports/{p1['id']}"
    assert (made["hostId"], made["portId"], made["interfaceName"]) == (
        str(hv.id), p1["id"], "tap-1")
    stored = nsdb.get(Port, uuid.UUID(p1["id"]))
    assert (stored.host_id, stored.interface_name) == (hv.id, "tap-1")
    assert nsdb.get(Host, hv.id).port_ids == (uuid.UUID(p1["id"]),)
    assert admin.read(bindings) == [made]
    assert admin.read(made["uri"]) == made
    port = admin.read(p1["uri"])
    assert (port["hostId"], port["interfaceName"], port["host"]) == (
        str(hv.id), "tap-1", f"{admin.api_url}/hosts/{hv.id}")
    # binding the same port to the same interface again changes nothing
    admin.create(bindings, {"portId": p1["id"], "interfaceName": "tap-1"})

    # one interface, one port: a second port on tap-1 of this host is refused
    resp = admin.expect(409, "POST", bindings, {"portId": p2["id"], "interfaceName": "tap-1"})
    assert "tap-1" in resp.json()["message"]
    # one port, one binding: p1 elsewhere (another interface, another host) is refused
    admin.expect(409, "POST", bindings, {"portId": p1["id"], "interfaceName": "tap-9"})
    admin.expect(409, "POST", f"/hosts/{other.id}/ports",
                 {"portId": p1["id"], "interfaceName": "tap-1"})
    assert nsdb.get(Port, uuid.UUID(p2["id"])).host_id is None
    assert (nsdb.get(Port, uuid.UUID(p1["id"])).host_id,
            nsdb.get(Port, uuid.UUID(p1["id"])).interface_name) == (hv.id, "tap-1")
    # a port that does not exist, a host that does not exist
    admin.expect(400, "POST", bindings, {"portId": str(uuid.uuid4()), "interfaceName": "x"})
    admin.expect(404, "POST", f"/hosts/{uuid.uuid4()}/ports",
                 {"portId": p2["id"], "interfaceName": "x"})

    admin.remove(made["uri"])
    stored = nsdb.get(Port, uuid.UUID(p1["id"]))
    assert (stored.host_id, stored.interface_name) == (None, None)
    assert nsdb.get(Host, hv.id).port_ids == ()
    assert admin.read(bindings) == []
    admin.expect(404, "GET", made["uri"])
    admin.expect(404, "DELETE", made["uri"])
    # freed: the interface takes the other port now
    admin.create(bindings, {"portId": p2["id"], "interfaceName": "tap-1"})
    assert nsdb.get(Port, uuid.UUID(p2["id"])).host_id == hv.id


def test_bound_port_cannot_be_linked_and_linked_port_cannot_be_bound(admin: ApiClient, agent,
                                                                     bridge):
    hv = agent("hv-link")
    router = admin.create("/routers", {})
    bound = admin.create(f"{bridge['uri']}/ports", {})
    rport = admin.create(f"{router['uri']}/ports", {})
    admin.create(f"/hosts/{hv.id}/ports", {"portId": bound["id"], "interfaceName": "tap-l"})
    admin.expect(409, "POST", f"{rport['uri']}/link", {"peerId": bound["id"]})
    linked = admin.create(f"{bridge['uri']}/ports", {})
    admin.create(f"{rport['uri']}/link", {"peerId": linked["id"]})
    admin.expect(409, "POST", f"/hosts/{hv.id}/ports",
                 {"portId": linked["id"], "interfaceName": "tap-m"})


def test_host_alive_and_interfaces(admin: ApiClient, agent):
    hv = agent("hv-if")
    hv.publish_interfaces([{"name": "eth0", "mac": "02:00:00:00:00:10", "mtu": 1500,
                            "addresses": ["192.0.2.10"], "type": "Physical"}])
    host = admin.read(f"/hosts/{hv.id}")
    assert host["alive"] is True
    assert host["interfaces"] == f"{host['uri']}/interfaces"
    interfaces = admin.read(host["interfaces"])
    assert len(interfaces) == 1
    assert interfaces[0]["name"] == "eth0" and interfaces[0]["hostId"] == str(hv.id)
    assert interfaces[0]["addresses"] == ["192.0.2.10"]
    hv.stop()  # the agent's session ends: its ephemeral keys go with it
    assert admin.read(f"/hosts/{hv.id}")["alive"] is False
    assert admin.read(host["interfaces"]) == []
    admin.expect(404, "GET", f"/hosts/{uuid.uuid4()}/interfaces")


def test_tunnel_zone_members(admin: ApiClient, nsdb: Store, agent):
    hv1, hv2 = agent("hv-tz1"), agent("hv-tz2")
    tz = admin.create("/tunnel_zones", {"name": "underlay", "type": "vxlan"})
    members = f"{tz['uri']}/hosts"
    m1 = admin.create(members, {"hostId": str(hv1.id), "ipAddress": "192.0.2.1"})
    m2 = admin.create(members, {"hostId": str(hv2.id), "ipAddress": "192.0.2.2"})
    assert m1["uri"] == f"{members}/{hv1.id}" and m1["ipAddress"] == "192.0.2.1"
    stored = nsdb.get(TunnelZone, uuid.UUID(tz["id"]))
    assert stored.hosts == (HostToIp(hv1.id, "192.0.2.1"), HostToIp(hv2.id, "192.0.2.2"))
    assert stored.host_ids == (hv1.id, hv2.id)
    assert nsdb.get(Host, hv1.id).tunnel_zone_ids == (uuid.UUID(tz["id"]),)
    assert admin.read(members) == [m1, m2]
    assert admin.read(m2["uri"]) == m2
    assert admin.read(f"/hosts/{hv2.id}")["tunnelZoneIds"] == [tz["id"]]
    admin.expect(409, "POST", members, {"hostId": str(hv1.id), "ipAddress": "192.0.2.9"})
    admin.expect(400, "POST", members, {"hostId": str(uuid.uuid4()), "ipAddress": "192.0.2.3"})
    admin.expect(400, "POST", members, {"hostId": str(hv1.id), "ipAddress": "192.0.2.300"})

    admin.remove(m1["uri"])
    stored = nsdb.get(TunnelZone, uuid.UUID(tz["id"]))
    assert stored.hosts == (HostToIp(hv2.id, "192.0.2.2"),) and stored.host_ids == (hv2.id,)
    assert nsdb.get(Host, hv1.id).tunnel_zone_ids == ()
    admin.expect(404, "GET", m1["uri"])
    admin.expect(404, "DELETE", m1["uri"])
    assert admin.read(members) == [m2]


def test_port_group_members(admin: ApiClient, nsdb: Store, bridge):
    pg = admin.create("/port_groups", {"name": "web", "stateful": True})
    ports = [admin.create(f"{bridge['uri']}/ports", {}) for _ in range(3)]
    members = f"{pg['uri']}/ports"
    made = [admin.create(members, {"portId": p["id"]}) for p in ports]
    assert made[0]["uri"] == f"{members}/{ports[0]['id']}"
    stored = nsdb.get(PortGroup, uuid.UUID(pg["id"]))
    assert stored.port_ids == tuple(uuid.UUID(p["id"]) for p in ports)
    assert stored.stateful is True
    assert nsdb.get(Port, uuid.UUID(ports[0]["id"])).port_group_ids == (stored.id,)
    assert admin.read(members) == made
    assert admin.read(made[1]["uri"]) == made[1]
    assert admin.read(ports[2]["uri"])["portGroupIds"] == [pg["id"]]
    admin.expect(409, "POST", members, {"portId": ports[0]["id"]})
    admin.expect(400, "POST", members, {"portId": str(uuid.uuid4())})

    admin.remove(made[1]["uri"])
    assert nsdb.get(PortGroup, uuid.UUID(pg["id"])).port_ids == (
        uuid.UUID(ports[0]["id"]), uuid.UUID(ports[2]["id"]))
    assert nsdb.get(Port, uuid.UUID(ports[1]["id"])).port_group_ids == ()
    admin.expect(404, "GET", made[1]["uri"])
    # a member port deleted leaves the group
    admin.remove(ports[0]["uri"])
    assert [m["portId"] for m in admin.read(members)] == [ports[2]["id"]]


def test_ip_addr_group_addresses(admin: ApiClient, nsdb: Store):
    group = admin.create("/ip_addr_groups", {"name": "sg"})
    addrs = f"{group['uri']}/ip_addrs"
    v4 = admin.create(addrs, {"addr": "10.0.0.7"})
    v6 = admin.create(addrs, {"addr": "2001:db8::7", "version": 6})
    assert (v4["version"], v6["version"]) == (4, 6)
    assert v4["uri"] == f"{group['uri']}/versions/4/ip_addrs/10.0.0.7"
    stored = nsdb.get(IPAddrGroup, uuid.UUID(group["id"]))
    assert [a.ip_address for a in stored.ip_addr_ports] == ["10.0.0.7", "2001:db8::7"]
    assert admin.read(addrs) == [v4, v6]
    admin.expect(409, "POST", addrs, {"addr": "10.0.0.7"})
    admin.expect(400, "POST", addrs, {"addr": "2001:db8::8", "version": 4})
    admin.expect(400, "POST", addrs, {"addr": "10.0.0.256"})
    # MidoNet's URI (the one the API gave) and the short one both delete
    admin.remove(v4["uri"])
    admin.remove(f"{addrs}/2001:db8::7")
    assert nsdb.get(IPAddrGroup, uuid.UUID(group["id"])).ip_addr_ports == ()
    assert admin.read(addrs) == []
    admin.expect(404, "DELETE", v4["uri"])


def test_port_links(admin: ApiClient, nsdb: Store, bridge):
    router = admin.create("/routers", {})
    rport = admin.create(f"{router['uri']}/ports", {"portAddress": "10.0.0.1",
                                                     "networkAddress": "10.0.0.0",
                                                     "networkLength": 24})
    bport = admin.create(f"{bridge['uri']}/ports", {})
    link = admin.create(f"{rport['uri']}/link", {"peerId": bport["id"]},
                        headers={"Content-Type": "application/vnd.org.midonet.PortLink-v1+json"})
    assert (link["portId"], link["peerId"]) == (rport["id"], bport["id"])
    assert nsdb.get(Port, uuid.UUID(rport["id"])).peer_id == uuid.UUID(bport["id"])
    assert nsdb.get(Port, uuid.UUID(bport["id"])).peer_id == uuid.UUID(rport["id"])
    assert admin.read(bport["uri"])["peer"] == rport["uri"]
    # either end is taken now
    other = admin.create(f"{bridge['uri']}/ports", {})
    admin.expect(409, "POST", f"{other['uri']}/link", {"peerId": rport["id"]})
    admin.expect(409, "POST", f"{bport['uri']}/link", {"peerId": other["id"]})
    admin.expect(400, "POST", f"{other['uri']}/link", {"peerId": other["id"]})
    admin.expect(400, "POST", f"{other['uri']}/link", {"peerId": str(uuid.uuid4())})
    # unlinking from the other end clears both
    admin.remove(f"{bport['uri']}/link")
    assert nsdb.get(Port, uuid.UUID(rport["id"])).peer_id is None
    assert nsdb.get(Port, uuid.UUID(bport["id"])).peer_id is None
    admin.expect(404, "DELETE", f"{bport['uri']}/link")


def test_bridge_mac_and_arp_tables(admin: ApiClient, nsdb_zk, paths: Paths, bridge):
    port = admin.create(f"{bridge['uri']}/ports", {})
    bid, pid = uuid.UUID(bridge["id"]), uuid.UUID(port["id"])
    assert admin.read(f"{bridge['uri']}/mac_table") == []
    assert admin.read(f"{bridge['uri']}/arp_table") == []
    # as agents write them: learned (ephemeral-sequential) and persistent entries
    untagged = TableWriter(nsdb_zk, table_path(paths, MAC_TABLE, bid, ("0",)), MAC_TABLE)
    vlan10 = TableWriter(nsdb_zk, table_path(paths, MAC_TABLE, bid, ("10",)), MAC_TABLE)
    ip_mac = TableWriter(nsdb_zk, table_path(paths, IP4_MAC_TABLE, bid), IP4_MAC_TABLE)
    untagged.add("02:00:00:00:00:01", pid)
    vlan10.add_persistent("02:00:00:00:00:02", pid)
    ip_mac.add(ipaddress.IPv4Address("10.0.0.5"), "02:00:00:00:00:01")
    try:
        macs = admin.read(f"{bridge['uri']}/mac_table")
        assert sorted((m["macAddr"], m["portId"], m["vlanId"]) for m in macs) == [
            ("02:00:00:00:00:01", port["id"], None), ("02:00:00:00:00:02", port["id"], 10)]
        assert all(m["bridgeId"] == bridge["id"] for m in macs)
        pairs = admin.read(f"{bridge['uri']}/arp_table")
        assert [(p["ip"], p["mac"]) for p in pairs] == [("10.0.0.5", "02:00:00:00:00:01")]
        # a newer entry for the same MAC wins, as every agent decides
        untagged.add("02:00:00:00:00:01", uuid.UUID(admin.create(
            f"{bridge['uri']}/ports", {})["id"]))
        macs = admin.read(f"{bridge['uri']}/mac_table")
        assert len([m for m in macs if m["macAddr"] == "02:00:00:00:00:01"]) == 1
        assert [m["portId"] for m in macs if m["macAddr"] == "02:00:00:00:00:01"] != [
            port["id"]]
        # observed state: not writable through the API
        admin.expect(405, "POST", f"{bridge['uri']}/mac_table", {})
        admin.expect(405, "DELETE", f"{bridge['uri']}/arp_table")
    finally:
        for w in (untagged, vlan10, ip_mac):
            w.close()
    admin.expect(404, "GET", f"/bridges/{uuid.uuid4()}/mac_table")


def test_router_arp_table(admin: ApiClient, nsdb_zk, paths: Paths):
    router = admin.create("/routers", {})
    rid = uuid.UUID(router["id"])
    arp = TableWriter(nsdb_zk, table_path(paths, ARP_TABLE, rid), ARP_TABLE)
    try:
        arp.add(ipaddress.IPv4Address("10.0.0.20"), ArpEntry("02:00:00:00:00:20", 2000, 1000, 5))
        arp.add(ipaddress.IPv4Address("10.0.0.3"), ArpEntry(None, 3000, 1500, 7))
        entries = admin.read(f"{router['uri']}/arp_table")
        assert [(e["ip"], e["mac"], e["expiry"], e["stale"]) for e in entries] == [
            ("10.0.0.3", None, 3000, 1500), ("10.0.0.20", "02:00:00:00:00:20", 2000, 1000)]
        admin.expect(405, "PUT", f"{router['uri']}/arp_table", {})
    finally:
        arp.close()


def test_load_balancer_tree_lists(admin: ApiClient):
    router = admin.create("/routers", {})
    lb = admin.create("/load_balancers", {"routerId": router["id"]})
    assert admin.read(router["uri"])["loadBalancerId"] == lb["id"]
    pool = admin.create(f"{lb['uri']}/pools", {})
    member = admin.create(f"{pool['uri']}/pool_members", {"address": "10.0.0.8",
                                                          "protocolPort": 80})
    vip = admin.create(f"{pool['uri']}/vips", {"address": "198.51.100.1", "protocolPort": 80})
    assert [p["id"] for p in admin.read(f"{lb['uri']}/pools")] == [pool["id"]]
    assert [m["id"] for m in admin.read(f"{pool['uri']}/pool_members")] == [member["id"]]
    assert [v["id"] for v in admin.read(f"{pool['uri']}/vips")] == [vip["id"]]
    pool = admin.read(pool["uri"])
    assert (pool["poolMemberIds"], pool["vipIds"]) == ([member["id"]], [vip["id"]])
    monitor = admin.create("/health_monitors", {"delay": 3, "timeout": 2, "maxRetries": 2})
    admin.update(pool["uri"], {"healthMonitorId": monitor["id"]})
    assert admin.read(monitor["uri"])["poolIds"] == [pool["id"]]
    # a probe may not outlast the time between probes
    body = admin.expect(400, "PUT", monitor["uri"], {"timeout": 4})
    assert "timeout" in body.text, body.text
    assert admin.read(monitor["uri"])["timeout"] == 2
    # the load balancer goes with its router, and everything under it; the
    # monitor stays (other pools may use it) and forgets the pool
    admin.remove(router["uri"])
    for gone in (lb, pool, member, vip):
        admin.expect(404, "GET", gone["uri"])
    assert admin.read(monitor["uri"])["poolIds"] == []
