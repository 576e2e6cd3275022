"""ZooKeeper's multiRead through kazoo, against a real server: the same answers
as one get per node, in order, a missing node answered in its place, and
listings larger than one request's chunk."""
import uuid

import pytest
from kazoo.exceptions import NoNodeError

from midonet_ryu.nsdb import multi_read as mr
from midonet_ryu.topology.model import Network

pytestmark = pytest.mark.functional


def test_answers_equal_single_gets_and_missing_nodes_stay_in_place(zk_client, zk_root):
    paths = [f"{zk_root}/n{i}" for i in range(5)]
    for i, path in enumerate(paths):
        zk_client.create(path, f"value-{i}".encode() * (i + 1), makepath=True)
    zk_client.set(paths[2], b"changed")  # a version other than 0
    zk_client.create(f"{zk_root}/empty", b"")
    asked = paths[:2] + [f"{zk_root}/missing"] + paths[2:] + [f"{zk_root}/empty"]
    got = mr.multi_read(zk_client, asked)
    assert len(got) == len(asked)
    assert isinstance(got[2], NoNodeError)
    for path, result in zip(asked, got, strict=True):
        if path.endswith("missing"):
            continue
        data, stat = zk_client.get(path)
        assert result == (data, stat)


def test_more_paths_than_one_chunk(zk_client, zk_root):
    count = mr.CHUNK * 2 + 7
    tx = zk_client.transaction()
    zk_client.ensure_path(zk_root)
    for i in range(count):
        tx.create(f"{zk_root}/c{i:05d}", str(i).encode())
    assert not any(isinstance(r, Exception) for r in tx.commit())
    got = mr.multi_read(zk_client, [f"{zk_root}/c{i:05d}" for i in range(count)])
    assert [int(d) for d, _ in got] == list(range(count))


def test_store_lists_every_object(store):
    made = {store.create(Network(id=uuid.uuid4(), name=f"n{i}")).id for i in range(30)}
    listed = store.list_all(Network)
    assert {n.id for n in listed} == made
    assert sorted(n.name for n in listed) == sorted(f"n{i}" for i in range(30))
