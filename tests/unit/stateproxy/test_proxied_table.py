"""How a proxied table applies updates: snapshots as diffs, stale updates dropped."""
import uuid

from midonet_ryu.nsdb import state_catalogue as catalogue
from midonet_ryu.nsdb import state_codecs as codecs
from midonet_ryu.nsdb.paths import Paths
from midonet_ryu.stateproxy import state_api as m
from midonet_ryu.stateproxy.client import ProxiedStateTable

PORT = [uuid.UUID(int=i) for i in range(5)]


class FakeHandler:
    def lock_object(self):
        import threading
        return threading.Lock()


class FakeZk:
    handler = FakeHandler()

    def add_listener(self, fn):
        pass

    def remove_listener(self, fn):
        pass


class FakeClient:
    zk = FakeZk()
    paths = Paths()
    state = "connected"


def entry(mac, port, version):
    return m.Entry(m.KeyValue.of(codecs.MAC, mac),
                   None if port is None else m.KeyValue.of(codecs.UUID, port), version)


def update(kind, version, entries, begin=True, end=True):
    return m.Update(kind, version, begin, end, tuple(entries))


def make_table():
    table = ProxiedStateTable(FakeClient(), catalogue.MAC_TABLE, uuid.UUID(int=9), ("0",))
    table.source = "proxy"
    calls = []
    table.add_callback(lambda k, o, n: calls.append((k, o, n)))
    return table, calls


def test_snapshot_in_batches_then_relative_updates():
    table, calls = make_table()
    table._apply_update(update(m.UpdateType.SNAPSHOT, 5, [entry("aa:00:00:00:00:01", PORT[1], 1)],
                               end=False))
    assert len(table) == 0  # nothing applied before the end of the snapshot
    table._apply_update(update(m.UpdateType.SNAPSHOT, 5, [entry("aa:00:00:00:00:02", PORT[2], 2)],
                               begin=False))
    assert dict(table) == {"aa:00:00:00:00:01": PORT[1], "aa:00:00:00:00:02": PORT[2]}
    assert table.version == 5 and table.ready.is_set()
    table._apply_update(update(m.UpdateType.RELATIVE, 7, [entry("aa:00:00:00:00:01", None, 1)]))
    assert "aa:00:00:00:00:01" not in table and table.version == 7
    assert calls[-1] == ("aa:00:00:00:00:01", PORT[1], None)


def test_a_repeated_or_stale_relative_update_is_not_applied_twice():
    table, calls = make_table()
    table._apply_update(update(m.UpdateType.SNAPSHOT, 5, []))
    move = update(m.UpdateType.RELATIVE, 6, [entry("aa:00:00:00:00:01", PORT[1], 6)])
    table._apply_update(move)
    table._apply_update(move)  # e.g. replayed after a resubscription
    table._apply_update(update(m.UpdateType.RELATIVE, 4, [entry("aa:00:00:00:00:01", PORT[3], 4)]))
    assert calls == [("aa:00:00:00:00:01", None, PORT[1])]
    assert table["aa:00:00:00:00:01"] == PORT[1]


def test_a_new_snapshot_fires_callbacks_only_for_real_changes():
    table, calls = make_table()
    table._apply_update(update(m.UpdateType.SNAPSHOT, 5, [
        entry("aa:00:00:00:00:01", PORT[1], 1), entry("aa:00:00:00:00:02", PORT[2], 2)]))
    calls.clear()
    table._apply_update(update(m.UpdateType.SNAPSHOT, 9, [
        entry("aa:00:00:00:00:01", PORT[1], 1), entry("aa:00:00:00:00:03", PORT[3], 8)]))
    assert sorted(calls) == [("aa:00:00:00:00:02", PORT[2], None),
                             ("aa:00:00:00:00:03", None, PORT[3])]


def test_updates_are_ignored_while_reading_zookeeper_directly():
    table, calls = make_table()
    table.source = "direct"
    table._apply_update(update(m.UpdateType.SNAPSHOT, 5, [entry("aa:00:00:00:00:01", PORT[1], 1)]))
    assert len(table) == 0 and calls == []
