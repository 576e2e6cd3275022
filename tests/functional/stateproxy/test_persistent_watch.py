"""Persistent recursive watches through kazoo: every change is its own ordered event."""
import collections
import uuid

import pytest
from sp_helpers import wait_for

from midonet_ryu.nsdb.persistent_watch import CREATED, DELETED, PersistentWatch
from midonet_ryu.nsdb.state_catalogue import MAC_TABLE
from midonet_ryu.nsdb.state_table import StateTable, table_path
from midonet_ryu.nsdb.state_winners import TableState

pytestmark = pytest.mark.functional

NET = uuid.UUID("aaaaaaaa-0000-0000-0000-000000000002")


class Replica:
    """What the proxy cache does: a snapshot, then one event per change, versioned."""

    def __init__(self):
        self.items = collections.deque()
        self.state = TableState(MAC_TABLE)
        self.version = None
        self.synced = False

    def drain(self):
        while self.items:
            item = self.items.popleft()
            if item[0] == "snapshot":
                self.state.replace(item[1])
                self.version = item[2].cversion
                self.synced = True
            elif item[0] == "child" and self.synced:
                (self.state.add if item[1] == CREATED else self.state.discard)(item[2])
                self.version += 1
            elif item[0] == "lost":
                self.synced = False
        return self


def test_events_follow_snapshot_and_versions_match_cversion(new_client, paths):
    writer_client, watcher_client = new_client(), new_client()
    writer = StateTable(writer_client, paths, MAC_TABLE, NET, ("0",))
    path = table_path(paths, MAC_TABLE, NET, ("0",))
    writer.add("aa:00:00:00:00:01", uuid.uuid4())  # exists before the watch
    replica = Replica()
    watch = PersistentWatch(watcher_client, path, replica.items.append)
    watch.start()
    ports = [uuid.uuid4() for _ in range(30)]
    for i, port in enumerate(ports):
        writer.add(f"aa:00:00:00:01:{i % 10:02x}", port)  # re-learning prunes older entries
    writer.add_persistent("aa:00:00:00:02:00", ports[0])
    writer.remove("aa:00:00:00:00:01")

    def converged():
        replica.drain()
        children, stat = writer_client.get_children(path, include_data=True)
        return replica.synced and replica.version == stat.cversion and \
            sorted(e.name for e in replica.state.entries()) == sorted(children)

    wait_for(converged, what="replica to equal ZooKeeper")
    assert not any(item[0] == "child" and item[1] not in (CREATED, DELETED)
                   for item in replica.items)
    watch.stop()


def test_missing_table_is_created_and_watched(new_client, paths):
    client = new_client()
    path = table_path(paths, MAC_TABLE, NET, ("9",))
    replica = Replica()
    PersistentWatch(client, path, replica.items.append).start()
    wait_for(lambda: replica.drain().synced, what="first snapshot of a new table")
    assert client.exists(path) is not None and replica.version == 0
    StateTable(new_client(), paths, MAC_TABLE, NET, ("9",)).add("aa:00:00:00:00:09", NET)
    wait_for(lambda: len(replica.drain().state) == 1 and replica.version == 1)
