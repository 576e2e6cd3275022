"""Topology changes on live traffic: a route change re-routes, a port moves
to another host, a port is deleted, and a GRE zone carries traffic like VXLAN."""
import pytest

from midonet_ryu.nsdb import hosts
from midonet_ryu.topology.model import Network, Port
from midonet_ryu.topology.router import Route
from tools.lab.procs import wait_until

pytestmark = pytest.mark.functional


def reaches(vm, dst, wait=1):
    return vm.exec("ping", "-n", "-c", "1", "-W", str(wait), dst, check=False,
                   timeout=wait + 5).returncode == 0


def unicast_cookies(hv, *macs):
    """Cookies of ``hv``'s flows to any of ``macs`` that were not floods."""
    return {f["cookie"] for f in hv.agent.ctl("flows")
            if any(f"eth_dst={mac}" in f["match"] for mac in macs)
            and not any(tag.startswith("('flood") for tag in f["tags"])}


def test_booting_a_vm_keeps_the_flows_between_the_other_vms(ns_cloud):
    """A new VM on the network invalidates its floods, not the unicast flows
    between the VMs already there: they stay installed, with their cookies."""
    cloud = ns_cloud(2)
    hv1, hv2 = cloud.hosts
    pa, a, pb, b = cloud.two_kernel_vms()
    # each host simulates its own VM's side (traffic from a tunnel is
    # delivered by its key)
    for hv in (hv1, hv2):
        wait_until(lambda hv=hv: reaches(a, "198.51.100.2") and unicast_cookies(
            hv, a.mac, b.mac), 15, what=f"a unicast flow on {hv.name}")
    before = {hv.name: unicast_cookies(hv, a.mac, b.mac) for hv in (hv1, hv2)}
    invalidated = {hv.name: hv.agent.ctl("counters").get("flows_invalidated", 0)
                   for hv in (hv1, hv2)}
    net = cloud.store.get(Network, pa.network_id)
    pc, c = cloud.kernel_vm(hv2, net, "vmc", "198.51.100.3/24")
    cloud.settle((hv2, pc))
    wait_until(lambda: reaches(a, "198.51.100.3"), 15, what="A to reach the new VM C")
    for hv in (hv1, hv2):
        now = unicast_cookies(hv, a.mac, b.mac)
        assert before[hv.name] <= now, f"{hv.name} dropped flows between A and B"
        installed = {line.split("cookie=")[1].split(",")[0]
                     for line in hv.ovs.dump_flows() if "cookie=" in line}
        assert before[hv.name] <= installed
    # what was removed: the floods (ARP requests before the MACs were known,
    # and the ones to C), never the unicast flows
    for hv in (hv1, hv2):
        removed = hv.agent.ctl("counters").get("flows_invalidated", 0) - invalidated[hv.name]
        assert removed <= 4, f"{hv.name} removed {removed} flows for one new VM"


def test_route_change_reroutes_existing_traffic(ns_cloud):
    """Two routers between A's and B's networks; moving the route for B's
    subnet from one to the other keeps B reachable, through the new path."""
    cloud = ns_cloud(2)
    hv1, hv2 = cloud.hosts
    left, right, transit = cloud.network("left"), cloud.network("right"), cloud.network("t")
    edge = cloud.router("edge")
    core1, core2 = cloud.router("core1"), cloud.router("core2")
    cloud.attach(edge, left, "198.51.100.254", "198.51.100.0/24")
    to_transit = cloud.attach(edge, transit, "192.0.2.129", "192.0.2.128/26")
    cloud.attach(core1, transit, "192.0.2.130", "192.0.2.128/26")
    cloud.attach(core2, transit, "192.0.2.131", "192.0.2.128/26")
    c1_right = cloud.attach(core1, right, "203.0.113.254", "203.0.113.0/24")
    cloud.attach(core2, right, "203.0.113.253", "203.0.113.0/24")
    for core in (core1, core2):
        cloud.route(core, "198.51.100.0/24", port=cloud.store.get(Port, next(
            p for p in cloud.store.get(type(core), core.id).port_ids
            if cloud.store.get(Port, p).port_subnet == "192.0.2.128/26")),
            gateway="192.0.2.129")
    via1 = cloud.route(edge, "203.0.113.0/24", port=to_transit, gateway="192.0.2.130")
    pa, a = cloud.kernel_vm(hv1, left, "vma", "198.51.100.1/24", gateway="198.51.100.254")
    # B answers through core2 all along; A's traffic to B starts through core1
    pb, b = cloud.kernel_vm(hv2, right, "vmb", "203.0.113.1/24", gateway="203.0.113.253")
    cloud.settle((hv1, pa), (hv2, pb))
    wait_until(lambda: reaches(a, "203.0.113.1"), 15, what="A to reach B via core1")
    # move the route: edge now sends B's subnet to core2
    cloud.store.update_with(Route, via1.id, lambda r: r.replace(next_hop_gateway="192.0.2.131"))
    # and take core1's leg to B away, so only the new path can work
    cloud.store.delete(Port, c1_right.id)
    # core1 can no longer reach B: only the new route can deliver
    wait_until(lambda: reaches(a, "203.0.113.1"), 15, what="A to reach B via core2")


def test_port_migrates_from_host1_to_host2(ns_cloud):
    cloud = ns_cloud(2)
    hv1, hv2 = cloud.hosts
    pa, a, pb, b = cloud.two_kernel_vms()
    wait_until(lambda: reaches(a, "198.51.100.2"), 10, what="A to reach B")
    # the VM moves: unplugged on host 2, plugged on host 1, binding updated
    hv2.ovs.vms["vmb"].delete()
    b2 = hv1.ovs.add_vm("vmb2", "198.51.100.2/24", iface_id=str(pb.id), mac=b.mac)
    hosts.bind_port(cloud.store, pb.id, hv1.host_id, None)
    cloud.wait_bound(hv1, pb)
    wait_until(lambda: reaches(a, "198.51.100.2"), 15, what="A to reach B on its new host")
    assert reaches(b2, "198.51.100.1")
    ports2 = hv2.agent.ctl("ports")
    assert str(pb.id) not in ports2["local"]


def test_deleted_port_stops_receiving(ns_cloud):
    cloud = ns_cloud(2)
    hv1, hv2 = cloud.hosts
    pa, a, pb, b = cloud.two_kernel_vms()
    wait_until(lambda: reaches(a, "198.51.100.2"), 10, what="A to reach B")
    cloud.store.delete(Port, pb.id)
    wait_until(lambda: not reaches(a, "198.51.100.2"), 10, what="B to become unreachable")
    hv2.agent.wait_log(f"unbound port {pb.id}", 10)
    # nothing of B's is left in host 2's table 0 besides the generic flows
    assert not [f for f in hv2.ovs.dump_flows() if f"in_port={b.ofport}," in f
                or f"output:{b.ofport}" in f]


def test_gre_zone_carries_traffic(ns_cloud):
    cloud = ns_cloud(2, tunnel_type="gre")
    hv1, hv2 = cloud.hosts
    pa, a, pb, b = cloud.two_kernel_vms()
    gre_port = hv1.ovs.ofport("tun-gre")
    # ping until the flow is there: the first pings may go by a flood flow,
    # removed when B's MAC reaches host 1, after which the next packet makes
    # the unicast one
    wait_until(lambda: reaches(a, "198.51.100.2") and any(
        f"output:{gre_port}" in f and "tun_dst" in f for f in hv1.ovs.dump_flows()), 15,
        what="A to reach B over GRE, through a flow into the GRE tunnel")
