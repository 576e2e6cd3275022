"""The topology store against a real ZooKeeper: CAS, transactions, bindings."""
import threading
import uuid

import pytest

from midonet_ryu.nsdb.store import (
    ConcurrentModification,
    NotFound,
    ObjectExists,
    ReferenceConflict,
    ReferentialIntegrityError,
)
from midonet_ryu.topology.model import Host, Network, Port

pytestmark = pytest.mark.functional


def _net(store, name="n"):
    return store.create(Network(id=uuid.uuid4(), name=name))


def test_create_get_update_delete(store):
    net = _net(store, "blue")
    assert store.get(Network, net.id) == net
    store.update(net.replace(name="green"))
    assert store.get(Network, net.id).name == "green"
    store.delete(Network, net.id)
    with pytest.raises(NotFound):
        store.get(Network, net.id)


def test_layout_matches_midonet(store, zk_client, zk_root):
    net = _net(store)
    data, _ = zk_client.get(f"{zk_root}/zoom/0/models/Network/{net.id}")
    assert b'"name":"n"' in data


def test_create_twice_is_refused(store):
    net = _net(store)
    with pytest.raises(ObjectExists):
        store.create(Network(id=net.id))


def test_compare_and_swap_refuses_stale_version(store):
    net = _net(store)
    _, version = store.get_with_version(Network, net.id)
    store.update(net.replace(name="first"), expected_version=version)
    with pytest.raises(ConcurrentModification):
        store.update(net.replace(name="second"), expected_version=version)
    assert store.get(Network, net.id).name == "first"


def test_concurrent_read_modify_write_loses_no_update(store, zk_server, zk_root):
    from kazoo.client import KazooClient

    from midonet_ryu.nsdb.paths import Paths
    from midonet_ryu.nsdb.store import Store

    net = _net(store, "")
    clients = [KazooClient(hosts=zk_server.hosts) for _ in range(4)]
    for c in clients:
        c.start()
    try:
        def writer(i, c):
            s = Store(c, Paths(zk_root))
            for j in range(10):
                s.update_with(Network, net.id, lambda n, j=j: n.replace(
                    name=n.name + f"{i}.{j};"), retries=200)

        threads = [threading.Thread(target=writer, args=(i, c)) for i, c in enumerate(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        for c in clients:
            c.stop()
    names = store.get(Network, net.id).name.split(";")[:-1]
    assert sorted(names) == sorted(f"{i}.{j}" for i in range(4) for j in range(10))


def test_binding_maintains_back_references(store):
    net = _net(store)
    host = store.create(Host(id=uuid.uuid4(), name="h1"))
    port = store.create(Port(id=uuid.uuid4(), network_id=net.id, host_id=host.id,
                             interface_name="tap1"))
    assert store.get(Network, net.id).port_ids == (port.id,)
    assert store.get(Host, host.id).port_ids == (port.id,)
    # rebinding to another host moves the back-reference
    host2 = store.create(Host(id=uuid.uuid4(), name="h2"))
    store.update_with(Port, port.id, lambda p: p.replace(host_id=host2.id))
    assert store.get(Host, host.id).port_ids == ()
    assert store.get(Host, host2.id).port_ids == (port.id,)


def test_reference_to_missing_object_is_refused_and_writes_nothing(store):
    missing = uuid.uuid4()
    pid = uuid.uuid4()
    with pytest.raises(ReferentialIntegrityError):
        store.create(Port(id=pid, network_id=missing))
    assert store.find(Port, pid) is None


def test_delete_network_cascades_to_ports_and_clears_host(store):
    net = _net(store)
    host = store.create(Host(id=uuid.uuid4()))
    ports = [store.create(Port(id=uuid.uuid4(), network_id=net.id, host_id=host.id))
             for _ in range(3)]
    store.delete(Network, net.id)
    assert all(store.find(Port, p.id) is None for p in ports)
    assert store.get(Host, host.id).port_ids == ()


def test_delete_port_clears_network_and_peer(store):
    net = _net(store)
    a = store.create(Port(id=uuid.uuid4(), network_id=net.id))
    b = store.create(Port(id=uuid.uuid4(), network_id=net.id, peer_id=a.id))
    assert store.get(Port, a.id).peer_id == b.id
    store.delete(Port, b.id)
    assert store.get(Port, a.id).peer_id is None
    assert store.get(Network, net.id).port_ids == (a.id,)


def test_single_reference_conflict(store):
    net = _net(store)
    a = store.create(Port(id=uuid.uuid4(), network_id=net.id))
    store.create(Port(id=uuid.uuid4(), network_id=net.id, peer_id=a.id))
    with pytest.raises(ReferenceConflict):
        store.create(Port(id=uuid.uuid4(), network_id=net.id, peer_id=a.id))


def test_multi_is_all_or_nothing(store):
    net = _net(store)
    good = Port(id=uuid.uuid4(), network_id=net.id)
    bad = Port(id=uuid.uuid4(), network_id=uuid.uuid4())
    with pytest.raises(ReferentialIntegrityError):
        store.multi([("create", good), ("create", bad)])
    assert store.find(Port, good.id) is None
    store.multi([("create", good), ("update", net.replace(name="x"))])
    assert store.get(Network, net.id).name == "x"
    assert store.get(Network, net.id).port_ids == (good.id,)


def test_corrupt_object_gives_clear_error(store, zk_client, zk_root):
    from midonet_ryu.topology.base import ModelError

    oid = uuid.uuid4()
    zk_client.create(f"{zk_root}/zoom/0/models/Network/{oid}", b"{not json", makepath=True)
    with pytest.raises(ModelError, match="not JSON"):
        store.get(Network, oid)


def test_back_references_keep_members_but_take_a_new_order(store):
    net = _net(store)
    a, b, c = (store.create(Port(id=uuid.uuid4(), network_id=net.id)) for _ in range(3))
    stored = store.get(Network, net.id)
    assert stored.port_ids == (a.id, b.id, c.id)
    store.update(stored.replace(port_ids=(c.id, a.id, b.id)))  # a permutation: taken
    assert store.get(Network, net.id).port_ids == (c.id, a.id, b.id)
    store.update(stored.replace(port_ids=(a.id,)))  # a different set: ignored
    assert store.get(Network, net.id).port_ids == (c.id, a.id, b.id)


def test_a_fresh_id_is_not_read_but_never_overwrites(store):
    net = _net(store)
    port = Port(id=uuid.uuid4(), network_id=net.id)
    store.run(lambda tx: tx.create(port, fresh_id=True))
    assert store.get(Network, net.id).port_ids == (port.id,)
    # a "fresh" id that exists after all: the commit conflicts, nothing is replaced
    with pytest.raises(ConcurrentModification):
        store.run(lambda tx: tx.create(Network(id=net.id, name="impostor"), fresh_id=True),
                  retries=1)
    assert store.get(Network, net.id).name == "n"


def test_plain_nodes_commit_with_the_objects_or_not_at_all(store, zk_client, zk_root):
    net = _net(store)
    node = f"{zk_root}/elsewhere/deep/{net.id}"
    with store.transaction() as tx:
        assert tx.node(node) is None
        tx.set_node(node, b"first")
        tx.update(tx.get(Network, net.id).replace(name="with-node"))
    assert zk_client.get(node)[0] == b"first"
    assert store.get(Network, net.id).name == "with-node"
    # a reference to a missing object fails the commit: the node keeps its data
    with pytest.raises(ReferentialIntegrityError):
        with store.transaction() as tx:
            tx.set_node(node, b"second")
            tx.create(Port(id=uuid.uuid4(), network_id=uuid.uuid4()))
    assert zk_client.get(node)[0] == b"first"
    # a node changed behind the transaction's back fails its commit
    tx_holder = {}

    def stale(tx):
        if not tx_holder:
            tx_holder["read"] = tx.node(node)
            zk_client.set(node, b"changed meanwhile")
        else:
            tx.node(node)
        tx.set_node(node, b"third")

    with pytest.raises(ConcurrentModification):
        store.run(stale, retries=1)
    assert zk_client.get(node)[0] == b"changed meanwhile"
    with store.transaction() as tx:
        tx.set_node(node, None)
    assert zk_client.exists(node) is None


def test_prefetched_reads_are_one_round_trip_and_still_version_checked(store, zk_client,
                                                                       zk_root):
    net = _net(store, "read-ahead")
    missing = uuid.uuid4()
    node = f"{zk_root}/plain/{net.id}"
    zk_client.create(node, b"v1", makepath=True)
    calls = []
    real_get = store.client.get
    store.client.get = lambda *a, **kw: calls.append(a) or real_get(*a, **kw)
    try:
        with pytest.raises(ConcurrentModification):
            with store.transaction() as tx:
                tx.prefetch([("Network", net.id), ("Network", missing)], [node])
                assert tx.get(Network, net.id).name == "read-ahead"
                assert tx.find(Network, missing) is None and tx.node(node) == b"v1"
                assert calls == []  # nothing read one by one
                tx.create(Network(id=missing, name="new"))
                zk_client.set(node, b"changed behind its back")
        assert store.find(Network, missing) is None
    finally:
        store.client.get = real_get
