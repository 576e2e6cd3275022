"""VLAN isolation on one virtual network: access ports of VLAN 10 and 20."""
import pytest

from tools.lab import traffic

pytestmark = pytest.mark.functional


def test_vlans_are_isolated_on_one_network(cloud):
    hv1, hv2 = cloud.hosts
    net = cloud.network("trunk")
    pa, a = cloud.vm(hv1, net, "vm-a", vlan_id=10)
    pb, b = cloud.vm(hv2, net, "vm-b", vlan_id=10)
    pc, c = cloud.vm(hv2, net, "vm-c", vlan_id=20)
    pd, d = cloud.vm(hv1, net, "vm-d", vlan_id=20)
    for hv, p in ((hv1, pa), (hv2, pb), (hv2, pc), (hv1, pd)):
        cloud.wait_bound(hv, p)
    cloud.wait_converged([pa, pb, pc, pd])
    a.send(traffic.arp_request(a.mac, "198.51.100.1", "198.51.100.2"))
    got = b.expect(lambda f: traffic.matches(f, arp_opcode=1), 5)
    assert traffic.matches(got, ethernet_src=a.mac)
    assert traffic.parse(got).get_protocol(__import__("os_ken.lib.packet.vlan",
                                                     fromlist=["vlan"]).vlan) is None
    assert c.recv_all(0.5) == [] and d.recv_all(0.2) == []
    # VLAN 20 floods stay in VLAN 20, local and remote
    d.send(traffic.arp_request(d.mac, "198.51.100.4", "198.51.100.3"))
    c.expect(lambda f: traffic.matches(f, arp_opcode=1, ethernet_src=d.mac), 5)
    assert a.recv_all(0.5) == [] and b.recv_all(0.2) == []
    # a unicast to a MAC of the other VLAN does not cross either
    c.send(traffic.ipv4_udp(c.mac, a.mac, "198.51.100.3", "198.51.100.1"))
    assert a.recv_all(1.0) == []
