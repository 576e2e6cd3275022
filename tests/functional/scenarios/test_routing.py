"""L3 through a distributed virtual router, VMs with kernel stacks on two hosts."""
import pytest

pytestmark = pytest.mark.functional


def ping(vm, dst, count=3, deadline=10):
    """ping until ``count`` replies or ``deadline`` seconds; returns the output."""
    return vm.exec("ping", "-n", "-c", str(count), "-i", "0.2", "-w", str(deadline), dst,
                   check=False, timeout=deadline + 5)


def test_ping_between_subnets_on_different_hosts(routed):
    cloud, router, _, (pa, a), (pb, b) = routed
    out = ping(a, "203.0.113.1")
    assert out.returncode == 0, out.stdout
    out = ping(b, "198.51.100.1")
    assert out.returncode == 0, out.stdout
    # TTL went down by one through the router
    assert "ttl=63" in out.stdout
    # the routed path is a flow in the switch (not a packet-out per packet),
    # and the switch accepted every message the agents sent
    hv1, hv2 = cloud.hosts
    routed_flows = [f for f in hv1.ovs.dump_flows() if "table=1" in f and "nw_dst=203.0.113.1"
                    in f and "tun_dst" in f]
    assert routed_flows, "\n".join(hv1.ovs.dump_flows())
    for hv in (hv1, hv2):
        assert hv.agent.ctl("counters").get("switch_errors", 0) == 0, hv.agent.tail(20)


def test_router_answers_arp_and_echo_for_its_ports(routed):
    cloud, router, _, (pa, a), _ = routed
    out = ping(a, "198.51.100.254")
    assert out.returncode == 0, out.stdout
    neigh = a.exec("ip", "neigh", "show", "198.51.100.254").stdout
    assert "02:ee:c6:33:64:fe" in neigh  # the router port's MAC, learned by ARP
    # the far port of the router answers too, through the router
    assert ping(a, "203.0.113.254").returncode == 0


def test_ttl_expiry_gets_time_exceeded(routed):
    cloud, router, _, (pa, a), _ = routed
    ping(a, "203.0.113.1")  # resolve the path first
    out = a.exec("ping", "-n", "-c", "1", "-t", "1", "-W", "3", "203.0.113.1", check=False)
    assert "Time to live exceeded" in out.stdout, out.stdout
