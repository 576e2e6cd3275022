"""A learned MAC leaves the NSDB once its VM is silent, and stays while it talks.

MidoNet's ``mac_port_mapping_expire``: an entry goes that long after the last
flow from its MAC ended. Here flows idle out after 2 s and entries 2 s later,
so a VM silent for about 5 s is no longer in its network's MAC table (other
hosts then flood to it, as to any unknown MAC), and its next frame puts it
back."""
import subprocess
import time

import pytest

from midonet_ryu.nsdb.paths import Paths
from midonet_ryu.nsdb.state_catalogue import MAC_TABLE
from midonet_ryu.nsdb.state_table import StateTable
from tools.lab.procs import wait_until

pytestmark = pytest.mark.functional
IDLE, EXPIRE = 2, 2


@pytest.fixture
def two_vms(ns_cloud):
    cloud = ns_cloud(2, agent_extra={
        "agent": {"flow_idle_timeout": str(IDLE), "mac_port_mapping_expire": str(EXPIRE)}})
    pa, a, pb, b = cloud.two_kernel_vms()
    wait_until(lambda: a.ping("198.51.100.2", 1, timeout=1), 10, what="A to reach B")
    table = StateTable(cloud.client, Paths(cloud.root_key), MAC_TABLE, pa.network_id,
                       ("0",)).start()
    yield cloud, a, b, table
    table.stop()


def test_a_talking_vm_keeps_its_entry_and_a_silent_one_loses_it(two_vms):
    cloud, a, b, table = two_vms
    hv1 = cloud.hosts[0]
    wait_until(lambda: a.mac in table and b.mac in table, 10, what="A and B learned")
    talk = 3 * (IDLE + EXPIRE)
    pinger = a.popen("ping", "-n", "-q", "-i", "0.2", "-c", str(int(talk / 0.2)),
                     "198.51.100.2", stdout=subprocess.DEVNULL)
    absent = []
    deadline = time.monotonic() + talk - 0.5
    while time.monotonic() < deadline:
        if a.mac not in table:
            absent.append(round(talk - (deadline - time.monotonic()), 1))
        time.sleep(0.1)
    assert pinger.wait(timeout=30) == 0, "pings lost while A talked"
    assert not absent, f"A's entry left the NSDB while A talked, at t={absent}"
    silent = time.monotonic()
    wait_until(lambda: a.mac not in table, IDLE + EXPIRE + 10, what="A's entry to age out")
    took = time.monotonic() - silent
    assert took >= EXPIRE, f"A's entry went {took:.1f} s after its last frame"
    assert hv1.agent.ctl("counters").get("learned_expired", 0) >= 1
    assert hv1.agent.ctl("status")["learned"]["mac_entries_in_use"] == 0
    # its next frame puts it back, and traffic flows as before
    assert a.ping("198.51.100.2", 2, timeout=2)
    wait_until(lambda: a.mac in table, 5, what="A learned again")
