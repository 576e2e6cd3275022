"""SNAT port-block leasing against a real ZooKeeper."""
from __future__ import annotations

import time
import uuid

import pytest
from kazoo.client import KazooClient

from midonet_ryu.nsdb.nat_lease import NatLeaser, blocks_for
from midonet_ryu.nsdb.paths import Paths

pytestmark = pytest.mark.functional

DEV = uuid.UUID(int=0xABC)
IP = "192.0.2.1"


@pytest.fixture
def agents(zk_server, zk_root):
    clients = []

    def make(owner: uuid.UUID | None = None) -> NatLeaser:
        client = KazooClient(hosts=zk_server.hosts, timeout=10)
        client.start(timeout=15)
        clients.append(client)
        return NatLeaser(client, Paths(zk_root), owner)

    yield make
    for c in clients:
        c.stop()
        c.close()


def test_two_agents_never_get_the_same_block(agents):
    a, b = agents(), agents()
    got = [a.lease(DEV, IP, 1024, 1279), b.lease(DEV, IP, 1024, 1279),
           a.lease(DEV, IP, 1024, 1279), b.lease(DEV, IP, 1024, 1279)]
    assert sorted(got) == [16, 17, 18, 19]
    assert a.lease(DEV, IP, 1024, 1279) is None  # range exhausted
    assert b.lease(DEV, IP, 1024, 1279) is None


def test_released_block_is_reused_least_recently_released_first(agents):
    a, b = agents(), agents()
    blocks = [a.lease(DEV, IP, 1024, 1215) for _ in range(3)]  # 16, 17, 18
    assert sorted(blocks) == [16, 17, 18]
    a.release(DEV, IP, 17)
    time.sleep(0.05)
    a.release(DEV, IP, 16)
    assert b.lease(DEV, IP, 1024, 1215) == 17  # released first -> least recently used
    assert b.lease(DEV, IP, 1024, 1215) == 16


def test_never_used_blocks_come_before_released_ones(agents):
    a = agents()
    first = a.lease(DEV, IP, 1024, 1151)  # blocks 16, 17
    a.release(DEV, IP, first)
    assert a.lease(DEV, IP, 1024, 1151) != first


def test_blocks_of_a_dead_agent_come_back(agents, zk_server, zk_root):
    a, b = agents(), agents()
    assert a.lease(DEV, IP, 1024, 1087) == 16
    assert b.lease(DEV, IP, 1024, 1087) is None
    a.client.stop()  # session closed: its ephemeral 'taken' nodes vanish
    assert b.lease(DEV, IP, 1024, 1087) == 16


def test_release_does_not_free_another_agents_block(agents):
    a, b = agents(), agents()
    assert a.lease(DEV, IP, 1024, 1087) == 16
    b.release(DEV, IP, 16)
    assert b.lease(DEV, IP, 1024, 1087) is None


def test_restore_after_session_loss(agents):
    a = agents()
    block = a.lease(DEV, IP, 1024, 1087)
    taken = a._ip_path(DEV, IP) + f"/{block}/taken"
    a.client.delete(taken)  # as if the session had expired
    assert a.restore() == 1
    assert a.client.exists(taken) is not None


def test_bad_range_is_rejected():
    with pytest.raises(ValueError):
        blocks_for(2000, 1000)
    assert list(blocks_for(1024, 1087)) == [16]


def test_a_restarted_host_takes_its_own_blocks_back_and_no_one_elses(agents):
    """The old session of the same host still holds its blocks (it has not
    expired): the new one takes them over. Another host's lease stays its."""
    host, other = uuid.uuid4(), uuid.uuid4()
    before, neighbour = agents(host), agents(other)
    mine = [before.lease(DEV, IP, 1024, 1151), before.lease(DEV, IP, 1024, 1151)]
    theirs = neighbour.lease(DEV, IP, 1152, 1215)
    after = agents(host)  # the restarted agent: a new session, the old one still alive
    lost = after.adopt([(DEV, IP, b) for b in mine] + [(DEV, IP, theirs)])
    assert lost == [(DEV, IP, theirs)]
    assert after.held == {(DEV, IP, b) for b in mine}
    # the blocks are the new session's now: the old session's end frees nothing
    before.client.stop()
    before.client.close()
    assert neighbour.lease(DEV, IP, 1024, 1151) is None
    # a freed block (the old session expired first) is simply taken
    fresh = agents(host)
    after.client.stop()
    after.client.close()
    assert fresh.adopt([(DEV, IP, b) for b in mine]) == []


def test_a_burst_takes_many_blocks_at_once_and_none_another_agent_holds(agents):
    a, b = agents(), agents()
    theirs = {b.lease(DEV, IP, 1024, 2047) for _ in range(3)}  # blocks 16 to 31
    mine = a.lease_many(DEV, IP, 1024, 2047, count=10)
    assert len(mine) == 10 and len(set(mine)) == 10
    assert not set(mine) & theirs
    assert set(mine) | theirs <= set(blocks_for(1024, 2047))
    # what is left, and no more: the range has 16 blocks
    rest = a.lease_many(DEV, IP, 1024, 2047, count=10)
    assert sorted(mine + rest + sorted(theirs)) == list(blocks_for(1024, 2047))
    assert a.lease_many(DEV, IP, 1024, 2047, count=4) == []


def test_two_bursts_at_once_share_the_range_without_overlap(agents):
    import threading

    a, b = agents(), agents()
    got: dict[str, list[int]] = {}
    threads = [threading.Thread(target=lambda n=name, leaser=leaser: got.__setitem__(
        n, leaser.lease_many(DEV, IP, 1024, 2047, count=12))) for name, leaser in
        (("a", a), ("b", b))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(15)
    # each asked for 12 of 16: every block is taken once, by one of them
    assert not set(got["a"]) & set(got["b"])
    assert sorted(got["a"] + got["b"]) == list(blocks_for(1024, 2047))
