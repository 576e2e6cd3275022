"""The State Proxy cluster service: table caches behind a State API TCP server.

Threads are eventlet greenthreads in the daemon (the entry point monkey-patches
first), written against the standard library so the logic reads plainly:

* ``cache_threads`` cache workers; each table cache belongs to one, so its
  changes stay ordered, and a burst of ZooKeeper events is coalesced into
  one update per processing round;
* ``supervisor_threads`` acceptors on the listening socket;
* ``worker_threads`` request workers; each connection's requests go to one
  of them, in order;
* per connection, a reader and a writer (see ``connection.py``).

The server registers in ``<root>/service-discovery/state-proxy`` once it listens.
"""
from __future__ import annotations

import dataclasses
import errno
import gc
import itertools
import logging
import queue
import socket
import threading
import time
import uuid
from typing import Any

from cluster_proxy.framework import ClusterContext, ClusterService
from cluster_proxy.state_proxy.cache import TableCache, TableKey
from cluster_proxy.state_proxy.connection import Connection, Subscription
from midonet_ryu.metrics import ClusterCounter
from midonet_ryu.nsdb import discovery
from midonet_ryu.nsdb.persistent_watch import PersistentWatch
from midonet_ryu.nsdb.state_catalogue import TableSpec, table_path
from midonet_ryu.stateproxy import state_api as m

LOG = logging.getLogger(__name__)

REQUEST_QUEUE_SIZE = 4096
SEND_BUFFER = 256 * 1024
GC_FREEZE_MIN_ENTRIES = 1000
ROUND_SPACING_PER_SUBSCRIBER = 50e-6
MAX_ROUND_SPACING = 0.01


@dataclasses.dataclass
class ServerOptions:
    cache_threads: int = 4
    batch_size: int = 64
    initial_queue: int = 16
    max_queue: int = 1024
    change_log_size: int = 65536
    nsdb_grace: float = 5.0
    cache_linger: float = 30.0
    address: str = "0.0.0.0"
    advertise: str | None = None
    port: int = 2346
    supervisor_threads: int = 1
    worker_threads: int = 4
    backlog: int = 1024
    bind_retry_interval: float = 60.0
    channel_timeout: float = 15.0
    shutdown_quiet_period: float = 0.0
    shutdown_timeout: float = 15.0
    max_subscriptions: int = 100000

    @classmethod
    def from_conf(cls, conf: Any) -> ServerOptions:
        c = conf.cluster
        return cls(
            cache_threads=c.state_proxy_cache_threads,
            batch_size=c.state_proxy_notify_batch_size,
            initial_queue=c.state_proxy_initial_subscriber_queue_size,
            max_queue=c.state_proxy_max_subscriber_queue_size,
            change_log_size=c.state_proxy_change_log_size,
            nsdb_grace=c.state_proxy_nsdb_grace,
            cache_linger=c.state_proxy_cache_linger,
            address=c.state_proxy_server_address,
            advertise=c.state_proxy_advertise_address,
            port=c.state_proxy_server_port,
            supervisor_threads=c.state_proxy_server_supervisor_threads,
            worker_threads=c.state_proxy_server_worker_threads,
            backlog=c.state_proxy_server_max_pending_connections,
            bind_retry_interval=c.state_proxy_server_bind_retry_interval,
            channel_timeout=c.state_proxy_server_channel_timeout,
            shutdown_quiet_period=c.state_proxy_server_shutdown_quiet_period,
            shutdown_timeout=c.state_proxy_server_shutdown_timeout,
            max_subscriptions=c.state_proxy_max_subscriptions_per_connection,
        )


class StateProxyService(ClusterService):
    name = "state_proxy"

    def __init__(self, context: ClusterContext, options: ServerOptions | None = None) -> None:
        super().__init__(context)
        self.options = options or ServerOptions.from_conf(context.conf)
        self.metrics = context.metrics
        self.zk = context.zk
        self.paths = context.paths
        self.caches: dict[TableKey, TableCache] = {}
        self.watches: dict[TableKey, PersistentWatch] = {}
        self.connections: set[Connection] = set()
        self.shutting_down = False
        self.listener: socket.socket | None = None
        self.registration: discovery.ServiceRegistration | None = None
        self.port: int | None = None
        self._cache_queues = [queue.Queue() for _ in range(self.options.cache_threads)]
        self._request_queues = [queue.Queue(REQUEST_QUEUE_SIZE)
                                for _ in range(self.options.worker_threads)]
        self._conn_counter = itertools.count()
        self._cache_counter = itertools.count()
        self._threads: list[threading.Thread] = []
        self._stopped = threading.Event()
        self._last_activity = time.monotonic()
        self._lock = threading.RLock()

    # -- lifecycle --------------------------------------------------------------------------
    def _spawn(self, target: Any, *args: Any, name: str = "") -> threading.Thread:
        t = threading.Thread(target=target, args=args, name=name, daemon=True)
        t.start()
        self._threads.append(t)
        return t

    def start(self) -> None:
        # Sizes are read at scrape time: the accept and subscribe paths pay nothing.
        self.metrics.state_proxy_connections.set_function(lambda: len(self.connections))
        self.metrics.state_proxy_subscriptions.set_function(
            lambda: sum(len(c.subs) for c in list(self.connections)))
        self.metrics.state_proxy_cached_tables.set_function(lambda: len(self.caches))
        for i, q in enumerate(self._cache_queues):
            self._spawn(self._cache_worker, q, name=f"state-proxy-cache-{i}")
        for i, q in enumerate(self._request_queues):
            self._spawn(self._request_worker, q, name=f"state-proxy-worker-{i}")
        self._spawn(self._grace_ticker, name="state-proxy-grace")
        if not self._bind():
            if self.options.bind_retry_interval <= 0:
                raise OSError(errno.EADDRINUSE,
                              f"state proxy cannot bind port {self.options.port}")
            self._spawn(self._bind_retry, name="state-proxy-bind")

    def _bind(self) -> bool:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.options.address, self.options.port))
        except OSError as e:
            sock.close()
            LOG.warning("state proxy cannot bind %s:%s: %s", self.options.address,
                        self.options.port, e)
            return False
        sock.listen(self.options.backlog)
        self.listener = sock
        self.port = sock.getsockname()[1]
        for i in range(self.options.supervisor_threads):
            self._spawn(self._acceptor, sock, name=f"state-proxy-accept-{i}")
        advertise = self.options.advertise or self.options.address
        if advertise in ("0.0.0.0", ""):
            advertise = socket.gethostname()
        self.registration = discovery.ServiceRegistration(
            self.zk, self.paths, discovery.STATE_PROXY, advertise, self.port)
        self.registration.start()
        LOG.info("state proxy listening on %s:%s", self.options.address, self.port)
        return True

    def _bind_retry(self) -> None:
        while not self._stopped.is_set() and self.listener is None:
            self._stopped.wait(self.options.bind_retry_interval)
            if not self._stopped.is_set() and self._bind():
                return

    def stop(self, timeout: float) -> None:
        """Unregister, serve a quiet period, end subscriptions, flush, then close."""
        if self.registration:
            self.registration.stop()
        quiet = self.options.shutdown_quiet_period
        while quiet > 0 and time.monotonic() - self._last_activity < quiet:
            time.sleep(min(0.1, quiet))
        self.shutting_down = True
        if self.listener is not None:
            try:
                self.listener.close()
            except OSError:
                pass
        for conn in list(self.connections):
            for sub in list(conn.subs.values()):
                conn.end_subscription(sub, m.Completed(m.CompletedCode.SERVER_SHUTDOWN,
                                                       None, "server shutting down"))
        deadline = time.monotonic() + min(timeout, self.options.shutdown_timeout)
        while time.monotonic() < deadline and any(c.queue for c in self.connections):
            time.sleep(0.05)
        for conn in list(self.connections):
            conn.close()
        self._stopped.set()
        for q in self._cache_queues + self._request_queues:
            q.put(None)
        for key in list(self.watches):
            self.watches.pop(key).stop()
        self.caches.clear()

    def health(self) -> dict[str, Any]:
        return {
            "running": not self._stopped.is_set(),
            "listening": self.listener is not None,
            "port": self.port,
            "caches": len(self.caches),
            "connections": len(self.connections),
            "subscriptions": sum(len(c.subs) for c in self.connections),
            "queued_messages": sum(len(c.queue) for c in self.connections),
        }

    # -- connections ------------------------------------------------------------------------
    def _acceptor(self, listener: socket.socket) -> None:
        while not self._stopped.is_set():
            try:
                sock, peer = listener.accept()
            except OSError:
                if self._stopped.is_set() or self.shutting_down:
                    return
                time.sleep(0.05)
                continue
            if self.shutting_down:
                sock.close()
                continue
            self._last_activity = time.monotonic()
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            # A fixed send buffer (no autotuning to megabytes) keeps a stalled
            # subscriber's backlog in our bounded queue, where it is coalesced.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
            conn = Connection(sock, peer, self)
            conn.worker = next(self._conn_counter) % len(self._request_queues)
            self.connections.add(conn)
            self.metrics.inc(ClusterCounter.CONNECTIONS_ACCEPTED)
            self._spawn(conn.reader, name=f"state-proxy-read-{peer}")
            self._spawn(conn.writer, name=f"state-proxy-write-{peer}")

    def submit(self, conn: Connection, payload: bytes) -> None:
        """Hand a request frame to the connection's worker (blocks when it is swamped)."""
        self._last_activity = time.monotonic()
        self._request_queues[conn.worker].put((conn, payload))

    def forget(self, conn: Connection) -> None:
        self.connections.discard(conn)
        self._threads = [t for t in self._threads if t.is_alive()]

    def _request_worker(self, q: queue.Queue) -> None:
        while True:
            item = q.get()
            if item is None:
                return
            conn, payload = item
            try:
                conn.handle(payload)
            except Exception:  # noqa: BLE001 - one bad request must not stop the worker
                LOG.exception("state proxy request from %s failed", conn.peer)
                conn.send_control(m.ProxyResponse(0, m.Error(m.ErrorCode.UNKNOWN_MESSAGE,
                                                             "internal error")))

    # -- caches -----------------------------------------------------------------------------
    def acquire(self, spec: TableSpec, object_id: uuid.UUID, args: tuple[str, ...]) -> TableCache:
        key = TableKey(spec, object_id, args)
        with self._lock:
            cache = self.caches.get(key)
            if cache is not None and not cache.closed:
                cache.idle_since = None
                return cache
            path = table_path(self.paths, spec, object_id, args)
            worker = self._cache_queues[next(self._cache_counter) % len(self._cache_queues)]
            cache = TableCache(key, path, self.options.batch_size, self.options.change_log_size,
                               worker.put, self.metrics)
            self.caches[key] = cache
            watch = PersistentWatch(self.zk, path, cache.sink)
            self.watches[key] = watch
        watch.start()
        return cache

    def release(self, sub: Subscription) -> None:
        """A subscription ended. A cache left without subscribers lingers for
        ``cache_linger`` seconds, so a client that reconnects soon gets a diff."""
        cache = sub.cache
        with self._lock:
            cache.subscribers.discard(sub)
            if not cache.subscribers and not cache.closed:
                cache.idle_since = time.monotonic()

    def _close_cache(self, cache: TableCache) -> None:
        with self._lock:
            cache.closed = True
            if self.caches.get(cache.key) is cache:
                del self.caches[cache.key]
            watch = self.watches.pop(cache.key, None)
        if watch is not None:
            watch.stop()

    def _cache_worker(self, q: queue.Queue) -> None:
        """Runs cache rounds. Rounds of one cache are spaced by a time proportional to
        its subscribers, so under churn the fan-out cost (a send per subscriber per
        round) stays bounded and changes coalesce; an idle table pays nothing."""
        while True:
            cache = q.get()
            if cache is None:
                return
            spacing = min(ROUND_SPACING_PER_SUBSCRIBER * len(cache.subscribers),
                          MAX_ROUND_SPACING)
            wait = cache.last_round + spacing - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            cache.last_round = time.monotonic()
            try:
                cache.process(cache.last_round)
                self._maybe_freeze(cache)
            except Exception:  # noqa: BLE001 - keep serving the other tables
                LOG.exception("state table cache %s failed", cache.key)

    @staticmethod
    def _maybe_freeze(cache: TableCache) -> None:
        """Keep big tables out of the cyclic GC's scans.

        A full collection walking a 50k-entry cache stalled every table for 30-60 ms.
        Once a cache holds GC_FREEZE_MIN_ENTRIES more entries than at its last freeze
        (loaded, or grown by events), collect the young generations (so no pending
        garbage cycle is frozen) and freeze what remains: entries are acyclic and
        still freed by reference counting.
        """
        size = len(cache.state)
        if size - cache.frozen_size >= max(GC_FREEZE_MIN_ENTRIES, cache.frozen_size // 4):
            gc.collect(1)
            gc.freeze()
            cache.frozen_size = size

    def _grace_ticker(self) -> None:
        """Ends caches whose ZooKeeper stayed away too long, and idle caches."""
        while not self._stopped.wait(0.5):
            now = time.monotonic()
            for cache in list(self.caches.values()):
                idle = cache.idle_since
                if cache.expire_if_lost(now, self.options.nsdb_grace) or (
                        idle is not None and now - idle >= self.options.cache_linger
                        and not cache.subscribers):
                    self._close_cache(cache)
