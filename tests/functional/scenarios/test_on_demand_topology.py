"""The agent loads the topology on demand: what its ports reach, when they
reach it, and lets it go again when nothing uses it. Checked on the agents
(``midonet-agent-ctl topology``) and on ZooKeeper (its watches, ``wchc``)."""
import subprocess
import sys
import time
import uuid

import pytest

from midonet_ryu.topology.model import Host, Port
from tools.lab import traffic
from tools.lab.procs import wait_until
from tools.lab.zookeeper import four_letter

pytestmark = pytest.mark.functional
BIG = 300  # ports of the network the agent must never load


def watches_of(cloud, hv) -> list[str]:
    """The paths ZooKeeper holds watches on for ``hv``'s agent's session."""
    session = hv.agent.ctl("topology")["session_id"]
    port = int(cloud.zk.hosts.rsplit(":", 1)[1])
    paths, current = [], None
    for line in four_letter(port, "wchc", timeout=5).splitlines():
        if line.startswith("0x"):
            current = line.strip()
        elif line.strip() and current == session:
            paths.append(line.strip())
    return paths


def ping(vm, dst, count=3, deadline=10):
    return vm.exec("ping", "-n", "-c", str(count), "-i", "0.2", "-w", str(deadline), dst,
                   check=False, timeout=deadline + 5)


def test_an_agent_loads_and_watches_only_what_its_ports_reach(make_cloud):
    cloud = make_cloud(2)
    hv1, hv2 = cloud.hosts
    net_a, net_b = cloud.network("a"), cloud.network("b")
    pa, a = cloud.vm(hv1, net_a, "vm-a")
    pa2, a2 = cloud.vm(hv2, net_a, "vm-a2")
    pb, b = cloud.vm(hv2, net_b, "vm-b")
    ghost = uuid.uuid4()  # a host with no agent: B's other ports are bound there
    cloud.store.create(Host(id=ghost, name="ghost"))
    with cloud.store.transaction() as tx:  # network B is big
        for _ in range(BIG):
            tx.create(Port(id=uuid.uuid4(), network_id=net_b.id, host_id=ghost))
    cloud.settle((hv1, pa), (hv2, pa2), (hv2, pb))
    a.send(traffic.arp_request(a.mac, "198.51.100.1", "198.51.100.2"))
    a2.expect(lambda f: traffic.matches(f, arp_opcode=1), 5)
    topo = hv1.agent.ctl("topology")
    assert topo["on_demand"] and topo["devices"]["Network"] == [str(net_a.id)], topo
    assert topo["loaded"]["Port"] == 2, topo  # A's two ports, none of B's
    watched = watches_of(cloud, hv1)
    assert not [p for p in watched if str(net_b.id) in p or str(pb.id) in p], watched
    # the watches follow the local ports and what they reached, not the cloud
    assert len(watched) < 40, watched
    # host 2 has not reached B's other ports either, until its VM on B sends
    assert len(watches_of(cloud, hv2)) < 40, watches_of(cloud, hv2)
    b.send(traffic.arp_request(b.mac, "198.51.100.1", "198.51.100.2"))
    wait_until(lambda: len(watches_of(cloud, hv2)) > BIG, 10,
               what="host 2 to load and watch network B's ports")


# Receives ONE datagram (or times out): prints it, or "none".
RECEIVE_ONE = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.settimeout(float(sys.argv[2]))
print("listening", flush=True)
try:
    print(s.recvfrom(100)[0].decode())
except OSError:
    print("none")
"""


def test_a_new_router_and_network_are_reached_with_no_packet_lost(routed):
    """One datagram, no retransmission: host 1 has not loaded the far network
    (nor, most of the time, the router) when it comes, and it is delivered."""
    cloud, router, _, (pa, a), (pb, b) = routed
    hv1, hv2 = cloud.hosts
    # B resolves its gateway, so the router knows B's MAC (its ARP table is
    # shared): the datagram then waits for nothing but the topology
    assert " 0% packet loss" in ping(b, "203.0.113.254", count=1).stdout
    # (the VMs' own chatter may have reached the router already; B's network
    # beyond it, whose ports host 1 would have located, it has not reached)
    assert str(pb.id) not in hv1.agent.ctl("ports")["remote"]
    waits = hv1.agent.ctl("counters").get("topology_waits", 0)
    receiver = b.popen(sys.executable, "-c", RECEIVE_ONE, "7000", "8",
                       stdout=subprocess.PIPE, text=True)
    try:
        assert receiver.stdout.readline().strip() == "listening"
        a.exec(sys.executable, "-c", "import socket; socket.socket(socket.AF_INET, "
               "socket.SOCK_DGRAM).sendto(b'first', ('203.0.113.1', 7000))")
        got = receiver.stdout.readline().strip()
    finally:
        receiver.kill()
        receiver.wait(timeout=5)
    assert got == "first"
    topo = hv1.agent.ctl("topology")
    assert str(router.id) in topo["devices"]["Router"], topo
    counters = hv1.agent.ctl("counters")
    assert counters.get("topology_waits", 0) > waits  # the datagram did wait
    assert counters.get("topology_waits_dropped", 0) == 0


def test_a_device_out_of_use_is_dropped_and_loaded_again_by_the_next_packet(ns_cloud):
    cloud = ns_cloud(2, agent_extra={"agent": {"topology_idle_expiry": "2",
                                               "flow_idle_timeout": "1"}})
    hv1, hv2 = cloud.hosts
    left, right = cloud.network("left"), cloud.network("right")
    router = cloud.router("edge")
    cloud.attach(router, left, "198.51.100.254", "198.51.100.0/24")
    cloud.attach(router, right, "203.0.113.254", "203.0.113.0/24")
    pa, a = cloud.kernel_vm(hv1, left, "vma", "198.51.100.1/24", gateway="198.51.100.254")
    pb, b = cloud.kernel_vm(hv2, right, "vmb", "203.0.113.1/24", gateway="203.0.113.254")
    cloud.settle((hv1, pa), (hv2, pb))
    assert ping(a, "203.0.113.1").returncode == 0

    def router_gone():
        return str(router.id) not in hv1.agent.ctl("topology")["devices"]["Router"]

    assert not router_gone()
    wait_until(router_gone, 15, interval=0.5, what="host 1 to drop the router out of use")
    assert hv1.agent.ctl("counters").get("topology_evicted", 0) > 0
    watched = watches_of(cloud, hv1)
    assert not [p for p in watched if str(router.id) in p], watched
    started = time.monotonic()
    out = ping(a, "203.0.113.1")
    assert " 0% packet loss" in out.stdout, out.stdout
    assert not router_gone() and time.monotonic() - started < 5
