"""State tables read and written straight in a real ZooKeeper."""
import uuid

import pytest
from sp_helpers import expire_session, wait_for

from midonet_ryu.nsdb.state_catalogue import MAC_TABLE
from midonet_ryu.nsdb.state_node_names import PERSISTENT_VERSION
from midonet_ryu.nsdb.state_table import StateTable, StateTables

pytestmark = pytest.mark.functional

NET = uuid.UUID("aaaaaaaa-0000-0000-0000-000000000001")
PORT_A = uuid.UUID("11111111-1111-1111-1111-111111111111")
PORT_B = uuid.UUID("22222222-2222-2222-2222-222222222222")
MAC = "aa:bb:cc:dd:ee:01"


def test_layout_in_zookeeper(new_client, paths):
    client = new_client()
    table = StateTables(client, paths).bridge_mac_table(NET, vlan=5)
    version = table.add(MAC, PORT_A)
    table.add_persistent("aa:bb:cc:dd:ee:02", PORT_B)
    path = f"{paths.root}/zoom/0/tables/Network/{NET}/mac_table/5"
    assert table.path == path
    children = sorted(client.get_children(path))
    assert children == [f"{MAC},{PORT_A},{version:010d}",
                        f"aa:bb:cc:dd:ee:02,{PORT_B},{PERSISTENT_VERSION}"]
    node = client.exists(f"{path}/{children[0]}")
    assert node.ephemeralOwner == client.client_id[0]
    table.stop()


def test_two_writers_converge_and_callbacks_fire(new_client, paths):
    c1, c2 = new_client(), new_client()
    t1 = StateTable(c1, paths, MAC_TABLE, NET, ("0",)).start()
    t2 = StateTable(c2, paths, MAC_TABLE, NET, ("0",)).start()
    seen = []
    t2.add_callback(lambda k, o, n: seen.append((k, o, n)))
    t1.add(MAC, PORT_A)
    wait_for(lambda: t2.get(MAC) == PORT_A, what="t2 to learn from t1")
    # The MAC moves to a port behind the second writer: newer learned entry wins.
    t2.add(MAC, PORT_B)
    wait_for(lambda: t1.get(MAC) == PORT_B and t2.get(MAC) == PORT_B, what="move")
    assert seen[:2] == [(MAC, None, PORT_A), (MAC, PORT_A, PORT_B)]
    # The first writer deletes its superseded entry by itself.
    wait_for(lambda: len(c1.get_children(t1.path)) == 1, what="superseded entry pruned")
    cversion = c1.get_children(t1.path, include_data=True)[1].cversion
    assert cversion == 3  # two creates and one delete
    wait_for(lambda: t1.version == t2.version == cversion, what="table version = cversion")
    assert dict(t1) == dict(t2) == {MAC: PORT_B}
    t1.stop()
    t2.stop()


def test_learned_beats_persistent_and_remove_only_touches_own(new_client, paths):
    c1, c2 = new_client(), new_client()
    t1 = StateTable(c1, paths, MAC_TABLE, NET, ("0",)).start()
    t2 = StateTable(c2, paths, MAC_TABLE, NET, ("0",)).start()
    t1.add_persistent(MAC, PORT_A)
    wait_for(lambda: t2.get(MAC) == PORT_A)
    t2.add(MAC, PORT_B)
    wait_for(lambda: t1.get(MAC) == PORT_B and t2.get(MAC) == PORT_B,
             what="learned entry to win")
    assert t1.remove(MAC) is False  # t1 owns no learned entry for MAC
    assert t2.remove(MAC, PORT_B) is True
    wait_for(lambda: t1.get(MAC) == PORT_A, what="persistent entry to return")
    assert t1.remove_persistent(MAC, PORT_A) is True
    wait_for(lambda: MAC not in t2, what="removal")
    t1.stop()
    t2.stop()


def test_session_expiry_removes_learned_entries(zookeeper, new_client, paths):
    writer, reader = new_client(timeout_ms=2000), new_client()
    tw = StateTable(writer, paths, MAC_TABLE, NET, ("0",)).start()
    tr = StateTable(reader, paths, MAC_TABLE, NET, ("0",)).start()
    tw.add(MAC, PORT_A)
    tw.add_persistent("aa:bb:cc:dd:ee:02", PORT_B)
    wait_for(lambda: len(tr) == 2)
    removed = []
    tr.add_callback(lambda k, o, n: n is None and removed.append(k))
    expire_session(zookeeper, writer)
    wait_for(lambda: MAC not in tr, what="learned entry to die with the session")
    assert removed == [MAC]
    assert tr.get("aa:bb:cc:dd:ee:02") == PORT_B
    # The writer reconnects with a new session and can learn again.
    wait_for(lambda: writer.connected, what="writer reconnection")
    wait_for(lambda: MAC not in tw, what="writer's own view")
    assert tw.writer.owned() == {}
    tw.add(MAC, PORT_B)
    wait_for(lambda: tr.get(MAC) == PORT_B)
    tw.stop()
    tr.stop()


def test_reader_of_missing_table_sees_it_appear(new_client, paths):
    client = new_client()
    reader = StateTable(client, paths, MAC_TABLE, NET, ("7",)).start()
    assert reader.wait_ready(5) and len(reader) == 0 and reader.version == 0
    StateTable(new_client(), paths, MAC_TABLE, NET, ("7",)).add(MAC, PORT_A)
    wait_for(lambda: reader.get(MAC) == PORT_A, what="table creation to be noticed")
    reader.stop()
