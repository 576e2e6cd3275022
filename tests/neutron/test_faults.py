"""Neutron's changes under faults: the cluster down while Neutron works, and
a change the cluster refuses."""
from __future__ import annotations

import uuid

import pytest

from tools.lab import neutron_journal as journal
from tools.lab.cluster import LAB_USERS, ClusterProcess
from tools.lab.neutron_server import InProcessNeutron
from tools.lab.procs import wait_until

pytestmark = pytest.mark.functional


@pytest.fixture
def cluster(zk_server, zk_root):
    proc = ClusterProcess(zk_server.hosts, root=zk_root).start()
    yield proc
    proc.cleanup()


@pytest.fixture
def neutron(cluster):
    server = InProcessNeutron(cluster.api_url, "admin", LAB_USERS["admin"][0],
                              retry_interval=0.1, max_retry_interval=0.5).start()
    yield server
    server.stop()


@pytest.fixture
def zk(zk_server):
    from kazoo.client import KazooClient

    client = KazooClient(hosts=zk_server.hosts, timeout=10)
    client.start(timeout=15)
    yield client
    client.stop()
    client.close()


def stored(zk, root: str, collection: str) -> dict[str, int]:
    """Neutron resources the cluster holds: id -> the zxid that created them."""
    path = f"{root}/neutron/{collection}"
    if not zk.exists(path):
        return {}
    return {name: zk.exists(f"{path}/{name}").czxid for name in zk.get_children(path)}


def test_ports_created_while_the_cluster_is_down_all_arrive_in_order(cluster, neutron, zk):
    net = neutron.create("networks", name="outage")
    neutron.create("subnets", network_id=net["id"], ip_version=4, cidr="198.51.100.0/24")
    journal.drain(neutron)
    cluster.stop()
    ports = [neutron.create("ports", network_id=net["id"], name=f"p{i}")["id"]
             for i in range(20)]
    assert stored(zk, cluster.root, "ports").keys().isdisjoint(ports)
    cluster.start()
    journal.drain(neutron, timeout=60)
    arrived = stored(zk, cluster.root, "ports")
    assert set(ports) <= set(arrived), "every port reached the NSDB"
    assert sorted(ports, key=arrived.__getitem__) == ports, "in the order Neutron made them"
    assert journal.failed_entries(neutron) == []
    # and the translation is whole: a full sync finds nothing to repair
    report = journal.full_sync(neutron, dry_run=True)
    assert (report["created"], report["updated"], report["failed"]) == ([], [], [])


def test_a_refused_change_is_a_failed_entry_with_its_reason_and_blocks_nothing(
        cluster, neutron, zk):
    # Neutron accepts an address group of prefixes; the cluster translates host
    # addresses only
    group = neutron.create("address-groups", name="wide", addresses=["198.51.100.0/24"])
    net = neutron.create("networks", name="after")
    journal.drain(neutron)
    (failed,) = journal.failed_entries(neutron)
    assert (failed.resource, failed.resource_id) == ("address_groups", group["id"])
    assert "host addresses" in failed.last_error
    assert net["id"] in stored(zk, cluster.root, "networks")
    # what the cluster holds of the group is what it last accepted: no prefix
    if group["id"] in stored(zk, cluster.root, "address_groups"):
        data, _ = zk.get(f"{cluster.root}/neutron/address_groups/{group['id']}")
        assert "198.51.100.0/24" not in data.decode()


def test_a_port_is_active_only_once_an_agent_bound_it(cluster, neutron, zk_server):
    from kazoo.client import KazooClient

    from midonet_ryu.nsdb.hosts import publish_port_active, register_host
    from midonet_ryu.nsdb.paths import Paths
    from midonet_ryu.nsdb.state_keys import StateKeys
    from midonet_ryu.nsdb.store import Store

    agent_zk = KazooClient(hosts=zk_server.hosts, timeout=10)
    agent_zk.start(timeout=15)
    try:
        paths = Paths(cluster.root)
        host_id = uuid.uuid4()
        keys = StateKeys(agent_zk, paths, host_id)
        register_host(Store(agent_zk, paths), keys, host_id, "hv-faults")
        net = neutron.create("networks", name="binding")
        neutron.create("subnets", network_id=net["id"], ip_version=4, cidr="198.51.100.0/24")
        port = neutron.create("ports", network_id=net["id"], device_owner="compute:nova",
                              device_id="vm", **{"binding:host_id": "hv-faults"})
        assert port["binding:vif_type"] == "ovs" and port["status"] == "DOWN"
        unknown = neutron.create("ports", network_id=net["id"], device_owner="compute:nova",
                                 device_id="vm2", **{"binding:host_id": "no-agent-here"})
        assert unknown["binding:vif_type"] == "binding_failed"
        journal.drain(neutron)
        assert neutron.show("ports", port["id"])["status"] == "DOWN"
        publish_port_active(keys, uuid.UUID(port["id"]), 5)  # what the agent does
        wait_until(lambda: neutron.show("ports", port["id"])["status"] == "ACTIVE", 10,
                   what="the port ACTIVE")
        keys.delete("Port", uuid.UUID(port["id"]), "active")
        wait_until(lambda: neutron.show("ports", port["id"])["status"] == "DOWN", 10,
                   what="the port DOWN again")
    finally:
        agent_zk.stop()
        agent_zk.close()
