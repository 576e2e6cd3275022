"""A host that dies is no longer tunnelled to, and is again when it returns.

Two hypervisors with kernel VMs; the agent of the second is killed, so its
ZooKeeper session ends after the session timeout: the first agent reports
the host down, removes the flows that tunnelled to it (unicast and floods)
and sends nothing more into that tunnel; once the second agent is started
again, traffic resumes without restarting the first."""
import time

import pytest

from tools.lab.netns import netns_unavailable
from tools.lab.procs import wait_until

pytestmark = pytest.mark.functional
SESSION_TIMEOUT = 3.0
HOLD = 1.0


@pytest.fixture
def two_vms(make_cloud):
    reason = netns_unavailable()
    if reason:
        pytest.skip(reason)
    cloud = make_cloud(2, netns=True, agent_extra={
        "zookeeper": {"session_timeout": str(int(SESSION_TIMEOUT * 1000))},
        "agent": {"host_down_hold": str(HOLD)}})
    pa, a, pb, b = cloud.two_kernel_vms()
    wait_until(lambda: a.ping("198.51.100.2", 1, timeout=1), 10, what="A to reach B")
    return cloud, a, b, pb


def tunnelled_to(hv, ip):
    """The flows of ``hv``'s switch that send into the tunnel to ``ip``."""
    return [f for f in hv.ovs.dump_flows() if f"{ip}->tun_dst" in f]


def down_hosts(hv):
    return hv.agent.ctl("status")["remote_hosts_down"]


def test_a_dead_host_is_not_tunnelled_to_and_is_again_when_back(two_vms):
    cloud, a, b, pb = two_vms
    hv1, hv2 = cloud.hosts
    assert tunnelled_to(hv1, hv2.ip), "the path to B tunnels to host 2"
    assert down_hosts(hv1) == []
    hv2.agent.kill()
    killed = time.monotonic()
    wait_until(lambda: down_hosts(hv1) == [str(hv2.host_id)], SESSION_TIMEOUT + HOLD + 10,
               what="host 1 to see host 2 down")
    noticed = time.monotonic() - killed
    assert noticed >= SESSION_TIMEOUT  # not before its session ended
    wait_until(lambda: not tunnelled_to(hv1, hv2.ip), 5, what="the flows to host 2 removed")
    # new traffic, unicast and flooded (ARP), is not sent to host 2 either
    a.exec("ip", "neigh", "flush", "dev", "eth0")
    assert not a.ping("198.51.100.2", 2, timeout=1)
    assert not tunnelled_to(hv1, hv2.ip)
    remote = hv1.agent.ctl("ports")["remote"][str(pb.id)]
    assert remote["host_down"] and not remote["reachable"]
    assert hv1.agent.ctl("counters")["remote_hosts_down"] == 1
    # host 2's agent comes back: traffic resumes, host 1's agent untouched
    first_agent = hv1.agent.pid
    hv2.agent.start()
    wait_until(lambda: down_hosts(hv1) == [], 30, what="host 2 up again")
    wait_until(lambda: a.ping("198.51.100.2", 1, timeout=1), 20, what="A to reach B again")
    assert tunnelled_to(hv1, hv2.ip)
    assert hv1.agent.pid == first_agent and hv1.agent.alive()
    print(f"host down noticed {noticed:.1f} s after the kill "
          f"(session timeout {SESSION_TIMEOUT} s, hold {HOLD} s)")
