"""Fixtures for State Proxy functional tests: private ZooKeeper servers ended by PID."""
import os
import sys
import uuid

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from kazoo.client import KazooClient  # noqa: E402

from midonet_ryu.nsdb.client import make_client  # noqa: E402
from midonet_ryu.nsdb.paths import Paths  # noqa: E402
from tools.lab.zookeeper import TemporaryZooKeeper  # noqa: E402


@pytest.fixture(scope="module")
def zookeeper():
    server = TemporaryZooKeeper(min_session_timeout_ms=1000).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def paths():
    """A fresh root per test so tests never see each other's tables."""
    return Paths(f"/test-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def new_client(zookeeper):
    clients: list[KazooClient] = []

    def make(timeout_ms: int = 4000) -> KazooClient:
        client = make_client(zookeeper.hosts, session_timeout_ms=timeout_ms)
        client.start(timeout=10)
        clients.append(client)
        return client

    yield make
    for client in clients:
        try:
            client.stop()
            client.close()
        except Exception:  # noqa: BLE001 - already stopped by the test
            pass


def wait_for(pred, timeout=10.0, interval=0.02, what="condition"):
    import time
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


# -- State Proxy helpers ---------------------------------------------------------------------
import socket  # noqa: E402
import time  # noqa: E402

from cluster_proxy.lab import ClusterProcess  # noqa: E402
from midonet_ryu.nsdb.state_encoding import TableState  # noqa: E402
from midonet_ryu.stateproxy import messages as m  # noqa: E402
from midonet_ryu.stateproxy.framing import FrameDecoder, frame  # noqa: E402


@pytest.fixture
def cluster_factory(zookeeper):
    """Start midonet-cluster processes on the test's ZooKeeper; all ended by PID."""
    started: list[ClusterProcess] = []

    def start(root: str = "/midonet", hosts: str | None = None, **opts) -> ClusterProcess:
        cp = ClusterProcess(hosts or zookeeper.hosts, root=root, **opts).start()
        started.append(cp)
        return cp

    yield start
    for cp in started:
        cp.cleanup()


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
