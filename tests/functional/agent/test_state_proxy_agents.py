"""Agents read their state tables through the cluster's State Proxy: a MAC
move learned by one agent re-steers another agent's flows."""
import pytest

from tools.lab import traffic
from tools.lab.cloud import Cloud
from tools.lab.procs import wait_until

pytestmark = pytest.mark.functional


def test_flows_follow_a_mac_move_learned_by_another_agent_through_the_proxy(zookeeper):
    cloud = Cloud(2, zookeeper=zookeeper, cluster=True).start()
    try:
        hv1, hv2 = cloud.hosts
        for hv in (hv1, hv2):
            wait_until(lambda hv=hv: cloud._status(hv).get("state_proxy") == "connected", 30,
                       what=f"{hv.name}'s agent on the State Proxy")
        net = cloud.network()
        pa, a = cloud.vm(hv1, net, "vm-a")
        pb, b = cloud.vm(hv2, net, "vm-b")
        pe, e = cloud.vm(hv2, net, "vm-e")
        for hv, p in ((hv1, pa), (hv2, pb), (hv2, pe)):
            cloud.wait_bound(hv, p)
        cloud.wait_converged([pa, pb, pe])
        # host 2 learns B's MAC on port B; host 1 gets it through the proxy
        b.send(traffic.arp_request(b.mac, "198.51.100.2", "198.51.100.1"))
        a.expect(lambda f: traffic.matches(f, arp_opcode=1), 5)

        def unicast_to(vm):
            a.send(traffic.ipv4_udp(a.mac, b.mac, "198.51.100.1", "198.51.100.2"))
            return [f for f in vm.recv_all(0.3) if traffic.matches(f, ipv4_proto=17)] and [
                f for f in hv1.ovs.dump_flows() if f"dl_dst={b.mac}" in f
                and f.count("output:") == 1]

        wait_until(lambda: unicast_to(b), 10, what="host 1's unicast flow to B")
        e.drain()
        # B's MAC moves to port E (same host 2): host 2 learns it, host 1's
        # flow must follow through the proxy's differential update
        e.send(traffic.arp_request(b.mac, "198.51.100.2", "198.51.100.1"))
        wait_until(lambda: unicast_to(e), 10, what="host 1's flow to follow the move")
        b.drain(quiet=0.3)
        a.send(traffic.ipv4_udp(a.mac, b.mac, "198.51.100.1", "198.51.100.2", 4000))
        e.expect(lambda f: traffic.matches(f, udp_src_port=4000), 5)
        assert [f for f in b.recv_all(0.5) if traffic.matches(f, udp_src_port=4000)] == []
        assert cloud._status(hv1)["state_proxy"] == "connected"
        # host 1's metrics say where its tables come from and how fast updates apply
        families = hv1.agent.scrape()
        assert families["midonet_agent_state_proxy_connected"].samples[0].value == 1
        updates = families["midonet_agent_state_proxy_update_seconds"]
        count = next(s.value for s in updates.samples if s.name.endswith("_count"))
        assert count >= 2  # B learned, then B moved
    finally:
        cloud.stop()
