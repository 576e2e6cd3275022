"""A flood too big for one OpenFlow message, on real Open vSwitch: a network
with 1,500 ports on another host (about 70 KB of tunnel actions) still
floods, in several packet-outs the switch accepts, and the agent caches no
flow it could not hold."""
import uuid

import pytest

from midonet_ryu.nsdb import hosts
from midonet_ryu.nsdb.paths import Paths
from midonet_ryu.nsdb.state_keys import StateKeys
from midonet_ryu.topology.model import Host, Port
from tools.lab import traffic

pytestmark = pytest.mark.functional
REMOTE_PORTS = 1500


def test_a_flood_to_1500_remote_ports_is_sent_and_the_switch_refuses_nothing(make_cloud):
    cloud = make_cloud(1)
    (hv,) = cloud.hosts
    net = cloud.network("big")
    pa, a = cloud.vm(hv, net, "vm-a")
    pb, b = cloud.vm(hv, net, "vm-b")
    cloud.wait_bound(hv, pa)
    cloud.wait_bound(hv, pb)
    # a host with no switch behind it: its record, tunnel zone membership,
    # session and the ports it would serve, written as its agent would
    ghost = uuid.uuid4()
    cloud.store.create(Host(id=ghost, name="ghost"))
    hosts.join_tunnel_zone(cloud.store, "default", ghost, "192.0.2.200")
    with cloud.store.transaction() as tx:
        ports = [tx.create(Port(id=uuid.uuid4(), network_id=net.id, host_id=ghost))
                 for _ in range(REMOTE_PORTS)]
    keys = StateKeys(cloud.client, Paths(cloud.root_key), ghost)
    keys.set("Host", ghost, hosts.ALIVE, b"")
    for i, port in enumerate(ports):
        hosts.publish_port_active(keys, port.id, 0x300000 + i)

    def located():
        remote = hv.agent.ctl("ports", timeout=20)["remote"]
        return sum(1 for r in remote.values() if r["reachable"]) == REMOTE_PORTS

    # the first flood waits while the agent loads the network's ports and
    # locates them (it reaches them only now); no flow is cached, so the
    # second is split again
    for wait in (60, 5):
        a.send(traffic.arp_request(a.mac, "198.51.100.1", "198.51.100.99"))
        b.expect(lambda f: traffic.matches(f, arp_opcode=1), wait)
        assert located()
    # every copy left through the tunnel port, one per remote port and flood
    tunnel = hv.ovs.port_stats()[hv.ovs.ofport("tun-vxlan")]
    assert tunnel["tx_packets"] == 2 * REMOTE_PORTS
    counters = hv.agent.ctl("counters")
    assert counters.get("split_executions", 0) == 2
    assert counters.get("switch_errors", 0) == 0
    assert not [f for f in hv.ovs.dump_flows() if "192.0.2.200->tun_dst" in f]
