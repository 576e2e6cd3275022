"""Neutron, in process, builds a tenant's cloud on two lab hypervisors, and
its kernel VMs (plugged as os-vif plugs them) get their addresses by DHCP,
talk across the router and the hosts, reach only what their security group
allows, reach the outside through SNAT and are reached through a floating
IP; deleting a rule through Neutron cuts its traffic within a second."""
from __future__ import annotations

import pytest

from tools.lab import neutron_journal as journal
from tools.lab import tenant_proofs as tp
from tools.lab.cloud import Cloud
from tools.lab.cluster import LAB_USERS
from tools.lab.netns import netns_unavailable
from tools.lab.neutron_server import InProcessNeutron
from tools.lab.procs import wait_until

pytestmark = pytest.mark.functional


@pytest.fixture
def world(zk_server):
    reason = netns_unavailable()
    if reason:
        pytest.skip(reason)
    cloud = Cloud(2, zookeeper=zk_server, netns=True, cluster=True, cluster_sections={
        "neutron": {"provider_uplinks": "external:hv2:tapext"}})
    cloud.start()
    neutron = None
    try:
        neutron = InProcessNeutron(cloud.cluster.api_url, "admin", LAB_USERS["admin"][0],
                                   flat_networks=("external",)).start()
        yield cloud, neutron
    finally:
        if neutron is not None:
            neutron.stop()
        cloud.stop()


def build(neutron: InProcessNeutron, hv1: str, hv2: str) -> dict:
    public = neutron.create("networks", name="public", **{
        "router:external": True, "provider:network_type": "flat",
        "provider:physical_network": "external"})
    public_sub = neutron.create("subnets", network_id=public["id"], ip_version=4,
                                cidr="203.0.113.0/24", gateway_ip=tp.EXT_IP,
                                allocation_pools=[{"start": "203.0.113.5",
                                                   "end": "203.0.113.50"}])
    nets = [neutron.create("networks", name=name, mtu=tp.MTU) for name in ("one", "two")]
    subs = [neutron.create("subnets", network_id=net["id"], ip_version=4, cidr=cidr,
                           gateway_ip=gateway)
            for net, cidr, gateway in ((nets[0], "198.51.100.0/25", tp.VM1_GATEWAY),
                                       (nets[1], "198.51.100.128/25", tp.VM2_GATEWAY))]
    group = neutron.create("security-groups", name="ping-ssh")
    # (Neutron's default rule templates live in a table its migrations fill;
    # this in-memory database is made from the models, so a new group starts
    # empty and its egress rule is made here)
    for direction, protocol, port in (("ingress", "icmp", None), ("ingress", "tcp", 22),
                                      ("egress", None, None)):
        neutron.create("security-group-rules", security_group_id=group["id"],
                       direction=direction, ethertype="IPv4", protocol=protocol,
                       port_range_min=port, port_range_max=port)
    router = neutron.create("routers", name="edge", external_gateway_info={
        "network_id": public["id"], "enable_snat": True,
        "external_fixed_ips": [{"subnet_id": public_sub["id"],
                                "ip_address": tp.ROUTER_GATEWAY}]})
    for sub in subs:
        neutron.call("PUT", "routers", {"subnet_id": sub["id"]}, id=router["id"],
                     action="add_router_interface")
    ports = [neutron.create("ports", network_id=net["id"], security_groups=[group["id"]],
                            fixed_ips=[{"subnet_id": sub["id"], "ip_address": ip}],
                            device_owner="compute:nova", device_id=f"vm-{i}",
                            **{"binding:host_id": host})
             for i, (net, sub, ip, host) in enumerate(((nets[0], subs[0], tp.VM1_IP, hv1),
                                                        (nets[1], subs[1], tp.VM2_IP, hv2)))]
    neutron.create("floatingips", floating_network_id=public["id"],
                   floating_ip_address=tp.FLOATING_IP, port_id=ports[1]["id"])
    return {"ports": ports, "group": group}


def test_neutron_builds_a_cloud_that_carries_traffic(world):
    cloud, neutron = world
    hv1, hv2 = cloud.hosts
    ext = hv2.ovs.add_vm("ext", f"{tp.EXT_IP}/24")
    made = build(neutron, hv1.name, hv2.name)
    p1, p2 = made["ports"]
    for port in (p1, p2):
        assert port["binding:vif_type"] == "ovs"
        assert port["binding:vif_details"]["bridge_name"] == "br-int"
        assert port["binding:vif_details"]["port_filter"] is True
        assert port["status"] == "DOWN"  # not ACTIVE before an agent has bound it
    # os-vif: a tap in br-int with external_ids:iface-id and attached-mac
    vm1 = hv1.ovs.add_vm("vm1", None, mac=p1["mac_address"], iface_id=p1["id"])
    vm2 = hv2.ovs.add_vm("vm2", None, mac=p2["mac_address"], iface_id=p2["id"])
    for port in (p1, p2):
        wait_until(lambda port=port: neutron.show("ports", port["id"])["status"] == "ACTIVE",
                   20, what=f"port {port['id']} ACTIVE in Neutron")
    tp.prove_dhcp(vm1, vm2)

    tcp_22 = next(r for r in neutron.show("security-groups", made["group"]["id"])
                  ["security_group_rules"] if r["protocol"] == "tcp")
    tp.prove_traffic(vm1, vm2, ext, lambda: neutron.delete("security-group-rules",
                                                           tcp_22["id"]))
    journal.drain(neutron)
    assert journal.failed_entries(neutron) == []
    cloud.assert_no_switch_errors()
