"""A VLAN provider network from Neutron: its ports are access ports of the
segment, and the gateway host's uplink carries the segment tagged, both ways;
other VLANs and untagged frames on the uplink stay out."""
import os_ken.lib.packet.vlan as vlan_header
import pytest

from tests.functional.api.api_client import ApiClient, OpenApiChecker
from tests.functional.scenarios.test_neutron_dataplane import NeutronPlugin
from tools.lab import traffic
from tools.lab.procs import wait_until

pytestmark = pytest.mark.functional


def vlan_of(frame):
    tag = traffic.parse(frame).get_protocol(vlan_header.vlan)
    return tag.vid if tag else None


def test_vlan_provider_network_is_carried_tagged_on_the_uplink(make_cloud):
    cloud = make_cloud(2, cluster=True, cluster_sections={
        "neutron": {"provider_uplinks": "physnet1:hv2:phys"}})
    hv1, hv2 = cloud.hosts
    neutron = NeutronPlugin(ApiClient(cloud.cluster.api_url, OpenApiChecker.for_cluster(
        cloud.cluster.api_url)).login("admin"))
    phys = hv2.ovs.add_vm_port("phys")
    net = neutron.network("provider", **{"provider:network_type": "vlan",
                                         "provider:physical_network": "physnet1",
                                         "provider:segmentation_id": 100})
    sub = neutron.subnet(net, "198.51.100.0/24", "198.51.100.1")
    port = neutron.port(net, sub, "198.51.100.10", "fa:16:3e:00:10:10",
                        port_security_enabled=False, **{"binding:host_id": hv1.name})
    vm = hv1.ovs.add_vm_port("vm", mac=port["mac_address"], iface_id=port["id"])
    hv1.agent.wait_log(f"bound port {port['id']}", 15)
    hv2.agent.wait_log("to phys", 15)  # the uplink, bound by interface name

    def vm_to_uplink():
        vm.send(traffic.arp_request(vm.mac, "198.51.100.10", "198.51.100.200"))
        return phys.recv_all(0.3)

    frames = wait_until(vm_to_uplink, 15, what="the VM's broadcast on the uplink")
    assert [vlan_of(f) for f in frames] == [100]
    # tagged with the segment: delivered untagged; another VLAN, or none: not
    phys.send(traffic.arp_reply("02:00:00:00:02:00", "198.51.100.200", vm.mac,
                                "198.51.100.10", vlan=100))
    got = vm.expect(lambda f: traffic.matches(f, arp_opcode=2), 5)
    assert vlan_of(got) is None
    phys.send(traffic.arp_reply("02:00:00:00:02:00", "198.51.100.200", vm.mac,
                                "198.51.100.10", vlan=200))
    phys.send(traffic.arp_reply("02:00:00:00:02:00", "198.51.100.200", vm.mac,
                                "198.51.100.10"))
    assert vm.recv_all(1.0) == []
    cloud.assert_no_switch_errors()
