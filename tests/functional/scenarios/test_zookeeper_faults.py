"""ZooKeeper faults under live traffic: a leader failover, a full outage and
a session expiry. The agents keep forwarding, keep simulating on their cached
topology, report being degraded, and recover without restarting."""
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid

import pytest

from midonet_ryu.nsdb.paths import Paths
from midonet_ryu.nsdb.state_catalogue import MAC_TABLE
from midonet_ryu.nsdb.state_keys import StateKeys
from midonet_ryu.nsdb.state_table import StateTable
from midonet_ryu.topology.model import Port
from tools.lab.cloud import Cloud
from tools.lab.netns import netns_unavailable
from tools.lab.procs import wait_until
from tools.lab.zookeeper import ZooKeeperEnsemble

pytestmark = pytest.mark.functional
GRACE = 3.0  # session_gracetime: reconnecting for this long, then degraded


@pytest.fixture
def ensemble():
    workdir = tempfile.mkdtemp(prefix="mr-zk3-")
    zk = ZooKeeperEnsemble(workdir).start()
    yield zk
    zk.stop()
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def two_vms(ensemble):
    reason = netns_unavailable()
    if reason:
        pytest.skip(reason)
    cloud = Cloud(2, zookeeper=ensemble, netns=True, agent_extra={
        "zookeeper": {"session_gracetime": str(int(GRACE * 1000))}}).start()
    try:
        hv1, hv2 = cloud.hosts
        net = cloud.network("n")
        pa, a = cloud.kernel_vm(hv1, net, "vma", "198.51.100.1/24")
        pb, b = cloud.kernel_vm(hv2, net, "vmb", "198.51.100.2/24")
        cloud.settle((hv1, pa), (hv2, pb))
        wait_until(lambda: a.ping("198.51.100.2", 1, timeout=1), 10, what="A to reach B")
        # "established": both hosts hold the unicast flows of the path. The
        # first packets are flooded before the MACs are learned, and with two
        # hosts a flood is one tunnel output too, so only the agent can tell
        # them apart: a flood flow carries a flood tag, and goes (invalidated)
        # when the host learns the MAC, after which only the agent can set up
        # the unicast one
        for hv, dst in ((hv1, b), (hv2, a)):
            wait_until(lambda hv=hv, dst=dst: a.ping("198.51.100.2", 1, timeout=1)
                       and unicast_flows(hv, dst.mac), 10, what=f"a unicast flow on {hv.name}")
        yield cloud, net, a, b
    finally:
        cloud.stop()


def unicast_flows(hv, mac):
    """The agent's flows to ``mac`` that were not simulated as a flood."""
    return [f for f in hv.agent.ctl("flows") if f"eth_dst={mac}" in f["match"]
            and not any(tag.startswith("('flood'") for tag in f["tags"])]


def flood_ping(vm, dst, seconds):
    """A background ping, 20 per second: returns the process (ends by itself)."""
    count = int(seconds * 20)
    return vm.popen("ping", "-n", "-q", "-i", "0.05", "-c", str(count), "-W", "1", dst,
                    stdout=subprocess.PIPE, text=True)


def verbose_ping(vm, dst, seconds):
    return vm.popen("ping", "-n", "-i", "0.05", "-c", str(int(seconds * 20)), "-W", "1", dst,
                    stdout=subprocess.PIPE, text=True)


def loss(proc) -> tuple[int, int]:
    out, _ = proc.communicate(timeout=60)
    for line in out.splitlines():
        if "packets transmitted" in line:
            sent = int(line.split()[0])
            got = int(line.split(",")[1].split()[0])
            return sent, got
    raise AssertionError(out)


def missing(proc) -> list[int]:
    """Sequence numbers of the echo requests that got no reply (ping -D output)."""
    out, _ = proc.communicate(timeout=60)
    total = next(int(line.split()[0]) for line in out.splitlines()
                 if "packets transmitted" in line)
    seen = {int(line.split("icmp_seq=")[1].split()[0]) for line in out.splitlines()
            if "icmp_seq=" in line}
    return sorted(set(range(1, total + 1)) - seen)


def status(hv):
    return hv.agent.ctl("status")


def nsdb(hv):
    return status(hv)["nsdb"]


def test_leader_kill_loses_no_traffic(two_vms, ensemble):
    cloud, net, a, b = two_vms
    hv1, hv2 = cloud.hosts
    pinger = flood_ping(a, "198.51.100.2", 6)
    time.sleep(1)
    leader = ensemble.leader()
    leader.kill()
    sent, got = loss(pinger)
    assert sent > 100 and got == sent, f"{sent - got} of {sent} pings lost"
    # the NSDB still works through the new leader: a new VM binds and talks
    pc, c = cloud.kernel_vm(hv2, net, "vmc", "198.51.100.3/24")
    cloud.wait_bound(hv2, pc, timeout=30)
    cloud.wait_converged([pc], timeout=30)
    wait_until(lambda: a.ping("198.51.100.3", 1, timeout=1), 20, what="A to reach C")
    assert hv1.agent.alive() and hv2.agent.alive()


def test_full_outage_keeps_forwarding_and_simulating(two_vms, ensemble):
    """Through a full outage the agents forward, simulate, bind and learn on
    their cached state, report reconnecting and then degraded, and write
    what they could not once ZooKeeper is back."""
    cloud, net, a, b = two_vms
    hv1, hv2 = cloud.hosts
    pc = cloud.store.create(Port(id=uuid.uuid4(), network_id=net.id, host_id=hv1.host_id))
    time.sleep(1)  # in the agents' topology before the outage; its VM comes during it
    macs = StateTable(cloud.client, Paths(cloud.root_key), MAC_TABLE, net.id, ("0",)).start()
    for server in ensemble.servers:
        server.kill()
    killed = time.monotonic()
    wait_until(lambda: nsdb(hv1)["state"] == "reconnecting", 10,
               what="the agent to report reconnecting")
    assert not status(hv1)["degraded"] or time.monotonic() - killed >= GRACE
    # established traffic
    assert a.ping("198.51.100.2", 5, timeout=1)
    # and new flows, simulated on the cached topology: a new TCP connection
    # is a new flow (UDP to a new port, exact L2 flows already cover ICMP)
    before = hv1.agent.ctl("counters").get("packet_in", 0)
    moved = "02:00:00:00:0b:0b"
    b.exec("ip", "link", "set", "eth0", "address", moved)  # B's MAC moves
    a.exec("ip", "neigh", "flush", "dev", "eth0")
    assert a.ping("198.51.100.2", 3, timeout=2), "a new path was not simulated"
    assert hv1.agent.ctl("counters").get("packet_in", 0) > before
    # a VM plugged meanwhile is bound and talks to its neighbours: the
    # agent's worker does not wait for ZooKeeper
    c = hv1.ovs.add_vm("vmc", "198.51.100.3/24", iface_id=str(pc.id))
    cloud.wait_bound(hv1, pc, timeout=10)
    assert c.ping("198.51.100.1", 2, timeout=2), "the new VM cannot reach A on its host"
    wait_until(lambda: status(hv1)["degraded"], GRACE + 10, what="the agent to report degraded")
    degraded = nsdb(hv1)
    assert degraded["state"] == "degraded" and degraded["disconnected_for_s"] >= GRACE
    assert "share MAC and ARP learnings with other hosts" in degraded["cannot"]
    assert degraded["put_aside"] >= 1  # C's port key at least
    assert nsdb(hv2)["put_aside"] >= 1, "host 2 learned B's new MAC and had to keep it"
    counters = hv1.agent.ctl("counters")
    assert counters["nsdb_degraded"] == 1 and counters["nsdb_disconnected_seconds"] >= GRACE
    assert hv1.agent.alive() and hv2.agent.alive()
    for server in ensemble.servers:
        server.start(wait=False)
    for server in ensemble.servers:
        server.wait_serving(60)
    wait_until(lambda: nsdb(hv1)["state"] == nsdb(hv2)["state"] == "connected", 60,
               what="the agents to reconnect")
    assert not status(hv1)["degraded"]
    counters = hv1.agent.ctl("counters")
    assert counters["nsdb_degraded"] == 0 and counters["nsdb_disconnected_seconds"] == 0
    assert "degraded. Still forwarding" in hv1.agent.log()
    # what was put aside is in the NSDB: B's new MAC, C's binding (host 2 reaches C)
    wait_until(lambda: macs.get(moved) is not None, 15, what="B's new MAC written")
    wait_until(lambda: nsdb(hv1)["put_aside"] == nsdb(hv2)["put_aside"] == 0, 15,
               what="nothing left aside")
    wait_until(lambda: b.ping("198.51.100.3", 1, timeout=1), 20, what="B to reach C")
    assert a.ping("198.51.100.2", 3, timeout=1)
    macs.stop()


def test_session_expiry_is_survived_not_fatal(two_vms, ensemble):
    cloud, net, a, b = two_vms
    hv1, hv2 = cloud.hosts
    client = cloud.client
    keys = StateKeys(client, Paths(cloud.root_key), hv1.host_id)
    assert keys.get("Host", hv1.host_id, "alive") is not None
    # A's neighbour entry for B must not expire while agent 1 is frozen: its
    # refresh is an ARP exchange, a new flow, which a frozen agent cannot set up
    # (the claim is that established flows keep forwarding); when the entry aged
    # during the freeze, every ping of it was lost
    a.exec("ip", "neigh", "replace", "198.51.100.2", "lladdr", b.mac, "nud", "permanent",
           "dev", "eth0")
    b.exec("ip", "neigh", "replace", "198.51.100.1", "lladdr", a.mac, "nud", "permanent",
           "dev", "eth0")
    pinger = verbose_ping(a, "198.51.100.2", 16)
    started = time.monotonic()
    # freeze agent 1 past its 10 s session timeout: ZooKeeper expires it
    os.kill(hv1.agent.pid, signal.SIGSTOP)
    try:
        wait_until(lambda: keys.get("Host", hv1.host_id, "alive") is None, 30,
                   what="the frozen agent's session to expire")
    finally:
        os.kill(hv1.agent.pid, signal.SIGCONT)
        resumed = time.monotonic()
    # it re-creates its ephemeral state in a new session, and keeps running
    wait_until(lambda: keys.get("Host", hv1.host_id, "alive") is not None, 30,
               what="host 1 alive again")
    wait_until(lambda: hv1.agent.ctl("counters").get("zookeeper_sessions_lost", 0) >= 1, 10,
               what="the agent to notice the expiry")
    lost = missing(pinger)
    assert not lost, (f"{len(lost)} pings lost across the session expiry (20/s from t=0, "
                      f"expired+resumed at t={resumed - started:.1f}s): {lost[:3]}..{lost[-3:]}"
                      f"\n{hv1.agent.tail(12)}")
    assert hv1.agent.alive()
    # learning and binding work again on the new session
    pc, c = cloud.kernel_vm(hv1, net, "vmc", "198.51.100.3/24")
    cloud.wait_bound(hv1, pc, timeout=30)
    cloud.wait_converged([pc], timeout=30)
    wait_until(lambda: b.ping("198.51.100.3", 1, timeout=1), 20, what="B to reach C")


def test_what_a_host_learned_is_written_again_after_its_session_expired(two_vms, ensemble):
    """A's MAC, learned by host 1, dies with host 1's session; A stays silent,
    so nothing would learn it again: the agent writes it back itself."""
    cloud, net, a, b = two_vms
    hv1, hv2 = cloud.hosts
    client = cloud.client
    keys = StateKeys(client, Paths(cloud.root_key), hv1.host_id)
    learned = StateTable(client, Paths(cloud.root_key), MAC_TABLE, net.id, ("0",)).start()
    try:
        wait_until(lambda: a.mac in learned, 10, what="A's MAC in the NSDB")
        port_a = learned[a.mac]
        a.exec("ip", "link", "set", "eth0", "down")  # silent: it sends nothing more
        os.kill(hv1.agent.pid, signal.SIGSTOP)
        try:
            wait_until(lambda: keys.get("Host", hv1.host_id, "alive") is None, 30,
                       what="the frozen agent's session to expire")
            wait_until(lambda: a.mac not in learned, 10, what="A's entry gone with it")
        finally:
            os.kill(hv1.agent.pid, signal.SIGCONT)
        wait_until(lambda: learned.get(a.mac) == port_a, 20,
                   what="host 1 to write A's MAC back, A silent meanwhile")
    finally:
        learned.stop()
