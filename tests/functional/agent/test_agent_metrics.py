"""What a Prometheus scrape of real agents shows after traffic between two hosts.

Each lab agent serves its registry on a free loopback port
(``AgentProcess.metrics_port``); the scrape is parsed with prometheus-client's
own parser, as Prometheus would read it.
"""
import pytest

from tools.lab import traffic
from tools.lab.procs import wait_until

pytestmark = pytest.mark.functional

P = "midonet_agent_"
IP_A, IP_B = "198.51.100.1", "198.51.100.2"


def value(families, name):
    """The unlabelled sample of a family (a counter's is ``<name>_total``)."""
    family = families[P + name]
    return next(s.value for s in family.samples
                if s.name in (family.name, family.name + "_total"))


def test_scrape_counts_packet_ins_and_flows_after_traffic(cloud):
    hv1, hv2 = cloud.hosts
    net = cloud.network("metrics")
    pa, a = cloud.vm(hv1, net, "vm-a")
    pb, b = cloud.vm(hv2, net, "vm-b")
    cloud.settle((hv1, pa), (hv2, pb))
    assert hv1.agent.metrics_port != hv2.agent.metrics_port  # one machine, two endpoints
    # gauges are set by the agent's periodic tick (about a second after the binding)
    before = wait_until(lambda: (lambda f: f if value(f, "local_ports") == 1 else None)(
        hv1.agent.scrape()), 10, what="host 1's local_ports gauge to count A's port")
    assert value(before, "zookeeper_connected") == 1
    packet_ins = value(before, "packet_in")

    a.send(traffic.arp_request(a.mac, IP_A, IP_B))
    b.expect(lambda f: traffic.matches(f, arp_opcode=1), 5)
    b.send(traffic.arp_reply(b.mac, IP_B, a.mac, IP_A))
    a.expect(lambda f: traffic.matches(f, arp_opcode=2), 5)

    # Gauges are set by the agent's periodic tick (about a second).
    wait_until(lambda: value(hv1.agent.scrape(), "flows") >= 1, 10,
               what="host 1's flows gauge to count the flow of A's broadcast")
    after = hv1.agent.scrape()
    assert value(after, "packet_in") >= packet_ins + 1
    assert value(after, "flows_installed") >= 1
    latency = after[P + "packet_in_seconds"]
    count = next(s.value for s in latency.samples if s.name == latency.name + "_count")
    assert count >= 1
    assert value(hv2.agent.scrape(), "packet_in") >= 1  # B's reply came from host 2
    # midonet-agent-ctl counters reads the same registry the endpoint serves
    counters = hv1.agent.ctl("counters")
    now = hv1.agent.scrape()
    assert counters["flows_installed"] == value(now, "flows_installed")
    assert counters["local_ports"] == value(now, "local_ports") == 1
