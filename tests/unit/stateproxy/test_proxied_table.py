"""How a proxied table applies updates: snapshots as diffs, stale updates dropped."""
import uuid

from midonet_ryu.nsdb import state_catalogue as catalogue
from midonet_ryu.nsdb import state_codecs as codecs
from midonet_ryu.stateproxy import state_api as m
from midonet_ryu.stateproxy.proxied_view import ProxiedView

PORT = [uuid.UUID(int=i) for i in range(5)]
GEN = 1


def entry(mac, port, version):
    return m.Entry(m.KeyValue.of(codecs.MAC, mac),
                   None if port is None else m.KeyValue.of(codecs.UUID, port), version)


def update(kind, version, entries, begin=True, end=True):
    return m.Update(kind, version, begin, end, tuple(entries))


def feed(table, upd, generation=GEN):
    table.apply_update(upd, generation)


def make_table():
    table = ProxiedView(catalogue.MAC_TABLE, uuid.UUID(int=9), ("0",))
    table.use_proxy(GEN)
    calls = []
    table.add_callback(lambda k, o, n: calls.append((k, o, n)))
    return table, calls


def test_snapshot_in_batches_then_relative_updates():
    table, calls = make_table()
    feed(table, update(m.UpdateType.SNAPSHOT, 5, [entry("aa:00:00:00:00:01", PORT[1], 1)],
                               end=False))
    assert len(table) == 0  # nothing applied before the end of the snapshot
    feed(table, update(m.UpdateType.SNAPSHOT, 5, [entry("aa:00:00:00:00:02", PORT[2], 2)],
                               begin=False))
    assert dict(table) == {"aa:00:00:00:00:01": PORT[1], "aa:00:00:00:00:02": PORT[2]}
    assert table.version == 5 and table.loaded
    feed(table, update(m.UpdateType.RELATIVE, 7, [entry("aa:00:00:00:00:01", None, 1)]))
    assert "aa:00:00:00:00:01" not in table and table.version == 7
    assert calls[-1] == ("aa:00:00:00:00:01", PORT[1], None)


def test_a_repeated_or_stale_relative_update_is_not_applied_twice():
    table, calls = make_table()
    feed(table, update(m.UpdateType.SNAPSHOT, 5, []))
    move = update(m.UpdateType.RELATIVE, 6, [entry("aa:00:00:00:00:01", PORT[1], 6)])
    feed(table, move)
    feed(table, move)  # e.g. replayed after a resubscription
    feed(table, update(m.UpdateType.RELATIVE, 4, [entry("aa:00:00:00:00:01", PORT[3], 4)]))
    assert calls == [("aa:00:00:00:00:01", None, PORT[1])]
    assert table["aa:00:00:00:00:01"] == PORT[1]


def test_a_new_snapshot_fires_callbacks_only_for_real_changes():
    table, calls = make_table()
    feed(table, update(m.UpdateType.SNAPSHOT, 5, [
        entry("aa:00:00:00:00:01", PORT[1], 1), entry("aa:00:00:00:00:02", PORT[2], 2)]))
    calls.clear()
    feed(table, update(m.UpdateType.SNAPSHOT, 9, [
        entry("aa:00:00:00:00:01", PORT[1], 1), entry("aa:00:00:00:00:03", PORT[3], 8)]))
    assert sorted(calls) == [("aa:00:00:00:00:02", PORT[2], None),
                             ("aa:00:00:00:00:03", None, PORT[3])]


def test_updates_are_ignored_while_reading_zookeeper_directly():
    table, calls = make_table()
    table.use_zookeeper()
    feed(table, update(m.UpdateType.SNAPSHOT, 5, [entry("aa:00:00:00:00:01", PORT[1], 1)]))
    assert len(table) == 0 and calls == []


def test_updates_of_a_replaced_subscription_are_ignored():
    table, calls = make_table()
    feed(table, update(m.UpdateType.SNAPSHOT, 5, []))
    table.use_proxy(GEN + 1)  # resubscribed on a new connection
    feed(table, update(m.UpdateType.RELATIVE, 6, [entry("aa:00:00:00:00:01", PORT[1], 6)]))
    assert len(table) == 0 and table.version == 5


def test_resubscribe_carries_the_version_held_and_a_fresh_table_asks_for_a_snapshot():
    table, _ = make_table()
    assert table.subscribe_message(3).last_version is None
    feed(table, update(m.UpdateType.SNAPSHOT, 7, [entry("aa:00:00:00:00:01", PORT[1], 7)]))
    sub = table.subscribe_message(4)
    assert sub.last_version == 7 and sub.table_name == "mac_table" and sub.table_arguments == ("0",)


def test_first_direct_read_replaces_the_contents_then_changes_apply():
    from midonet_ryu.nsdb.state_node_names import Entry
    from midonet_ryu.nsdb.state_winners import WinnerChange

    table, calls = make_table()
    feed(table, update(m.UpdateType.SNAPSHOT, 5, [
        entry("aa:00:00:00:00:01", PORT[1], 1), entry("aa:00:00:00:00:02", PORT[2], 2)]))
    calls.clear()
    table.use_zookeeper()
    one = Entry("aa:00:00:00:00:01", PORT[1], 1, "n1")
    table.apply_direct([], 6, {one.key: one})
    assert dict(table) == {"aa:00:00:00:00:01": PORT[1]} and table.version == 6
    assert calls == [("aa:00:00:00:00:02", PORT[2], None)]
    three = Entry("aa:00:00:00:00:03", PORT[3], 7, "n3")
    table.apply_direct([WinnerChange(three.key, None, three)], 7, {})
    assert table["aa:00:00:00:00:03"] == PORT[3] and table.version == 7
    table.use_proxy(GEN + 1)
    table.apply_direct([WinnerChange(three.key, three, None)], 8, {})  # a late direct read
    assert "aa:00:00:00:00:03" in table


def test_an_update_at_exactly_the_version_held_is_dropped():
    table, calls = make_table()
    feed(table, update(m.UpdateType.SNAPSHOT, 7, [entry("aa:00:00:00:00:01", PORT[2], 7)]))
    # A diff ending at version 7 (say, sent before a resubscription) is already in the table.
    feed(table, update(m.UpdateType.RELATIVE, 7, [entry("aa:00:00:00:00:01", PORT[1], 6)]))
    assert table["aa:00:00:00:00:01"] == PORT[2] and len(calls) == 1
