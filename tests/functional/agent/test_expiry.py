"""Flows expire on the documented idle timeout and the agent's flow index
follows the switch (flow-removed messages)."""
import pytest

from tools.lab import traffic
from tools.lab.cloud import Cloud
from tools.lab.procs import wait_until

pytestmark = pytest.mark.functional


def test_idle_flows_expire_and_leave_the_index(zookeeper):
    cloud = Cloud(1, zookeeper=zookeeper, agent_extra={
        "agent": {"flow_idle_timeout": "2"}}).start()
    try:
        (hv,) = cloud.hosts
        net = cloud.network()
        pa, a = cloud.vm(hv, net, "vm-a")
        pb, b = cloud.vm(hv, net, "vm-b")
        cloud.wait_bound(hv, pa)
        cloud.wait_bound(hv, pb)
        a.send(traffic.arp_request(a.mac, "198.51.100.1", "198.51.100.2"))
        b.expect(lambda f: traffic.matches(f, arp_opcode=1), 5)
        wait_until(lambda: hv.agent.ctl("flows"), 5, what="a flow in the agent's index")
        flows = [f for f in hv.ovs.dump_flows() if "table=1" in f and "idle_timeout=2" in f]
        assert flows, "\n".join(hv.ovs.dump_flows())
        # nothing matches them any more: the switch removes them, the agent follows
        wait_until(lambda: not [f for f in hv.ovs.dump_flows() if "idle_timeout=2" in f]
                   and hv.agent.ctl("flows") == [], 15, what="idle flows to expire")
        assert hv.agent.ctl("status")["flows"] == 0
    finally:
        cloud.stop()
