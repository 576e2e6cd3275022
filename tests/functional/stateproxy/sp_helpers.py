"""Helpers of the State Proxy functional tests (a module of its own: test folders
share no package, so a plain name like ``conftest`` could be shadowed)."""
import os
import random
import socket
import sys
import threading
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from kazoo.client import KazooClient  # noqa: E402
from kazoo.exceptions import KazooException  # noqa: E402

from midonet_ryu.nsdb.state_catalogue import MAC_TABLE  # noqa: E402
from midonet_ryu.nsdb.state_proxy_transport import StateProxyClient  # noqa: E402
from midonet_ryu.nsdb.state_table import StateTable  # noqa: E402
from midonet_ryu.nsdb.state_winners import TableState  # noqa: E402
from midonet_ryu.stateproxy import state_api as m  # noqa: E402
from midonet_ryu.stateproxy.framing import FrameDecoder, frame  # noqa: E402
from midonet_ryu.stateproxy.session import CONNECTED  # noqa: E402


def wait_for(pred, timeout=10.0, interval=0.02, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


def expire_session(zookeeper, client: KazooClient) -> None:
    """Really expire ``client``'s session: a second client takes it over and closes it."""
    session_id, password = client.client_id
    thief = KazooClient(hosts=zookeeper.hosts, client_id=(session_id, password))
    thief.start(timeout=10)
    thief.stop()
    thief.close()


def zk_view(client, spec, path):
    """ZooKeeper's truth: (winning values, cversion) of a table."""
    children, stat = client.get_children(path, include_data=True)
    state = TableState(spec)
    state.replace(children)
    return {k: e.value for k, e in state.winners.items()}, stat.cversion


class RawStateClient:
    """A bare State API client over a socket, for protocol-level tests."""

    def __init__(self, port: int, rcvbuf: int | None = None) -> None:
        self.sock = socket.socket()
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.connect(("127.0.0.1", port))
        self.decoder = FrameDecoder(1 << 24)
        self.pending: list = []
        self.next_id = 1

    def send(self, body, request_id=None) -> int:
        rid = request_id if request_id is not None else self.next_id
        self.next_id = rid + 1
        self.sock.sendall(frame(m.encode_request(m.ProxyRequest(rid, body))))
        return rid

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def subscribe(self, spec, object_id, args=(), last_version=None) -> int:
        return self.send(m.Subscribe(spec.object_class, object_id, spec.key.java_class,
                                     spec.value.java_class, spec.name, tuple(args),
                                     last_version))

    def recv(self, timeout: float = 5.0):
        """Next response; None when the server closed the connection."""
        deadline = time.monotonic() + timeout
        while not self.pending:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = self.sock.recv(1 << 20)
            except TimeoutError:
                raise AssertionError("no response from the proxy") from None
            except ConnectionResetError:
                return None
            if not data:
                return None
            self.pending.extend(m.decode_response(f) for f in self.decoder.feed(data))
        return self.pending.pop(0)

    def recv_update(self, timeout: float = 5.0):
        """Collect one whole update (begin..end): (type, version, entries)."""
        entries = []
        while True:
            resp = self.recv(timeout)
            assert resp is not None, "connection closed"
            body = resp.body
            if isinstance(body, m.Notify) and isinstance(body.body, m.Update):
                entries.extend(body.body.entries)
                if body.body.end:
                    return body.body.type, body.body.current_version, entries

    def close(self) -> None:
        self.sock.close()


class Recorder:
    """Replays a table's change callbacks: any lost or doubled update shows as a
    callback whose old value is not what the replica holds."""

    def __init__(self, table):
        self.replica = {}
        self.errors = []
        table.add_callback(self)

    def __call__(self, key, old, new):
        if self.replica.get(key) != old:
            self.errors.append((key, self.replica.get(key), old, new))
        if new is None:
            self.replica.pop(key, None)
        else:
            self.replica[key] = new


def churn(zookeeper, new_client, paths, net, writers=3, ops=150, stop=None, seed=0):
    """Several writers learning, moving and forgetting MACs concurrently."""
    def work(i):
        rnd = random.Random(seed * 100 + i)
        table = StateTable(new_client(), paths, MAC_TABLE, net, ("0",))
        for _ in range(ops):
            if stop is not None and stop.is_set():
                return
            mac = f"aa:00:00:00:{rnd.randrange(4):02x}:{rnd.randrange(64):02x}"
            try:
                if rnd.random() < 0.2:
                    table.remove(mac)
                else:
                    table.add(mac, uuid.UUID(int=rnd.randrange(1 << 64)))
            except KazooException:
                time.sleep(0.1)  # ZooKeeper failing over: an agent learns again later
    threads = [threading.Thread(target=work, args=(i,)) for i in range(writers)]
    for t in threads:
        t.start()
    return threads


def proxy_client(zk, paths, **kw):
    opts = dict(soft_reconnect_delay=0.2, max_soft_reconnect_attempts=5,
                hard_reconnect_delay=0.5, read_timeout=3.0)
    opts.update(kw)
    return StateProxyClient(zk, paths, **opts).start()


def on_proxy(client, table):
    """Wait until ``table`` is fed by a proxy (it may read ZooKeeper until one connects)."""
    assert table.wait_ready(10)
    wait_for(lambda: client.state == CONNECTED and table.source == "proxy"
             and table.sid is not None, what="table on the proxy")


def converged(client, table, path):
    """Same contents as ZooKeeper. The version may trail the cversion by changes that
    altered no value (a writer pruning its superseded entry): the proxy does not
    spend a message on those."""
    truth, cversion = zk_view(client, MAC_TABLE, path)
    return dict(table) == truth and 0 < table.version <= cversion
