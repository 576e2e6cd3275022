"""Two hypervisors, one virtual network: VMs exchange frames through real
agents, real Open vSwitch instances and a real tunnel."""
import re
import time

import pytest

from tools.lab import traffic
from tools.lab.procs import wait_until

pytestmark = pytest.mark.functional

IP_A, IP_B, IP_C = "198.51.100.1", "198.51.100.2", "198.51.100.3"


@pytest.fixture
def l2(cloud):
    """VM A on host 1, VMs B and C on host 2, one network."""
    hv1, hv2 = cloud.hosts
    net = cloud.network("demo")
    pa, a = cloud.vm(hv1, net, "vm-a")
    pb, b = cloud.vm(hv2, net, "vm-b")
    pc, c = cloud.vm(hv2, net, "vm-c", bind_by="iface-id")
    for hv, port in ((hv1, pa), (hv2, pb), (hv2, pc)):
        cloud.wait_bound(hv, port)
    cloud.wait_converged([pa, pb, pc])
    return cloud, net, (pa, a), (pb, b), (pc, c)


def udp(src, dst, sip, dip, n=0):
    return traffic.ipv4_udp(src.mac, dst.mac, sip, dip, 40000 + n, 7)


def only_udp(frames_in):
    return [f for f in frames_in if traffic.matches(f, ipv4_proto=17)]


def test_broadcast_reaches_every_other_port_and_unicast_flows_after_learning(l2):
    cloud, net, (pa, a), (pb, b), (pc, c) = l2
    # A broadcasts: B and C (both remote, on host 2) get it, A does not.
    a.send(traffic.arp_request(a.mac, IP_A, IP_B))
    for vm in (b, c):
        got = vm.expect(lambda f: traffic.matches(f, arp_opcode=1), 5)
        assert traffic.matches(got, ethernet_src=a.mac)
    assert a.recv_all(0.5) == []
    # B answers A by unicast: only A gets it (host 2 knows A's port from the
    # MAC table host 1 wrote when it learned A).
    wait_until(lambda: _mac_known(cloud, net, a.mac), 5, what="A's MAC in the NSDB")
    b.send(traffic.arp_reply(b.mac, IP_B, a.mac, IP_A))
    reply = a.expect(lambda f: traffic.matches(f, arp_opcode=2), 5)
    assert traffic.matches(reply, ethernet_src=b.mac, ethernet_dst=a.mac)
    assert c.recv_all(0.5) == []
    # Now unicast both ways, several frames each way.
    for n in range(5):
        a.send(udp(a, b, IP_A, IP_B, n))
        b.send(udp(b, a, IP_B, IP_A, n))
    got_b = only_udp(b.recv_all(1.5))
    got_a = only_udp(a.recv_all(0.5))
    assert len(got_b) == 5 and len(got_a) == 5
    assert all(traffic.matches(f, ethernet_dst=b.mac) for f in got_b)
    assert only_udp(c.recv_all(0.3)) == []


def test_tunnel_flow_carries_the_remote_port_key_and_host(l2):
    cloud, net, (pa, a), (pb, b), _ = l2
    hv1, hv2 = cloud.hosts
    a.send(traffic.arp_request(a.mac, IP_A, IP_B))
    b.expect(lambda f: traffic.matches(f, arp_opcode=1), 5)
    b.send(traffic.arp_reply(b.mac, IP_B, a.mac, IP_A))
    a.expect(lambda f: traffic.matches(f, arp_opcode=2), 5)
    wait_until(lambda: _mac_known(cloud, net, b.mac), 5, what="B's MAC in the NSDB")
    a.send(udp(a, b, IP_A, IP_B))
    b.expect(lambda f: traffic.matches(f, ipv4_proto=17), 5)
    # B's tunnel key as host 2 installed it for tunnel ingress
    keys2 = {m.group(1) for m in (re.search(r"tun_id=(0x[0-9a-f]+),in_port=\d+ "
                                            r"actions=output:(\d+)", line) for line in
                                  hv2.ovs.dump_flows()) if m
             and m.group(2) == str(hv2.ovs.ofport("vm-b"))}
    assert len(keys2) == 1
    key_b = keys2.pop()
    # Host 1 may have flooded that packet (B's MAC reached the NSDB, not yet
    # its agent), and the flood flow goes when the MAC arrives: send until
    # the agent has the unicast flow
    def unicast():
        a.send(udp(a, b, IP_A, IP_B))
        return [f for f in hv1.agent.ctl("flows") if f"eth_dst={b.mac}" in f["match"]
                and not any(tag.startswith("('flood") for tag in f["tags"])]

    (mine,) = wait_until(unicast, 10, interval=0.2, what="the unicast flow to B on host 1")
    (flow,) = [f for f in hv1.ovs.dump_flows() if f"cookie={mine['cookie']}," in f]
    assert f"set_field:{key_b}->tun_id" in flow
    assert f"set_field:{hv2.ip}->tun_dst" in flow
    assert "table=1" in flow
    # the agent explains the flow: its cookie, what it depended on, what made it
    assert mine["simulation"].startswith(f"FORWARD: ToPort({pb.id})")
    assert any(b.mac in tag and "'mac'" in tag for tag in mine["tags"])


def test_agent_sigkill_keeps_established_traffic_and_resumes_learning(l2):
    cloud, net, (pa, a), (pb, b), (pc, c) = l2
    hv1, hv2 = cloud.hosts
    a.send(traffic.arp_request(a.mac, IP_A, IP_B))
    b.expect(lambda f: traffic.matches(f, arp_opcode=1), 5)
    wait_until(lambda: _mac_known(cloud, net, a.mac), 5, what="A's MAC in the NSDB")
    b.send(traffic.arp_reply(b.mac, IP_B, a.mac, IP_A))
    a.expect(lambda f: traffic.matches(f, arp_opcode=2), 5)
    wait_until(lambda: _mac_known(cloud, net, b.mac), 5, what="B's MAC in the NSDB")
    # establish A <-> B: unicast flows installed on both hosts
    _establish(hv1, a, b, IP_A, IP_B)
    _establish(hv2, b, a, IP_B, IP_A)
    c.drain()

    hv1.agent.kill()
    hv2.agent.kill()
    assert not hv1.agent.alive() and not hv2.agent.alive()
    for n in range(20):  # established traffic, agents down
        a.send(udp(a, b, IP_A, IP_B, n))
        b.send(udp(b, a, IP_B, IP_A, n))
        time.sleep(0.01)
    assert len(only_udp(b.recv_all(1.5))) == 20
    assert len(only_udp(a.recv_all(0.5))) == 20

    for hv in (hv1, hv2):
        hv.agent.start()
    for hv in (hv1, hv2):
        cloud.wait_agent_ready(hv)
    # learning works again: a new VM on host 1 is learned and reached
    pd, d = cloud.vm(hv1, net, "vm-d")
    cloud.wait_bound(hv1, pd)
    cloud.wait_converged([pa, pb, pc, pd])
    d.send(traffic.arp_request(d.mac, "198.51.100.4", IP_C))
    c.expect(lambda f: traffic.matches(f, arp_opcode=1, ethernet_src=d.mac), 10)
    wait_until(lambda: _mac_known(cloud, net, d.mac), 5, what="D's MAC in the NSDB")
    c.send(udp(c, d, IP_C, "198.51.100.4"))
    got = d.expect(lambda f: traffic.matches(f, ipv4_proto=17), 5)
    assert traffic.matches(got, ethernet_src=c.mac)
    # and the established path still works after the restart
    a.send(udp(a, b, IP_A, IP_B, 99))
    b.expect(lambda f: traffic.matches(f, ipv4_proto=17), 5)
    # the flows of the killed run are removed once this run had time to
    # re-learn (reconcile_grace, 2 s in the lab); traffic goes on meanwhile
    gen = hv1.agent.ctl("status")["generation"]
    wait_until(lambda: not [f for f in hv1.ovs.dump_flows() if "table=1" in f
                            and f.startswith("cookie=0x3") and
                            int(f.split(",")[0].split("=")[1], 16) >> 40 & 0xFFFF != gen],
               10, what="stale flows of the killed run to go")
    for n in range(3):
        a.send(udp(a, b, IP_A, IP_B, 200 + n))
        b.expect(lambda f: traffic.matches(f, ipv4_proto=17), 5)


def _establish(hv, src, dst, sip, dip, timeout=10.0):
    """Send src -> dst until ``hv`` holds a unicast flow for it (a flood flow
    may come first, while the agent has not yet heard of dst's MAC)."""
    def unicast_flow():
        src.send(udp(src, dst, sip, dip))
        dst.expect(lambda f: traffic.matches(f, ipv4_proto=17), 5)
        return [f for f in hv.ovs.dump_flows()
                if f"dl_dst={dst.mac}" in f and f.count("output:") == 1]

    wait_until(unicast_flow, timeout, 0.1, what=f"unicast flow to {dst.name} on {hv.name}")
    dst.drain()


def _mac_known(cloud, net, mac):
    from midonet_ryu.nsdb.state_table import StateTables

    table = StateTables(cloud.client, cloud.store.paths).bridge_mac_table(net.id, 0)
    try:
        return mac in table
    finally:
        table.stop()
