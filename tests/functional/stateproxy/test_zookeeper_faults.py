"""The State Proxy through ZooKeeper faults: a leader failover and a full outage."""
import signal
import tempfile
import threading
import time
import uuid

import pytest
from sp_helpers import (
    RawStateClient,
    Recorder,
    churn,
    converged,
    on_proxy,
    proxy_client,
    wait_for,
    zk_view,
)

from midonet_ryu.nsdb.client import make_client
from midonet_ryu.nsdb.paths import Paths
from midonet_ryu.nsdb.state_catalogue import MAC_TABLE
from midonet_ryu.nsdb.state_table import StateTable
from midonet_ryu.stateproxy import state_api as m
from tools.lab.zookeeper import ZooKeeperEnsemble, ZooKeeperServer

pytestmark = pytest.mark.functional


def started(hosts: str, timeout_ms: int = 10000):
    client = make_client(hosts, session_timeout_ms=timeout_ms)
    client.start(timeout=20)
    return client


def test_leader_failover_under_churn(cluster_factory):
    workdir = tempfile.mkdtemp(prefix="mr-ens-")
    ensemble = ZooKeeperEnsemble(workdir).start()
    clients = []

    def new_client():
        clients.append(started(ensemble.hosts))
        return clients[-1]

    try:
        paths = Paths(f"/failover-{uuid.uuid4().hex[:6]}")
        cluster_factory(root=paths.root, hosts=ensemble.hosts)
        net = uuid.uuid4()
        zk = new_client()
        client = proxy_client(new_client(), paths)
        table = client.table(MAC_TABLE, net, ("0",))
        recorder = Recorder(table)
        on_proxy(client, table)
        stop = threading.Event()
        writers = churn(None, new_client, paths, net, writers=2, ops=100000, stop=stop)
        time.sleep(0.5)
        ensemble.leader().kill()
        time.sleep(2.0)  # churn resumes on the new leader
        stop.set()
        for w in writers:
            w.join()
        wait_for(lambda: converged(zk, table, table.path), timeout=20,
                 what="convergence after the leader failover")
        assert recorder.errors == [] and recorder.replica == dict(table)
        assert table.source == "proxy"
        client.stop()
    finally:
        for c in clients:
            c.stop()
        ensemble.stop()


def test_zookeeper_outage_completes_subscriptions_and_recovers(cluster_factory):
    server = ZooKeeperServer(tempfile.mkdtemp(prefix="mr-zk-outage-")).start()
    clients = []
    try:
        paths = Paths("/outage")
        proxy = cluster_factory(root=paths.root, hosts=server.hosts, state_proxy_nsdb_grace=1)
        net = uuid.uuid4()
        zk = started(server.hosts)
        clients.append(zk)
        writer = StateTable(zk, paths, MAC_TABLE, net, ("0",))
        writer.add_persistent("aa:00:00:00:00:01", net)
        client = proxy_client(started(server.hosts), paths, max_soft_reconnect_attempts=1000)
        clients.append(client.zk)
        table = client.table(MAC_TABLE, net, ("0",))
        on_proxy(client, table)
        assert len(table) == 1
        raw = RawStateClient(proxy.port)
        raw.subscribe(MAC_TABLE, net, ("0",))
        assert isinstance(raw.recv().body, m.Acknowledge)
        raw.recv_update()

        server.stop()  # ZooKeeper goes away entirely
        deadline = time.monotonic() + 15
        completed = None
        while completed is None and time.monotonic() < deadline:
            body = raw.recv(15).body
            if isinstance(body, m.Notify) and isinstance(body.body, m.Completed):
                completed = body.body
        assert completed is not None and completed.code == m.CompletedCode.NSDB_ERROR
        assert len(table) == 1  # the agent keeps its last view meanwhile

        server.start()
        wait_for(lambda: zk.connected, timeout=20, what="writer reconnection")
        writer.add_persistent("aa:00:00:00:00:02", net)
        wait_for(lambda: converged(zk, table, table.path) and len(table) == 2, timeout=20,
                 what="subscriber recovery after the outage")
        assert proxy.proc.poll() is None
        truth, _ = zk_view(zk, MAC_TABLE, writer.path)
        assert dict(table) == truth
        raw.close()
        client.stop()
    finally:
        for c in clients:
            try:
                c.stop()
            except Exception:  # noqa: BLE001
                pass
        server.stop()


def test_the_cluster_stops_promptly_while_zookeeper_is_down(cluster_factory):
    """SIGTERM during a ZooKeeper outage: the node exits at once, cleanly (it
    used to wait forever to delete its registration, and needed SIGKILL)."""
    server = ZooKeeperServer(tempfile.mkdtemp(prefix="mr-zk-stop-")).start()
    try:
        node = cluster_factory(root="/stop-during-outage", hosts=server.hosts)
        server.kill()
        time.sleep(1.0)  # the node notices the connection is gone
        started_at = time.monotonic()
        node.proc.send_signal(signal.SIGTERM)
        rc = node.proc.wait(30)
        took = time.monotonic() - started_at
        assert rc == 0, node.tail()
        assert took < 5.0, f"took {took:.1f} s to stop"
        assert "midonet-cluster stopped" in node.tail()
    finally:
        server.stop()
