"""The watch-driven topology cache follows the store, and recovers from
session expiry without missing changes."""
import threading
import time
import uuid

import pytest
from kazoo.client import KazooClient

from midonet_ryu.nsdb.paths import Paths
from midonet_ryu.nsdb.topology_cache import TopologyCache
from midonet_ryu.topology.model import Host, Network, Port, TunnelZone

pytestmark = pytest.mark.functional


def wait(pred, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    raise AssertionError("condition not reached")


@pytest.fixture
def cache_client(zk_server):
    client = KazooClient(hosts=zk_server.hosts, timeout=4)
    client.start()
    yield client
    client.stop()


def make_cache(client, root, changes=None):
    def on_change(kind, obj_id, old, new):
        if changes is not None:
            changes.append((kind, obj_id, old, new))

    cache = TopologyCache(client, Paths(root), [Network, Port, Host, TunnelZone], on_change)
    cache.start()
    return cache


def test_cache_sees_existing_and_new_objects_and_deletes(store, cache_client, zk_root):
    net = store.create(Network(id=uuid.uuid4(), name="a"))
    changes = []
    cache = make_cache(cache_client, zk_root, changes)
    assert cache.get(Network, net.id) == net
    port = store.create(Port(id=uuid.uuid4(), network_id=net.id))
    wait(lambda: cache.get(Port, port.id) is not None)
    wait(lambda: cache.get(Network, net.id).port_ids == (port.id,))
    store.delete(Network, net.id)
    wait(lambda: cache.get(Network, net.id) is None and cache.get(Port, port.id) is None)
    kinds = [(k, new is None) for k, _, _, new in changes]
    assert ("Port", True) in kinds and ("Network", True) in kinds


def test_unchanged_rewrite_emits_nothing(store, cache_client, zk_root):
    net = store.create(Network(id=uuid.uuid4(), name="a"))
    changes = []
    make_cache(cache_client, zk_root, changes)
    changes.clear()
    store.update(net.replace(name="b"))
    wait(lambda: len(changes) == 1)
    store.client.set(store.paths.model("Network", net.id), store.client.get(
        store.paths.model("Network", net.id))[0])  # same bytes, new version
    time.sleep(0.3)
    assert len(changes) == 1


def test_corrupt_object_keeps_previous_copy(store, cache_client, zk_root):
    net = store.create(Network(id=uuid.uuid4(), name="good"))
    cache = make_cache(cache_client, zk_root)
    store.client.set(store.paths.model("Network", net.id), b"garbage")
    wait(lambda: cache.decode_errors == 1)
    assert cache.get(Network, net.id).name == "good"


def test_cache_catches_up_after_session_expiry(store, cache_client, zk_server, zk_root):
    net = store.create(Network(id=uuid.uuid4(), name="before"))
    cache = make_cache(cache_client, zk_root)
    # Expire the cache's session for real: a second client with the same
    # session id and password takes it over and closes it.
    lost = threading.Event()
    cache_client.add_listener(lambda state: lost.set() if state == "LOST" else None)
    session_id, password = cache_client.client_id
    thief = KazooClient(hosts=zk_server.hosts, client_id=(session_id, password))
    thief.start()
    thief.stop()
    thief.close()
    # changes made while the session is being replaced
    store.update(net.replace(name="during"))
    other = store.create(Network(id=uuid.uuid4(), name="new"))
    assert lost.wait(15)
    wait(lambda: cache.get(Network, other.id) is not None, timeout=20)
    wait(lambda: cache.get(Network, net.id).name == "during", timeout=20)
