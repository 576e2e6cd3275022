"""The State Proxy with real ZooKeeper, real midonet-cluster processes and real clients."""
import random
import threading
import time
import uuid

import pytest
from sp_helpers import (
    RawStateClient,
    Recorder,
    churn,
    converged,
    on_proxy,
    proxy_client,
    wait_for,
    zk_view,
)

from midonet_ryu.nsdb.state_catalogue import MAC_TABLE
from midonet_ryu.nsdb.state_table import StateTable
from midonet_ryu.stateproxy import state_api as m
from midonet_ryu.stateproxy.framing import frame
from midonet_ryu.stateproxy.session import CONNECTED, HARD

pytestmark = pytest.mark.functional


def test_subscribers_equal_zookeeper_after_concurrent_churn(
        zookeeper, new_client, paths, cluster_factory):
    cluster_factory(root=paths.root)
    net = uuid.uuid4()
    zk = new_client()
    subscribers = [proxy_client(new_client(), paths) for _ in range(2)]
    tables = [s.table(MAC_TABLE, net, ("0",)) for s in subscribers]
    recorders = [Recorder(t) for t in tables]
    for s, t in zip(subscribers, tables, strict=True):
        on_proxy(s, t)
    for t in churn(zookeeper, new_client, paths, net):
        t.join()
    for t in tables:
        wait_for(lambda t=t: converged(zk, t, t.path), what="subscriber = ZooKeeper")
    assert len(tables[0]) > 50
    for r, t in zip(recorders, tables, strict=True):
        assert r.errors == [] and r.replica == dict(t)
    for s in subscribers:
        s.stop()


def test_clients_move_to_another_proxy_then_fall_back_and_return(
        zookeeper, new_client, paths, cluster_factory):
    proxies = [cluster_factory(root=paths.root) for _ in range(2)]
    net = uuid.uuid4()
    zk = new_client()
    client = proxy_client(new_client(), paths)
    states = []
    client.add_listener(states.append)
    table = client.table(MAC_TABLE, net, ("0",))
    recorder = Recorder(table)
    on_proxy(client, table)
    stop = threading.Event()
    writers = churn(zookeeper, new_client, paths, net, writers=2, ops=100000, stop=stop)
    try:
        # Kill the proxy in use, mid-stream: the client moves within the soft phase.
        time.sleep(0.5)
        used = next(p for p in proxies if p.port == client.endpoint[1])
        used.kill()
        wait_for(lambda: client.state == CONNECTED and client.endpoint[1] != used.port,
                 what="move to the other proxy")
        assert HARD not in states
        time.sleep(0.5)
        # Kill them all: the client falls back to ZooKeeper and keeps converging.
        for p in proxies:
            p.kill()
        wait_for(lambda: client.state == HARD and table.source == "direct", timeout=15,
                 what="fallback to ZooKeeper")
        time.sleep(0.5)
        # A proxy returns: the client goes back to it.
        proxies[0].start()
        wait_for(lambda: client.state == CONNECTED and table.source == "proxy", timeout=15,
                 what="return to the proxy")
        time.sleep(0.5)
    finally:
        stop.set()
        for w in writers:
            w.join()
    wait_for(lambda: converged(zk, table, table.path), what="convergence after the moves")
    assert recorder.errors == [] and recorder.replica == dict(table)
    client.stop()


def test_differential_resubscribe_sends_only_the_diff(new_client, paths, cluster_factory):
    proxy = cluster_factory(root=paths.root)
    net = uuid.uuid4()
    writer = StateTable(new_client(), paths, MAC_TABLE, net, ("0",))
    for i in range(300):
        writer.add(f"aa:00:00:00:{i // 256:02x}:{i % 256:02x}", uuid.uuid4())
    raw = RawStateClient(proxy.port)
    raw.subscribe(MAC_TABLE, net, ("0",))
    assert isinstance(raw.recv().body, m.Acknowledge)
    kind, version, entries = raw.recv_update()
    assert kind == m.UpdateType.SNAPSHOT and len(entries) == 300
    raw.close()
    moved = uuid.uuid4()
    writer.add("aa:00:00:00:00:01", moved)         # a move
    writer.remove("aa:00:00:00:00:02")              # a removal
    writer.add("bb:00:00:00:00:01", moved)          # an addition
    raw = RawStateClient(proxy.port)
    raw.subscribe(MAC_TABLE, net, ("0",), last_version=version)
    assert isinstance(raw.recv().body, m.Acknowledge)
    cversion = zk_view(new_client(), MAC_TABLE, writer.path)[1]
    changed, received, new_version = {}, 0, 0
    while new_version < cversion:  # the last change, an addition, is visible
        kind, new_version, entries = raw.recv_update()
        assert kind == m.UpdateType.RELATIVE
        received += len(entries)
        changed.update({e.key.to(MAC_TABLE.key): e.value.to(MAC_TABLE.value) if e.value
                        else None for e in entries})
    assert changed == {"aa:00:00:00:00:01": moved, "aa:00:00:00:00:02": None,
                       "bb:00:00:00:00:01": moved}
    assert received == 3
    raw.close()


def test_slow_subscriber_is_bounded_then_caught_up(new_client, paths, cluster_factory):
    # A write blocked past the channel timeout disconnects a subscriber (another
    # test); this one is about the bound and the catch-up, so writing 20,000
    # changes on a loaded machine must not reach that timeout.
    proxy = cluster_factory(root=paths.root, state_proxy_max_subscriber_queue_size=32,
                            state_proxy_server_channel_timeout=120)
    net = uuid.uuid4()
    writer = StateTable(new_client(), paths, MAC_TABLE, net, ("0",))
    slow = RawStateClient(proxy.port, rcvbuf=4096)
    slow.subscribe(MAC_TABLE, net, ("0",))
    time.sleep(0.5)
    rss_before = proxy.rss_kb()
    keys = [f"aa:00:00:00:{i // 256:02x}:{i % 256:02x}" for i in range(1000)]
    for round_ in range(20):  # 20000 single-entry changes the subscriber does not read
        for key in keys:
            writer.writer.client.create_async(
                f"{writer.path}/{key},{uuid.UUID(int=round_)},2147483647")
    wait_for(lambda: zk_view(new_client(), MAC_TABLE, writer.path)[1] >= 20000, timeout=30)
    time.sleep(1.0)
    health = proxy.health()["services"]["state_proxy"]
    assert health["queued_messages"] <= 32 + 2
    assert proxy.rss_kb() - rss_before < 16 * 1024
    # Once it reads, it is caught up: far fewer messages than changes.
    truth, cversion = zk_view(new_client(), MAC_TABLE, writer.path)
    view, version, messages = {}, 0, 0
    deadline = time.monotonic() + 20
    while (view != truth or version != cversion) and time.monotonic() < deadline:
        resp = slow.recv(10)
        messages += 1
        body = resp.body
        if isinstance(body, m.Notify) and isinstance(body.body, m.Update):
            if body.body.type == m.UpdateType.SNAPSHOT and body.body.begin:
                view = {}
            for e in body.body.entries:
                key = e.key.to(MAC_TABLE.key)
                if e.value is None:
                    view.pop(key, None)
                else:
                    view[key] = e.value.to(MAC_TABLE.value)
            version = body.body.current_version
    assert view == truth and version == cversion
    assert messages < 10000
    slow.close()


def test_bad_input_gets_errors_not_crashes(new_client, paths, cluster_factory):
    proxy = cluster_factory(root=paths.root)
    raw = RawStateClient(proxy.port)
    raw.send_raw(b"\x03\xff\xff\xff")                      # a frame that is not a request
    assert raw.recv().body.code == m.ErrorCode.UNKNOWN_MESSAGE
    raw.send_raw(b"\x04\x08\x05\x7a\x00")                  # a request of an unknown kind
    assert raw.recv().body == m.Error(m.ErrorCode.UNKNOWN_MESSAGE, "unknown request")
    raw.send(m.Subscribe("org.example.Thing", uuid.uuid4(), "", "", "no_table"))
    assert raw.recv().body.code == m.ErrorCode.INVALID_ARGUMENT
    raw.send(m.Subscribe(MAC_TABLE.object_class, uuid.uuid4(), "", "", "mac_table", ()))
    assert raw.recv().body.code == m.ErrorCode.INVALID_ARGUMENT  # mac_table needs a VLAN
    raw.send(m.Unsubscribe(77))
    assert raw.recv().body.code == m.ErrorCode.NO_SUBSCRIPTION
    raw.send(m.Ping())
    assert isinstance(raw.recv().body, m.Pong)               # still usable
    raw.send_raw(b"\xff\xff\xff\x7f")                      # announces a 268 MB frame
    resp = raw.recv()
    assert resp is not None and resp.body.code == m.ErrorCode.UNKNOWN_PROTOCOL
    assert raw.recv() is None                               # and is disconnected
    raw.close()
    # Random garbage from many connections: errors or disconnections, never a crash.
    rnd = random.Random(7)
    for _ in range(30):
        fuzz = RawStateClient(proxy.port)
        for _ in range(20):
            payload = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 40)))
            try:
                fuzz.send_raw(frame(payload) if rnd.random() < 0.8 else payload)
            except OSError:
                break
        fuzz.close()
    other = RawStateClient(proxy.port)                      # the server lives on
    other.send(m.Ping())
    assert isinstance(other.recv().body, m.Pong)
    other.close()
    assert proxy.proc.poll() is None


def test_clean_shutdown_ends_subscriptions_and_unregisters(new_client, paths, cluster_factory):
    proxies = [cluster_factory(root=paths.root) for _ in range(2)]
    zk = new_client()
    base = paths.discovery("state-proxy")
    wait_for(lambda: len(zk.get_children(base)) == 2, what="both proxies registered")
    net = uuid.uuid4()
    writer = StateTable(new_client(), paths, MAC_TABLE, net, ("0",))
    writer.add_persistent("aa:00:00:00:00:01", net)
    client = proxy_client(new_client(), paths)
    table = client.table(MAC_TABLE, net, ("0",))
    on_proxy(client, table)
    states = []
    client.add_listener(states.append)
    used = next(p for p in proxies if p.port == client.endpoint[1])
    other = next(p for p in proxies if p is not used)
    raw = RawStateClient(used.port)
    raw.subscribe(MAC_TABLE, net, ("0",))
    raw.recv()
    raw.recv_update()
    used.stop()  # SIGTERM
    assert used.proc.returncode == 0
    assert len(zk.get_children(base)) == 1
    assert raw.recv().body.body.code == m.CompletedCode.SERVER_SHUTDOWN
    wait_for(lambda: client.state == CONNECTED and client.endpoint[1] == other.port,
             what="move to the remaining proxy")
    assert HARD not in states
    writer.add_persistent("aa:00:00:00:00:02", net)
    wait_for(lambda: len(table) == 2, what="updates from the remaining proxy")
    raw.close()
    client.stop()


def test_bind_retries_while_the_port_is_taken(zookeeper, paths):
    import socket

    from tools.lab.cluster import ClusterProcess

    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    port = blocker.getsockname()[1]
    cp = ClusterProcess(zookeeper.hosts, root=paths.root, port=port,
                        state_proxy_server_bind_retry_interval=0.3)
    try:
        cp.start(wait=False)
        time.sleep(2.0)
        assert cp.proc.poll() is None  # alive, waiting for the port
        assert cp.health()["services"]["state_proxy"]["listening"] is False
        blocker.close()
        cp.wait_listening(10)
        raw = RawStateClient(port)
        raw.send(m.Ping())
        assert isinstance(raw.recv().body, m.Pong)
        raw.close()
    finally:
        blocker.close()
        cp.cleanup()


def test_tables_opened_without_a_proxy_read_zookeeper_then_move_to_one(
        new_client, paths, cluster_factory):
    net = uuid.uuid4()
    zk = new_client()
    writer = StateTable(zk, paths, MAC_TABLE, net, ("0",))
    writer.add_persistent("aa:00:00:00:00:01", net)
    client = proxy_client(new_client(), paths, max_soft_reconnect_attempts=1000)
    table = client.table(MAC_TABLE, net, ("0",))
    recorder = Recorder(table)
    assert table.wait_ready(5) and table.source == "direct" and len(table) == 1
    cluster_factory(root=paths.root)
    wait_for(lambda: client.state == CONNECTED and table.source == "proxy", what="proxy")
    writer.add_persistent("aa:00:00:00:00:02", net)
    wait_for(lambda: converged(zk, table, table.path) and len(table) == 2)
    assert recorder.errors == [] and table.updates_applied >= 1
    client.stop()


def impatient_proxy(cluster_factory, paths, new_client):
    """A proxy with a 1 s channel timeout, a client and a MAC table to write."""
    proxy = cluster_factory(root=paths.root, state_proxy_server_channel_timeout=1)
    net = uuid.uuid4()
    zk = new_client()
    writer = StateTable(zk, paths, MAC_TABLE, net, ("0",))
    zk.ensure_path(writer.path)
    return proxy, net, zk, writer


def test_subscriber_that_stops_reading_is_disconnected_after_channel_timeout(
        new_client, paths, cluster_factory):
    proxy, net, zk, writer = impatient_proxy(cluster_factory, paths, new_client)
    pending = [zk.create_async(f"{writer.path}/aa:00:00:00:{i // 256:02x}:{i % 256:02x},"
                               f"{uuid.UUID(int=i)},2147483647") for i in range(20000)]
    for p in pending:
        p.get()
    stalled = RawStateClient(proxy.port, rcvbuf=4096)
    stalled.subscribe(MAC_TABLE, net, ("0",))  # a ~1.3 MB snapshot it never reads
    healthy = RawStateClient(proxy.port)
    healthy.send(m.Ping())
    assert isinstance(healthy.recv().body, m.Pong)

    def cut():
        h = proxy.health()
        return h["metrics"].get("state_proxy.slow_disconnects") == 1 and \
            h["services"]["state_proxy"]["connections"] == 1
    try:
        wait_for(cut, timeout=20, interval=0.5, what="the stalled subscriber to be cut")
    except AssertionError:
        print(proxy.health())
        raise
    healthy.send(m.Ping())  # the other connection is unaffected
    assert isinstance(healthy.recv().body, m.Pong)
    stalled.close()
    healthy.close()


def test_subscriber_that_sends_nothing_for_longer_than_the_channel_timeout_stays(
        new_client, paths, cluster_factory):
    """The channel timeout cuts blocked writes, not clients that are merely quiet."""
    proxy, net, zk, writer = impatient_proxy(cluster_factory, paths, new_client)
    client = RawStateClient(proxy.port)
    client.subscribe(MAC_TABLE, net, ("0",))
    assert isinstance(client.recv().body, m.Acknowledge)
    assert client.recv().body.body.type == m.UpdateType.SNAPSHOT
    time.sleep(3)  # three channel timeouts without a word from the client
    zk.create(f"{writer.path}/aa:00:00:00:00:01,{uuid.UUID(int=1)},2147483647")
    update = client.recv()
    assert update is not None, "the proxy hung up on a quiet subscriber"
    assert update.body.body.type == m.UpdateType.RELATIVE and len(update.body.body.entries) == 1
    assert proxy.health()["services"]["state_proxy"]["connections"] == 1
    client.close()


def test_provider_reads_zookeeper_directly_when_the_proxy_is_disabled(new_client, paths):
    import types

    from midonet_ryu.nsdb.state_proxy_transport import ProxiedStateTable
    from midonet_ryu.nsdb.state_table import StateTable as DirectTable
    from midonet_ryu.nsdb.state_table_provider import StateTableProvider

    conf = types.SimpleNamespace(enabled=False, soft_reconnect_delay=0.1,
                                 max_soft_reconnect_attempts=1, hard_reconnect_delay=0.1,
                                 network_threads=1, connect_timeout=1.0, read_timeout=3.0)
    direct = StateTableProvider(new_client(), paths, conf)
    table = direct.bridge_mac_table(uuid.uuid4(), vlan=3)
    assert isinstance(table, DirectTable) and direct.proxy is None
    assert direct.proxy_state == "disabled"
    table.stop()
    conf.enabled = True
    proxied = StateTableProvider(new_client(), paths, conf)
    table = proxied.router_arp_table(uuid.uuid4())
    assert isinstance(table, ProxiedStateTable) and proxied.proxy.network_threads == 1
    assert proxied.proxy_state == proxied.proxy.state != "disabled"
    table.stop()
    proxied.stop()
