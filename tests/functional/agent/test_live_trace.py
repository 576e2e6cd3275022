"""A live trace through real agents: a trace request created through the REST API
makes the agent of the traced port record the simulations of matching packets,
at most ``limit`` of them, readable back through the API; other packets are not
recorded and still get their flows installed."""
import pytest

from tests.functional.checked_api import CheckedApi as Api
from tools.lab.cluster import LAB_USERS
from tools.lab.netns import netns_unavailable
from tools.lab.procs import wait_until

pytestmark = pytest.mark.functional


def test_trace_request_records_matching_packets_up_to_its_limit(make_cloud):
    reason = netns_unavailable()
    if reason:
        pytest.skip(reason)
    cloud = make_cloud(2, netns=True, cluster=True)
    api = Api(cloud.cluster.api_url, "admin", LAB_USERS["admin"][0])
    hv1, hv2 = cloud.hosts
    net = cloud.network("traced")
    pa, a = cloud.kernel_vm(hv1, net, "tra", "198.51.100.1/24")
    pb, b = cloud.kernel_vm(hv2, net, "trb", "198.51.100.2/24")
    cloud.settle((hv1, pa), (hv2, pb))
    assert a.ping("198.51.100.2", count=2)  # learned, flows installed
    # the agent reports its interfaces, and which port each one serves
    ifaces = {i["name"]: i for i in api.get(f"/hosts/{hv1.host_id}/interfaces")}
    assert ifaces[a.port]["portId"] == str(pa.id)
    assert any(i["type"] == "vxlan" for i in ifaces.values())
    assert api.get(f"/hosts/{hv1.host_id}")["alive"] is True

    trace = api.post("/traces", {"name": "icmp-from-a", "deviceType": "port",
                                 "deviceId": str(pa.id), "dlType": 0x0800, "nwProto": 1,
                                 "limit": 3, "enabled": True})
    # once the agent has the request, echo requests from A come to it again
    wait_until(lambda: (a.ping("198.51.100.2"), api.get(trace["flows"]))[1], 15,
               what="a first trace record")
    assert a.ping("198.51.100.2", count=4)  # tracing never stops forwarding
    records = wait_until(lambda: (lambda r: r if len(r) >= 3 else None)(
        api.get(trace["flows"])), 15, what="three records")
    assert len(records) == 3  # the limit holds
    for rec in records:
        assert rec["hostId"] == str(hv1.host_id)
        assert rec["result"] == "forward"
        assert rec["egressPorts"] == [str(pb.id)]
        assert any(step["kind"] == "ingress" for step in rec["steps"])
        assert rec["match"]["ethSrc"] == a.mac  # the flow it would have installed
    # UDP from A matches no request: its flow is installed, nothing recorded
    a.exec("python3", "-c", "import socket; socket.socket(socket.AF_INET, "
           "socket.SOCK_DGRAM).sendto(b'x', ('198.51.100.2', 9))")
    assert len(api.get(trace["flows"])) == 3
    counters = hv1.agent.ctl("counters")
    assert counters.get("traces_recorded", 0) == 3
    # deleting the request deletes its records
    api.delete(trace["uri"])
    zk = cloud.client
    assert zk.exists(cloud.store.paths.trace_flows(trace["id"])) is None
