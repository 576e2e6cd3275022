"""Fixtures for State Proxy functional tests: private ZooKeeper servers and
midonet-cluster processes, all ended by PID."""
import uuid

import pytest
from kazoo.client import KazooClient
from sp_helpers import ROOT  # noqa: F401 - puts the repository on sys.path

from midonet_ryu.nsdb.client import make_client
from midonet_ryu.nsdb.paths import Paths
from tools.lab.cluster import ClusterProcess
from tools.lab.zookeeper import TemporaryZooKeeper


@pytest.fixture(scope="module")
def zookeeper():
    server = TemporaryZooKeeper(min_session_timeout_ms=1000).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def paths():
    """A fresh root per test so tests never see each other's tables."""
    return Paths(f"/test-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def new_client(zookeeper):
    clients: list[KazooClient] = []

    def make(timeout_ms: int = 4000) -> KazooClient:
        client = make_client(zookeeper.hosts, session_timeout_ms=timeout_ms)
        client.start(timeout=10)
        clients.append(client)
        return client

    yield make
    for client in clients:
        try:
            client.stop()
            client.close()
        except Exception:  # noqa: BLE001 - already stopped by the test
            pass


@pytest.fixture
def cluster_factory(zookeeper):
    """Start midonet-cluster processes on the test's ZooKeeper; all ended by PID."""
    started: list[ClusterProcess] = []

    def start(root: str = "/midonet", hosts: str | None = None, **opts) -> ClusterProcess:
        cp = ClusterProcess(hosts or zookeeper.hosts, root=root, **opts).start()
        started.append(cp)
        return cp

    yield start
    for cp in started:
        cp.cleanup()
