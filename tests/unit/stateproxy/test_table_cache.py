"""The proxy's table cache: versions, coalescing, diffs and catch-ups, without sockets."""
import collections
import uuid

from cluster_proxy.state_proxy.cache import TableCache, TableKey
from midonet_ryu.nsdb import state_catalogue as catalogue
from midonet_ryu.nsdb import state_codecs as codecs
from midonet_ryu.nsdb import state_node_names as node_names
from midonet_ryu.nsdb.persistent_watch import CREATED, DELETED
from midonet_ryu.stateproxy import state_api as m

Stat = collections.namedtuple("Stat", "cversion")
NET = uuid.UUID(int=1)
PORT = [uuid.UUID(int=i) for i in range(10)]


def name(mac, port, version):
    return node_names.encode_name(catalogue.MAC_TABLE, mac, port, version)


class FakeSub:
    def __init__(self, cache, base=None, capacity=100):
        self.sent_version = base
        self.lagging = True
        self.pushed = []
        self.completed = None
        self.capacity = capacity
        self.cache = cache
        self.view = {}

    def push(self, fields):
        if len(self.pushed) + len(fields) > self.capacity:
            self.lagging = True
            return
        self.pushed.extend(fields)

    def need_catch_up(self):
        pass

    def complete(self, completed):
        self.completed = completed

    def catch_up(self):
        """What a connection does when its queue is empty."""
        cu = self.cache.catch_up(self.sent_version)
        self.lagging = False
        self.sent_version = cu.version
        fields = [m.shared_update_field(b) for b in cu.bodies(self.cache.batch_size)]
        self.apply(fields)
        return cu

    def apply(self, fields):
        for f in fields:
            frame = m.NotifyFramer(1, 1).frame(f)
            resp = m.decode_response(frame[1:] if frame[0] < 128 else frame[2:])
            u = resp.body.body
            if u.type == m.UpdateType.SNAPSHOT and u.begin:
                self.view = {}
            for e in u.entries:
                key = e.key.to(codecs.MAC)
                if e.value is None:
                    self.view.pop(key, None)
                else:
                    self.view[key] = e.value.to(codecs.UUID)

    def drain(self):
        fields, self.pushed = self.pushed, []
        self.apply(fields)


def make_cache(batch=2, log=100):
    scheduled = []
    cache = TableCache(TableKey(catalogue.MAC_TABLE, NET, ("0",)), "/t", batch, log,
                       scheduled.append)
    return cache, scheduled


def winners(cache):
    return {k: e.value for k, e in cache.state.winners.items()}


def test_events_after_snapshot_get_consecutive_versions_and_coalesce():
    cache, scheduled = make_cache()
    cache.sink(("child", CREATED, name("aa:00:00:00:00:09", PORT[9], 1)))  # before snapshot
    cache.sink(("snapshot", [name("aa:00:00:00:00:01", PORT[1], 0)], Stat(1)))
    assert scheduled == [cache]  # scheduled once for the whole burst
    cache.process(0.0)
    assert cache.version == 1 and winners(cache) == {"aa:00:00:00:00:01": PORT[1]}
    sub = FakeSub(cache)
    cache.subscribers.add(sub)
    sub.catch_up()
    for i in range(2, 6):
        cache.sink(("child", CREATED, name(f"aa:00:00:00:00:0{i}", PORT[i], i)))
    cache.process(1.0)
    assert cache.version == 5
    sub.drain()
    assert sub.view == winners(cache) and sub.sent_version == 5


def test_diff_since_a_version_and_snapshot_beyond_the_log():
    cache, _ = make_cache(log=3)
    cache.sink(("snapshot", [], Stat(10)))
    cache.process(0.0)
    a, b = name("aa:00:00:00:00:01", PORT[1], 11), name("aa:00:00:00:00:01", PORT[2], 12)
    for item in (("child", CREATED, a), ("child", CREATED, b), ("child", DELETED, a)):
        cache.sink(item)
    cache.process(1.0)
    diff = cache.catch_up(11)
    assert diff.type == m.UpdateType.RELATIVE and len(diff.entries) == 1
    assert cache.catch_up(13).entries == [] and cache.catch_up(13).version == 13
    for i in range(4):
        cache.sink(("child", CREATED, name(f"bb:00:00:00:00:0{i}", PORT[i], 14 + i)))
    cache.process(2.0)
    assert cache.catch_up(11).type == m.UpdateType.SNAPSHOT  # fell out of the 3-change log
    assert cache.catch_up(14).type == m.UpdateType.RELATIVE


def test_lagging_subscriber_is_caught_up_with_a_diff_not_every_update():
    cache, _ = make_cache(batch=64)
    cache.sink(("snapshot", [], Stat(0)))
    cache.process(0.0)
    slow = FakeSub(cache, capacity=3)
    cache.subscribers.add(slow)
    slow.catch_up()
    for i in range(50):
        cache.sink(("child", CREATED, name(f"aa:00:00:00:00:{i:02x}", PORT[i % 10], i)))
        cache.process(float(i))
    assert slow.lagging and len(slow.pushed) == 3  # bounded: the rest is not queued
    slow.drain()
    cu = slow.catch_up()
    assert cu.type == m.UpdateType.RELATIVE and len(cu.entries) == 47
    assert slow.view == winners(cache)


def test_resync_after_lost_connection_publishes_the_net_difference():
    cache, _ = make_cache()
    cache.sink(("snapshot", [name("aa:00:00:00:00:01", PORT[1], 0)], Stat(1)))
    cache.process(0.0)
    sub = FakeSub(cache)
    cache.subscribers.add(sub)
    sub.catch_up()
    cache.sink(("lost",))
    cache.sink(("child", CREATED, name("aa:00:00:00:00:02", PORT[2], 1)))  # ignored: unsynced
    cache.process(1.0)
    assert not cache.synced and cache.catch_up(1) is None
    cache.sink(("snapshot", [name("aa:00:00:00:00:02", PORT[2], 1)], Stat(3)))
    cache.process(2.0)
    sub.drain()
    assert sub.view == {"aa:00:00:00:00:02": PORT[2]} and sub.sent_version == 3


def test_subscriptions_end_with_nsdb_error_after_the_grace_period():
    cache, _ = make_cache()
    cache.sink(("snapshot", [], Stat(0)))
    cache.process(0.0)
    sub = FakeSub(cache)
    cache.subscribers.add(sub)
    cache.sink(("lost",))
    cache.process(10.0)
    assert not cache.expire_if_lost(12.0, grace=5.0)
    assert cache.expire_if_lost(15.5, grace=5.0)
    assert sub.completed.code == m.CompletedCode.NSDB_ERROR


def test_subscriber_ahead_of_the_cache_waits_then_gets_a_snapshot():
    cache, _ = make_cache()
    cache.sink(("snapshot", [], Stat(5)))
    cache.process(0.0)
    assert cache.catch_up(7, waited=0.5) is None
    assert cache.catch_up(7, waited=10.0).type == m.UpdateType.SNAPSHOT
