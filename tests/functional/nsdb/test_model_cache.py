"""The REST API's model cache against a real ZooKeeper: it loads everything,
follows other writers' creates, changes and deletes, shows a writer its own
commits at once, never lets a late read undo a newer state, and reloads after
a reconnection (ZooKeeper drops persistent watches with the connection)."""
import socket
import time
import uuid

import pytest
from kazoo.client import KazooClient

from midonet_ryu.nsdb.model_cache import ModelCache
from midonet_ryu.nsdb.paths import Paths
from midonet_ryu.nsdb.store import Store
from midonet_ryu.topology.model import Network, Port
from tools.lab.procs import wait_until

pytestmark = pytest.mark.functional


@pytest.fixture
def other(zk_server, zk_root):
    """Another writer (an agent, another cluster node) on its own session."""
    client = KazooClient(hosts=zk_server.hosts, timeout=10)
    client.start(timeout=15)
    yield Store(client, Paths(zk_root))
    client.stop()
    client.close()


@pytest.fixture
def cache(zk_client, zk_root):
    c = ModelCache(zk_client, Paths(zk_root))
    yield c
    c.stop()


def test_loads_everything_with_versions(other, cache):
    nets = [other.create(Network(id=uuid.uuid4(), name=f"n{i}")) for i in range(5)]
    other.update(nets[0].replace(name="renamed"))
    cache.start()
    wait_until(lambda: cache.ready, 10, what="the cache to load")
    assert {n.id for n in cache.list_all(Network)} == {n.id for n in nets}
    assert cache.get_with_version(Network, nets[0].id) == (nets[0].replace(name="renamed"), 1)


def test_follows_other_writers(other, cache):
    cache.start()
    wait_until(lambda: cache.ready, 10, what="the cache to load")
    net = other.create(Network(id=uuid.uuid4(), name="a"))
    wait_until(lambda: cache.find(Network, net.id) is not None, 5, what="the create")
    other.update(net.replace(name="b"))
    wait_until(lambda: cache.find(Network, net.id).name == "b", 5, what="the change")
    port = other.create(Port(id=uuid.uuid4(), network_id=net.id))
    wait_until(lambda: cache.find(Network, net.id).port_ids == (port.id,), 5,
               what="the back-reference")
    other.delete(Network, net.id)  # cascades to the port
    wait_until(lambda: cache.find(Network, net.id) is None
               and cache.find(Port, port.id) is None, 5, what="the delete")


def test_a_writer_reads_its_own_commit_at_once(zk_client, zk_root, cache):
    cache.start()
    wait_until(lambda: cache.ready, 10, what="the cache to load")
    store = Store(zk_client, Paths(zk_root), on_commit=cache.written)
    net = store.create(Network(id=uuid.uuid4(), name="mine"))
    assert cache.find(Network, net.id) == net  # no waiting: the commit refreshed it
    store.update(net.replace(name="mine2"))
    assert cache.get_with_version(Network, net.id) == (net.replace(name="mine2"), 1)
    store.delete(Network, net.id)
    assert cache.find(Network, net.id) is None


def test_a_late_read_never_brings_back_a_deleted_object(zk_client, zk_root, other, cache):
    cache.start()
    wait_until(lambda: cache.ready, 10, what="the cache to load")
    net = other.create(Network(id=uuid.uuid4(), name="doomed"))
    path = Paths(zk_root).model("Network", net.id)
    stale = zk_client.get(path)  # read before the delete ...
    store = Store(zk_client, Paths(zk_root), on_commit=cache.written)
    store.delete(Network, net.id)
    assert cache.find(Network, net.id) is None
    cache._apply(("Network", net.id), stale, zk_client.last_zxid)  # ... answered late
    assert cache.find(Network, net.id) is None
    # a newer object under the same id is taken, though
    again = other.create(Network(id=net.id, name="reborn"))
    wait_until(lambda: cache.find(Network, net.id) == again, 5, what="the re-creation")


def test_reloads_after_a_reconnection(zk_client, other, cache):
    cache.start()
    wait_until(lambda: cache.ready, 10, what="the cache to load")
    before = cache.reloads
    net = other.create(Network(id=uuid.uuid4(), name="x"))
    wait_until(lambda: cache.find(Network, net.id) is not None, 5, what="the create")
    # drop the connection under kazoo: it reconnects on the same session, but the
    # server has forgotten the persistent watch
    zk_client._connection._socket.shutdown(socket.SHUT_RDWR)
    other.update(net.replace(name="while away"))
    wait_until(lambda: cache.reloads > before and cache.ready, 15, what="a reload")
    time.sleep(0.2)
    other.update(other.get(Network, net.id).replace(name="after"))
    wait_until(lambda: cache.find(Network, net.id).name == "after", 5,
               what="changes after the reconnection")
