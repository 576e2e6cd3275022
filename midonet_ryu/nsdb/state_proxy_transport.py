"""The State Proxy client's I/O: sockets, threads, the clock and the ZooKeeper fallback.

The decisions are made by the pure :class:`~midonet_ryu.stateproxy.session.Session`
and :class:`~midonet_ryu.stateproxy.proxied_view.ProxiedView`; this module feeds
them events and carries out their actions. It lives in ``nsdb`` because falling
back means reading ZooKeeper (:class:`~midonet_ryu.nsdb.state_table.DirectReader`)
and writes always go to ZooKeeper.

Threads: one connection thread (lists proxies, connects, reads, ticks the session)
and ``network_threads`` workers. Every action on a table (subscribe, read
ZooKeeper, apply an update) runs on the table's worker, in the order the session
emitted it, so a table's updates stay in order and a switch of source never races
with an update. Plain ``threading``/``socket``/``queue`` code: it runs on native
threads, and on green threads in an eventlet-patched process.
"""
from __future__ import annotations

import itertools
import logging
import queue
import socket
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from kazoo.client import KazooClient

from midonet_ryu.nsdb import discovery
from midonet_ryu.nsdb.paths import Paths
from midonet_ryu.nsdb.state_catalogue import K, TableSpec, V, table_path
from midonet_ryu.nsdb.state_table import DirectReader, TableWriter, TableWrites
from midonet_ryu.stateproxy import session as s
from midonet_ryu.stateproxy import state_api as m
from midonet_ryu.stateproxy.framing import frame
from midonet_ryu.stateproxy.proxied_view import ProxiedView

LOG = logging.getLogger(__name__)

WORK_QUEUE_SIZE = 10000
RECV_SIZE = 262144


class ProxiedStateTable(ProxiedView[K, V], TableWrites[K, V]):
    """A state table fed by the State Proxy, or by ZooKeeper while no proxy is reachable.

    Same interface as :class:`~midonet_ryu.nsdb.state_table.StateTable`: a
    Mapping without I/O, ``version``, ``add_callback``, and writes (straight to
    ZooKeeper). ``source`` tells where updates come from ("proxy"/"direct").
    """

    def __init__(self, client: StateProxyClient, spec: TableSpec[K, V], object_id: uuid.UUID,
                 args: tuple[str, ...] = ()) -> None:
        super().__init__(spec, object_id, args)
        self.client = client
        self.path = table_path(client.paths, spec, object_id, tuple(args))
        self.writer: TableWriter[K, V] = TableWriter(client.zk, self.path, spec)
        self.ready = threading.Event()
        self.lock = threading.RLock()
        self.worker = 0
        self.stopped = False
        self._direct: DirectReader | None = None

    def __repr__(self) -> str:
        return f"<table {self.path}>"

    @property
    def sid(self) -> int | None:
        """The proxy's subscription id (None while not subscribed)."""
        return self.client.session.subscription_id(self)

    def start(self) -> ProxiedStateTable[K, V]:
        self.client._register(self)
        return self

    def stop(self) -> None:
        self.stopped = True
        self.client._unregister(self)
        self._stop_direct()
        self.writer.close()

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Wait for the first contents (from the proxy or ZooKeeper)."""
        return self.ready.wait(timeout)

    def _on_winner(self, key: Any, winner_version: int | None) -> None:
        self.writer.prune_superseded(key, winner_version)

    # -- actions, run on the table's worker ----------------------------------------------------
    def _read_zookeeper(self) -> None:
        with self.lock:
            if self._direct is not None or self.stopped:
                return
            self.use_zookeeper()
            reader = self._direct = DirectReader(self.client.zk, self.path, self.spec,
                                                 lambda c, v: self._direct_update(reader, c, v))
        reader.start()  # a first read, synchronous when ZooKeeper is reachable

    def _direct_update(self, reader: DirectReader, changes: list, version: int) -> None:
        with self.lock:
            if self._direct is not reader:
                return  # stopped: a proxy feeds the table again
            self.apply_direct(changes, version, reader.state.winners)
            if self.loaded:
                self.ready.set()

    def _stop_direct(self) -> None:
        with self.lock:
            reader, self._direct = self._direct, None
        if reader is not None:
            reader.stop()

    def _subscribe(self, request_id: int, generation: int) -> bytes | None:
        """Back on the proxy: stop reading ZooKeeper, then subscribe at the version held."""
        with self.lock:
            if self.stopped:
                return None
            reader, self._direct = self._direct, None
            self.use_proxy(generation)
            request = m.ProxyRequest(request_id, self.subscribe_message(request_id))
        if reader is not None:
            reader.stop()
        return frame(m.encode_request(request))

    def _deliver(self, update: m.Update, generation: int, received: float) -> None:
        with self.lock:
            self.apply_update(update, generation)
            if self.loaded:
                self.ready.set()
        observe = self.client.observe_update
        if observe is not None:
            observe(time.monotonic() - received)


class StateProxyClient:
    """One connection to the State Proxy shared by all tables of a process."""

    def __init__(self, zk: KazooClient, paths: Paths | None = None, *,
                 soft_reconnect_delay: float = 1.0, max_soft_reconnect_attempts: int = 30,
                 hard_reconnect_delay: float = 30.0, network_threads: int = 2,
                 connect_timeout: float = 5.0, read_timeout: float = 10.0,
                 endpoints: Callable[[], list[discovery.Endpoint]] | None = None,
                 observe_update: Callable[[float], None] | None = None) -> None:
        self.zk = zk
        # seconds from reading an update off the socket to the table holding it
        self.observe_update = observe_update
        self.paths = paths or Paths()
        self.connect_timeout = connect_timeout
        self.session = s.Session(s.SessionConfig(
            soft_reconnect_delay=soft_reconnect_delay,
            max_soft_reconnect_attempts=max_soft_reconnect_attempts,
            hard_reconnect_delay=hard_reconnect_delay, read_timeout=read_timeout))
        self._endpoints = endpoints or (
            lambda: discovery.list_instances(self.zk, self.paths, discovery.STATE_PROXY))
        self.network_threads = max(1, network_threads)
        self._queues: list[queue.Queue] = [queue.Queue(WORK_QUEUE_SIZE)
                                           for _ in range(self.network_threads)]
        self._table_counter = itertools.count()
        self._lock = threading.RLock()       # around every session call
        self._send_lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._sock_generation = 0
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._listeners: list[Callable[[str], Any]] = []
        self._threads: list[threading.Thread] = []

    # -- what the session knows ----------------------------------------------------------------
    @property
    def state(self) -> str:
        return self.session.state

    @property
    def endpoint(self) -> discovery.Endpoint | None:
        return self.session.endpoint

    @property
    def tables(self) -> set[ProxiedStateTable]:
        with self._lock:
            return set(self.session.tables)  # type: ignore[arg-type]

    @property
    def connections(self) -> int:
        return self.session.generation

    @property
    def bytes_received(self) -> int:
        return self.session.bytes_received

    @property
    def messages_received(self) -> int:
        return self.session.messages_received

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> StateProxyClient:
        self._stop.clear()
        for i, q in enumerate(self._queues):
            self._spawn(self._worker, f"state-proxy-client-net-{i}", q)
        self._spawn(self._run, "state-proxy-client")
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._follow(self._call(self.session.stop))
        self._close_socket()
        for q in self._queues:
            q.put(None)
        for t in self._threads:
            t.join(5)

    def add_listener(self, listener: Callable[[str], Any]) -> None:
        """``listener(state)`` on every state change; must not block."""
        self._listeners.append(listener)

    def table(self, spec: TableSpec[K, V], object_id: uuid.UUID,
              args: tuple[str, ...] = ()) -> ProxiedStateTable[K, V]:
        return ProxiedStateTable(self, spec, object_id, args).start()

    def _spawn(self, target: Callable[..., None], name: str, *args: Any) -> None:
        t = threading.Thread(target=target, args=args, daemon=True, name=name)
        t.start()
        self._threads.append(t)

    def _register(self, table: ProxiedStateTable) -> None:
        table.worker = next(self._table_counter) % len(self._queues)
        self._follow(self._call(self.session.open_table, table))

    def _unregister(self, table: ProxiedStateTable) -> None:
        self._follow(self._call(self.session.close_table, table))

    # -- driving the session -------------------------------------------------------------------
    def _call(self, event: Callable[..., list[s.Action]], *args: Any) -> list[s.Action]:
        """Feed one event; table actions go to the tables' workers while the lock is held
        (so they are queued in the order the session emitted them); the rest is returned."""
        rest = []
        with self._lock:
            for action in event(*args):
                if isinstance(action, s.SubscribeTable):
                    self._queue(action.table, self._subscribe, action.table,
                                action.request_id, action.generation)
                elif isinstance(action, s.ReadZooKeeper):
                    self._queue(action.table, action.table._read_zookeeper)
                elif isinstance(action, s.Deliver):
                    self._queue(action.table, action.table._deliver, action.update,
                                action.generation, time.monotonic())
                else:
                    rest.append(action)
        return rest

    def _queue(self, table: ProxiedStateTable, fn: Callable[..., None], *args: Any) -> None:
        self._queues[table.worker].put(lambda: fn(*args))

    def _follow(self, actions: list[s.Action]) -> None:
        """Carry out the I/O actions; listing and connecting lead to further events."""
        pending = list(actions)
        while pending:
            action = pending.pop(0)
            if isinstance(action, s.Send):
                self._send(action.data, action.generation)
            elif isinstance(action, s.Disconnect):
                self._close_socket()
            elif isinstance(action, s.StateChanged):
                self._notify(action.state)
            elif isinstance(action, s.ListEndpoints):
                pending += self._call(self.session.endpoints_listed, time.monotonic(),
                                      self._list_endpoints())
            elif isinstance(action, s.Connect):
                pending += self._connect(action.endpoint)

    def _notify(self, state: str) -> None:
        for listener in list(self._listeners):
            try:
                listener(state)
            except Exception:  # noqa: BLE001
                LOG.exception("state proxy client listener failed")

    def _subscribe(self, table: ProxiedStateTable, request_id: int, generation: int) -> None:
        data = table._subscribe(request_id, generation)
        if data is not None:
            self._send(data, generation)

    # -- the connection thread -----------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            with self._send_lock:
                sock = self._sock
            if sock is None:
                self._idle()
            else:
                self._read(sock)

    def _until_wakeup(self) -> float:
        with self._lock:
            at = self.session.wakeup_at()
        return 3600.0 if at is None else at - time.monotonic()

    def _idle(self) -> None:
        delay = self._until_wakeup()
        if delay > 0:
            self._wake.wait(delay)
            self._wake.clear()
            return
        self._follow(self._call(self.session.tick, time.monotonic()))

    def _read(self, sock: socket.socket) -> None:
        try:
            sock.settimeout(min(max(0.01, self._until_wakeup()), 3600.0))
            data = sock.recv(RECV_SIZE)
        except TimeoutError:
            self._follow(self._call(self.session.tick, time.monotonic()))
            return
        except OSError as e:
            if not self._stop.is_set():
                LOG.debug("state proxy read failed: %s", e)
            data = b""
        if data:
            self._follow(self._call(self.session.received, time.monotonic(), data))
            return
        self._close_socket()
        self._follow(self._call(self.session.connection_lost, time.monotonic()))

    def _list_endpoints(self) -> list[discovery.Endpoint] | None:
        try:
            return self._endpoints()
        except Exception as e:  # noqa: BLE001 - ZooKeeper down: retry later
            LOG.debug("state proxy discovery failed: %r", e)
            return None

    def _connect(self, endpoint: discovery.Endpoint) -> list[s.Action]:
        try:
            sock = socket.create_connection(endpoint, timeout=self.connect_timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError as e:
            LOG.debug("state proxy %s:%s unreachable: %s", endpoint[0], endpoint[1], e)
            return self._call(self.session.connect_failed, time.monotonic())
        with self._lock:
            # The socket is in place before the subscriptions are queued.
            with self._send_lock:
                self._sock = sock
                self._sock_generation = self.session.generation + 1
            actions = self._call(self.session.connected, time.monotonic())
        if self._stop.is_set():
            self._close_socket()
        return actions

    def _close_socket(self) -> None:
        with self._send_lock:
            sock, self._sock = self._sock, None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def _send(self, data: bytes, generation: int) -> None:
        with self._send_lock:
            if self._sock is None or generation != self._sock_generation:
                return  # for a connection since lost: the next one resubscribes
            try:
                self._sock.sendall(data)
            except OSError as e:
                LOG.debug("state proxy send failed: %s", e)

    def _worker(self, q: queue.Queue) -> None:
        while True:
            task = q.get()
            if task is None:
                return
            try:
                task()
            except Exception:  # noqa: BLE001 - keep applying other tables' updates
                LOG.exception("state proxy client: a table task failed")
