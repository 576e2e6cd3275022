"""Fixtures for functional tests: a real ZooKeeper per session, a private
root per test, so tests never see each other's data."""
import uuid

import pytest
from kazoo.client import KazooClient

from midonet_ryu.nsdb.paths import Paths
from midonet_ryu.nsdb.store import Store
from tools.lab.fixtures import *  # noqa: F401,F403 - the lab's fixtures (ovs_hosts, ...)
from tools.lab.zookeeper import TemporaryZooKeeper


@pytest.fixture(scope="session")
def zk_server():
    server = TemporaryZooKeeper().start()
    yield server
    server.stop()


@pytest.fixture
def zookeeper(zk_server):
    """One ZooKeeper for the session: tests isolate themselves by root path."""
    return zk_server


@pytest.fixture
def zk_root() -> str:
    return f"/test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def zk_client(zk_server):
    client = KazooClient(hosts=zk_server.hosts, timeout=10)
    client.start(timeout=15)
    yield client
    client.stop()
    client.close()


@pytest.fixture
def store(zk_client, zk_root) -> Store:
    return Store(zk_client, Paths(zk_root))


@pytest.fixture
def make_cloud(zookeeper):
    """Factory of lab clouds (ZooKeeper shared, hypervisors and agents per
    cloud); the test fails when any switch refused a message of its agent."""
    from tools.lab.cloud import Cloud

    clouds = []

    def make(n: int = 2, **kwargs):
        c = Cloud(n, zookeeper=zookeeper, **kwargs)
        clouds.append(c)
        return c.start()

    yield make
    failures = []
    for c in clouds:
        try:
            c.assert_no_switch_errors()
        except AssertionError as e:
            failures.append(str(e))
        finally:
            c.stop()
    assert not failures, "\n".join(failures)
