"""A saturated agent sheds by ingress: VMs flooding new flows do not take the
turns of another VM on the same host.

The switch's packet-in limit is off here, so nothing but the agent decides
what goes. VM A floods new flows from three ports (a dummy port moves one
frame per ovs-vswitchd loop), each on a network of its own (its floods
reach no port) and behind a 1,000-rule chain, so that its flows cost the
agent more than the switch can offer. VM C (host 1) opens new flows at a
modest rate towards VM B (host 2).
"""
import threading
import time
import uuid

import pytest

from midonet_ryu.topology.rules import Chain, RuleAction
from tools.lab import traffic
from tools.scenario import rule

pytestmark = pytest.mark.functional

C_FLOWS = 150
C_RATE = 75.0  # new flows per second from C
A_PORTS = 3
A_RULES = 1000  # none matches A's frames: each is evaluated


@pytest.fixture
def hosts(make_cloud):
    # a short inbox: the agent sheds as soon as it falls behind
    cloud = make_cloud(2, agent_extra={"agent": {"packet_in_rate_limit": "0",
                                                 "packet_in_backlog": "32"}})
    hv1, hv2 = cloud.hosts
    calm = cloud.network("calm")
    long_chain = cloud.store.create(Chain(id=uuid.uuid4(), name="long"))
    for first in range(0, A_RULES, 250):
        with cloud.store.transaction() as tx:
            for i in range(first, first + 250):
                tx.create(rule(RuleAction.DROP, nw_dst_ip=f"198.18.{i >> 8}.{i & 255}/32")
                          .replace(chain_id=long_chain.id))
    # a network each, so that A's floods reach no port
    flooders = [cloud.vm(hv1, cloud.network(f"busy{i}"), f"vm-a{i}",
                         inbound_filter_id=long_chain.id) for i in range(A_PORTS)]
    pc, c = cloud.vm(hv1, calm, "vm-c")
    pb, b = cloud.vm(hv2, calm, "vm-b")
    cloud.settle(*[(hv1, p) for p, _ in flooders], (hv1, pc), (hv2, pb))
    return cloud, [a for _, a in flooders], b, c


def new_flows(a) -> list[bytes]:
    """Frames to 16,384 MACs nobody has: each is a new flow until simulated."""
    return [traffic.ipv4_udp(a.mac, f"02:aa:00:{a.mac[-2:]}:{i >> 8:02x}:{i & 255:02x}",
                             "192.0.2.1", "192.0.2.99") for i in range(16384)]


def flood(a, frames: list[bytes], stop: threading.Event, sent: list[int]) -> None:
    n = 0
    while not stop.is_set():
        a.send(frames[n & 0x3FFF])
        n += 1
    sent.append(n)


def test_a_flooding_vm_does_not_take_another_vms_turns(hosts):
    cloud, flooders, b, c = hosts
    hv1 = cloud.hosts[0]
    shed_before = hv1.agent.ctl("counters").get("packet_in_shed", 0)
    stop, sent = threading.Event(), []
    threads = [threading.Thread(target=flood, args=(a, new_flows(a), stop, sent), daemon=True)
               for a in flooders]
    for thread in threads:
        thread.start()
    time.sleep(1.0)  # the agent is saturated before C starts
    received: list[bytes] = []
    c_done = threading.Event()

    def collect() -> None:  # until 2 s after C's last frame
        while not c_done.is_set():
            received.extend(b.recv_all(0.2))
        received.extend(b.recv_all(2.0))

    collector = threading.Thread(target=collect, daemon=True)
    collector.start()
    try:
        started = time.monotonic()
        for i in range(C_FLOWS):  # each to a MAC nobody has: a new flow, flooded to B
            c.send(traffic.ipv4_udp(c.mac, f"02:cc:00:00:{i >> 8:02x}:{i & 255:02x}",
                                   "198.51.100.3", "198.51.100.99", 2000 + i, 9))
            time.sleep(max(0.0, started + (i + 1) / C_RATE - time.monotonic()))
        c_sent_in = time.monotonic() - started
        stop.set()  # the flood ends with C's frames; what is still queued drains
        c_done.set()
        collector.join(10)
    finally:
        stop.set()
        c_done.set()
        for thread in threads:
            thread.join(10)
    counters = hv1.agent.ctl("counters")
    from_c = [f for f in received if traffic.matches(f, ethernet_src=c.mac)]
    shed = counters.get("packet_in_shed", 0) - shed_before
    handled = counters.get("packet_in", 0)
    print(f"\nA sent {sum(sent)} frames, the agent shed {shed} packet-ins and handled {handled};"
          f" C's new flows delivered: {len(from_c)} of {C_FLOWS} (sent in {c_sent_in:.1f} s)")
    assert shed > 0.1 * sum(sent), "the agent was not saturated: the test proves nothing"
    assert len(from_c) >= 0.95 * C_FLOWS, (len(from_c), counters)
    # the operator is told who is shed, and it is A
    warnings = [line for line in hv1.agent.log().splitlines() if "agent saturated" in line]
    assert warnings and all("vm-c" not in line for line in warnings), warnings
    assert all("vm-a" in line for line in warnings), warnings
    assert hv1.agent.alive()
