"""The switch side: Open vSwitch restarts are reprogrammed, and a flood of
new flows is shed by the switch's packet-in limit instead of the agent."""
import time

import pytest

from tools.lab import traffic
from tools.lab.procs import wait_until

pytestmark = pytest.mark.functional


@pytest.fixture
def cloud(make_cloud):
    return make_cloud(2, agent_extra={
        "agent": {"packet_in_rate_limit": "200", "packet_in_burst_limit": "50"}})


@pytest.fixture
def pair(cloud):
    hv1, hv2 = cloud.hosts
    net = cloud.network()
    pa, a = cloud.vm(hv1, net, "vm-a")
    pb, b = cloud.vm(hv2, net, "vm-b")
    cloud.settle((hv1, pa), (hv2, pb))
    return cloud, a, b


def exchange(a, b):
    """A and B learn each other, then a UDP frame crosses each way."""
    a.send(traffic.arp_request(a.mac, "198.51.100.1", "198.51.100.2"))
    b.expect(lambda f: traffic.matches(f, arp_opcode=1), 5)
    for src, dst, sip, dip in ((b, a, "198.51.100.2", "198.51.100.1"),
                               (a, b, "198.51.100.1", "198.51.100.2")):
        src.send(traffic.ipv4_udp(src.mac, dst.mac, sip, dip))
        dst.expect(lambda f: traffic.matches(f, ipv4_proto=17), 5)


def test_ovs_restart_is_reprogrammed(pair):
    cloud, a, b = pair
    hv1 = cloud.hosts[0]
    exchange(a, b)
    generation = cloud._status(hv1)["generation"]
    hv1.ovs.restart_vswitchd()  # OpenFlow flows are gone with the old vswitchd
    # the agent finds the new vswitchd, reinstalls its pipeline and serves again
    wait_until(lambda: any("goto_table:1" in f for f in hv1.ovs.dump_flows()), 20,
               what="the classification flows back")
    wait_until(lambda: cloud._status(hv1).get("switch_connected"), 20,
               what="the agent connected to the new vswitchd")
    exchange(a, b)
    assert cloud._status(hv1)["generation"] == generation  # same agent run, reprogrammed


def test_new_flow_flood_is_rate_limited_by_the_switch(pair):
    cloud, a, b = pair
    hv1 = cloud.hosts[0]
    exchange(a, b)
    rate = hv1.ovs.vsctl("get", "Controller", "br-int", "controller_rate_limit").strip()
    assert rate == "200"
    before = hv1.agent.ctl("counters").get("packet_in", 0)
    started = time.monotonic()
    for i in range(3000):  # every frame a new destination: every one a new flow
        a.send(traffic.ipv4_udp(a.mac, f"02:fe:00:00:{i >> 8:02x}:{i & 255:02x}",
                               "198.51.100.1", "198.51.100.99", 1000 + i % 50000, 9))
    time.sleep(2)
    elapsed = time.monotonic() - started
    handled = hv1.agent.ctl("counters").get("packet_in", 0) - before
    assert handled <= 200 * elapsed + 50 + 200, f"{handled} packet-ins in {elapsed:.1f}s"
    # the agent is alive and established traffic never noticed
    assert hv1.agent.alive()
    b.drain()
    a.send(traffic.ipv4_udp(a.mac, b.mac, "198.51.100.1", "198.51.100.2"))
    b.expect(lambda f: traffic.matches(f, ipv4_proto=17), 5)
