"""Fixtures for State Proxy functional tests: private ZooKeeper servers ended by PID."""
import os
import sys
import uuid

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from kazoo.client import KazooClient  # noqa: E402

from midonet_ryu.nsdb.client import make_client  # noqa: E402
from midonet_ryu.nsdb.paths import Paths  # noqa: E402
from tools.lab.zookeeper import TemporaryZooKeeper  # noqa: E402


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


def wait_for(pred, timeout=10.0, interval=0.02, what="condition"):
    import time
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


def expire_session(zookeeper, client: KazooClient) -> None:
    """Really expire ``client``'s session: a second client takes it over and closes it."""
    session_id, password = client.client_id
    thief = KazooClient(hosts=zookeeper.hosts, client_id=(session_id, password))
    thief.start(timeout=10)
    thief.stop()
    thief.close()
