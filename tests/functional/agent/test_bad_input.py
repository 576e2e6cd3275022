"""Bad input and missing pieces: the agent reports clearly, waits, and keeps
serving."""
import os
import uuid

import pytest

from midonet_ryu.topology.model import Host
from tools.lab import traffic
from tools.lab.agent import AgentProcess
from tools.lab.procs import free_port, wait_until
from tools.lab.zookeeper import ZooKeeperServer

pytestmark = pytest.mark.functional


def test_unreachable_zookeeper_at_start_is_retried_with_a_clear_message(ovs_host, tmp_path,
                                                                        zk_client):
    port = free_port()
    agent = AgentProcess(str(tmp_path / "agent"), f"127.0.0.1:{port}", ovs_host.ovsdb_connection,
                         "192.0.2.1")
    agent.start(wait=False)
    zk = ZooKeeperServer(str(tmp_path / "zk"), client_port=port)
    try:
        agent.wait_log("unreachable", 20)
        assert agent.alive(), "the agent gave up instead of retrying"
        assert "Traceback" not in agent.log()
        zk.start()
        agent.wait_log("agent ready", 30)
        from kazoo.client import KazooClient

        from midonet_ryu.nsdb.paths import Paths
        from midonet_ryu.nsdb.store import Store

        client = KazooClient(hosts=zk.hosts)
        client.start()
        try:
            assert Store(client, Paths("/midonet")).find(Host, agent.host_id) is not None
        finally:
            client.stop()
    finally:
        agent.stop()
        zk.stop()


def test_port_bound_before_its_interface_exists_binds_when_it_appears(cloud):
    hv1, hv2 = cloud.hosts
    net = cloud.network()
    from midonet_ryu.topology.model import Port

    port = cloud.store.create(Port(id=uuid.uuid4(), network_id=net.id, host_id=hv1.host_id,
                                   interface_name="vm-late"))
    pb, b = cloud.vm(hv2, net, "vm-b")
    cloud.wait_bound(hv2, pb)
    assert f"bound port {port.id}" not in hv1.agent.log()
    late = hv1.ovs.add_vm_port("vm-late")  # the hypervisor plugs the VM in later
    cloud.wait_bound(hv1, port)
    cloud.wait_converged([port, pb])
    late.send(traffic.arp_request(late.mac, "198.51.100.7", "198.51.100.2"))
    b.expect(lambda f: traffic.matches(f, arp_opcode=1, ethernet_src=late.mac), 5)


def test_malformed_frames_are_dropped_and_counted(cloud):
    hv1, hv2 = cloud.hosts
    net = cloud.network()
    pa, a = cloud.vm(hv1, net, "vm-a")
    pb, b = cloud.vm(hv2, net, "vm-b")
    cloud.settle((hv1, pa), (hv2, pb))
    bad = [
        bytes.fromhex("ffffffffffff") + bytes.fromhex(a.mac.replace(":", "")) + b"\x08\x00"
        + b"\x45\x00\x00",  # IPv4 header cut after 3 bytes
        bytes.fromhex("ffffffffffff") + bytes.fromhex(a.mac.replace(":", "")) + b"\x08\x06"
        + b"\x00\x01",  # truncated ARP
        bytes.fromhex("ffffffffffff") + bytes.fromhex(a.mac.replace(":", "")) + b"\x08\x00"
        + b"\x4f" + os.urandom(40),  # IHL beyond the frame
    ]
    for frame in bad:
        a.send(frame)
    wait_until(lambda: hv1.agent.ctl("counters").get("malformed_packets", 0) >= len(bad), 5,
               what="malformed frames counted")
    assert only_frames_from(b.recv_all(0.5), a.mac) == []
    # the agent keeps serving
    a.send(traffic.arp_request(a.mac, "198.51.100.1", "198.51.100.2"))
    b.expect(lambda f: traffic.matches(f, arp_opcode=1), 5)
    assert hv1.agent.alive()


def only_frames_from(got, mac):
    return [f for f in got if traffic.matches(f, ethernet_src=mac)]


def test_contradictory_arp_timers_stop_the_agent_with_a_clear_message(ovs_host, tmp_path,
                                                                      zookeeper):
    agent = AgentProcess(str(tmp_path / "agent"), zookeeper.hosts, ovs_host.ovsdb_connection,
                         "192.0.2.1", extra={"agent": {"arp_expiration": "90",
                                                       "arp_stale": "100"}})
    agent.start(wait=False)
    try:
        assert agent.proc.wait(timeout=30) != 0
        assert "arp_stale (100 s) must be below arp_expiration (90 s)" in agent.log()
    finally:
        agent.stop()


def test_a_corrupt_flow_state_file_is_set_aside_and_the_agent_starts_without_it(
        ovs_host, tmp_path, zookeeper):
    workdir = tmp_path / "agent"
    workdir.mkdir()
    state = workdir / "flow-state.json"
    state.write_bytes(b'{"version": 1, "host": "somebody else", "conntrack": []}')
    agent = AgentProcess(str(workdir), zookeeper.hosts, ovs_host.ovsdb_connection, "192.0.2.1")
    try:
        agent.start()
        agent.wait_log("agent ready", 30)
        assert "flow state not reloaded from" in agent.log()
        assert "written by host 'somebody else'" in agent.log()
        assert (workdir / "flow-state.json.bad").exists()
        # and it writes a good one of its own again
        wait_until(state.exists, 10, what="a new flow-state file")
        assert str(agent.host_id) in state.read_text()
    finally:
        agent.stop()
