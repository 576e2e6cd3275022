"""Neutron's resources, as its plugin sends them to the cluster, carry real
traffic: kernel VMs on two hypervisors get their addresses by DHCP from the
agents, ping across the router and the tunnel, reach TCP 22 and not 23,
reach an external host through SNAT and are reached through a floating IP;
a security group rule removed cuts its traffic within a second.

(Neutron itself drives the same in tests/neutron, in Neutron's venv; this
test pins the translation to the dataplane without it.)"""
from __future__ import annotations

import uuid

import pytest

from tests.functional.api.api_client import ApiClient, OpenApiChecker
from tools.lab import tenant_proofs

pytestmark = pytest.mark.functional

TENANT = "tenant-dp"


def uid() -> str:
    return str(uuid.uuid4())


class NeutronPlugin:
    """Sends Neutron-shaped resources to the cluster as the plugin's journal does."""

    def __init__(self, api: ApiClient) -> None:
        self.api = api

    def put(self, collection: str, body: dict) -> dict:
        self.api.expect(200, "PUT", f"/neutron/{collection}/{body['id']}", body)
        return body

    def network(self, name: str, **kw) -> dict:
        return self.put("networks", {"id": uid(), "name": name, "tenant_id": TENANT,
                                     "admin_state_up": True, "mtu": 1400, **kw})

    def subnet(self, net: dict, cidr: str, gateway: str) -> dict:
        return self.put("subnets", {"id": uid(), "network_id": net["id"], "ip_version": 4,
                                    "cidr": cidr, "gateway_ip": gateway, "enable_dhcp": True,
                                    "dns_nameservers": [], "host_routes": [],
                                    "tenant_id": TENANT})

    def port(self, net: dict, subnet: dict, ip: str, mac: str, **kw) -> dict:
        return self.put("ports", {"id": uid(), "network_id": net["id"], "mac_address": mac,
                                  "admin_state_up": True, "tenant_id": TENANT,
                                  "fixed_ips": [{"subnet_id": subnet["id"], "ip_address": ip}],
                                  "device_owner": "compute:nova", "device_id": uid(),
                                  "port_security_enabled": True, "security_groups": [],
                                  "allowed_address_pairs": [], **kw})


def rule(group: dict, direction: str, protocol: str | None = None, port: int | None = None):
    return {"id": uid(), "security_group_id": group["id"], "direction": direction,
            "ethertype": "IPv4", "protocol": protocol, "port_range_min": port,
            "port_range_max": port, "remote_ip_prefix": None, "remote_group_id": None}


@pytest.fixture
def neutron_cloud(ns_cloud):
    cloud = ns_cloud(2, cluster=True, cluster_sections={
        "neutron": {"provider_uplinks": "external:hv2:tapext"}})
    hv1, hv2 = cloud.hosts
    api = ApiClient(cloud.cluster.api_url,
                    OpenApiChecker.for_cluster(cloud.cluster.api_url)).login("admin")
    neutron = NeutronPlugin(api)
    # the outside: a host on the external network's uplink of hv2
    ext = hv2.ovs.add_vm("ext", "203.0.113.100/24")
    public = neutron.network("public", **{"router:external": True,
                                          "provider:network_type": "flat",
                                          "provider:physical_network": "external"})
    public_sub = neutron.subnet(public, "203.0.113.0/24", "203.0.113.100")
    net1, net2 = neutron.network("one"), neutron.network("two")
    sub1 = neutron.subnet(net1, "198.51.100.0/25", "198.51.100.1")
    sub2 = neutron.subnet(net2, "198.51.100.128/25", "198.51.100.129")
    group = {"id": uid(), "name": "ping-ssh", "tenant_id": TENANT}
    group["security_group_rules"] = [rule(group, "ingress", "icmp"),
                                     rule(group, "ingress", "tcp", 22), rule(group, "egress")]
    neutron.put("security_groups", group)
    router = neutron.put("routers", {"id": uid(), "name": "edge", "tenant_id": TENANT,
                                     "admin_state_up": True, "routes": [],
                                     "external_gateway_info": None, "gw_port_id": None})
    gw = neutron.port(public, public_sub, "203.0.113.5", "fa:16:3e:00:00:05", tenant_id="",
                      device_owner="network:router_gateway", device_id=router["id"])
    router.update(gw_port_id=gw["id"], external_gateway_info={
        "network_id": public["id"], "enable_snat": True,
        "external_fixed_ips": [{"subnet_id": public_sub["id"], "ip_address": "203.0.113.5"}]})
    neutron.put("routers", router)
    for net, sub, address, mac in ((net1, sub1, "198.51.100.1", "fa:16:3e:00:01:01"),
                                   (net2, sub2, "198.51.100.129", "fa:16:3e:00:02:01")):
        neutron.port(net, sub, address, mac, device_owner="network:router_interface",
                     device_id=router["id"])
    p1 = neutron.port(net1, sub1, "198.51.100.10", "fa:16:3e:00:01:10",
                      security_groups=[group["id"]], **{"binding:host_id": hv1.name})
    p2 = neutron.port(net2, sub2, "198.51.100.140", "fa:16:3e:00:02:40",
                      security_groups=[group["id"]], **{"binding:host_id": hv2.name})
    neutron.put("floatingips", {"id": uid(), "tenant_id": TENANT,
                                "floating_ip_address": "203.0.113.20",
                                "floating_network_id": public["id"],
                                "router_id": router["id"], "port_id": p2["id"],
                                "fixed_ip_address": "198.51.100.140"})
    # plugged as os-vif plugs: a tap in br-int with external_ids:iface-id
    vm1 = hv1.ovs.add_vm("vm1", None, mac=p1["mac_address"], iface_id=p1["id"])
    vm2 = hv2.ovs.add_vm("vm2", None, mac=p2["mac_address"], iface_id=p2["id"])
    return cloud, neutron, group, (vm1, vm2, ext)


def test_neutron_topology_carries_traffic(neutron_cloud):
    cloud, neutron, group, (vm1, vm2, ext) = neutron_cloud
    tenant_proofs.prove_dhcp(vm1, vm2)

    def remove_tcp_22():
        group["security_group_rules"] = [r for r in group["security_group_rules"]
                                         if r["protocol"] != "tcp"]
        neutron.put("security_groups", group)

    tenant_proofs.prove_traffic(vm1, vm2, ext, remove_tcp_22)
    cloud.assert_no_switch_errors()

