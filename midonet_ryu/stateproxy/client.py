"""The State Proxy client of NSDB users (the agent), with fallback to ZooKeeper.

States, after MidoNet's ``StateProxyClient``:

* **connected**: tables are fed by one proxy's differential updates;
* **soft reconnection**: the connection was lost (or none could be made);
  subscriptions are kept, tables keep their last state, and the client tries
  proxies (a different one first) every ``soft_reconnect_delay`` for up to
  ``max_soft_reconnect_attempts`` attempts. A table opened while no proxy is
  connected has no state to keep: it reads ZooKeeper until a proxy connects,
  so an agent never starts with empty tables;
* **hard phase** ("dormant"): tables read ZooKeeper directly; the client tries a
  proxy every ``hard_reconnect_delay`` and switches back when one answers.

No update is lost or applied twice across these moves because every source
speaks the same version, the table node's cversion: a table resubscribes with
the version it holds, the proxy answers with the changes since (or a
snapshot), a stale or repeated update is dropped by version, and a snapshot
is applied as a diff against the current contents, so callbacks fire only for
real changes. Switching to ZooKeeper starts from a fresh read applied the same
way; switching back stops the direct reader first, then resubscribes.

Threads: one connection thread (connects, reads, pings) and
``network_threads`` workers that apply updates; each table belongs to one
worker, so its updates stay in order. Plain ``threading``/``socket`` code: it
runs on native threads, and on green threads in an eventlet-patched process.
"""
from __future__ import annotations

import itertools
import logging
import queue
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from kazoo.client import KazooClient

from midonet_ryu.nsdb import discovery
from midonet_ryu.nsdb.paths import Paths
from midonet_ryu.nsdb.state_encoding import (
    ARP_TABLE,
    IP4_MAC_TABLE,
    MAC_TABLE,
    PEERING_TABLE,
    EncodingError,
    K,
    TableSpec,
    V,
)
from midonet_ryu.nsdb.state_table import (
    DirectReader,
    StateTable,
    StateTableView,
    TableWriter,
    TableWrites,
    table_path,
)
from midonet_ryu.stateproxy import state_api as m
from midonet_ryu.stateproxy.framing import FrameDecoder, frame
from midonet_ryu.stateproxy.protowire import DecodeError

LOG = logging.getLogger(__name__)

MAX_RESPONSE_FRAME = 16 * 1024 * 1024
WORK_QUEUE_SIZE = 10000

CONNECTED = "connected"
SOFT = "soft_reconnect"
HARD = "hard_reconnect"
STOPPED = "stopped"


class ProxiedStateTable(StateTableView[K, V], TableWrites[K, V]):
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
        self.source = "none"
        self.ready = threading.Event()
        self.worker = 0
        self.lock = threading.RLock()
        self.sid: int | None = None
        self.request_id: int | None = None
        self.generation = 0  # the client connection this table's subscription belongs to
        self._direct: DirectReader | None = None
        self._direct_first = True
        self._snapshot: dict[Any, tuple[Any, int]] | None = None
        self._dropping = False
        self.updates_applied = 0
        self.stopped = False

    # -- public -----------------------------------------------------------------------------
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

    def subscribe_message(self, request_id: int) -> m.Subscribe:
        spec = self.spec
        return m.Subscribe(spec.object_class, self.object_id, spec.key.java_class,
                           spec.value.java_class, spec.name, self.args,
                           self.version if self.ready.is_set() else None)

    # -- direct mode (runs on kazoo threads) ---------------------------------------------------
    def _go_direct(self, reason: str = "hard") -> None:
        """Read ZooKeeper directly. ``reason``: "hard" (no proxy for too long),
        "refused" (the proxy refused this table) or "new" (a table opened while no
        proxy is connected has no state to keep, so it reads ZooKeeper until one is)."""
        with self.lock:
            if self._direct is not None or self.stopped:
                return
            if reason == "hard" and self.client.state != HARD:
                return  # a proxy came back before this task ran
            if reason == "new" and self.source != "none":
                return  # already subscribed to a proxy that just connected
            self.source = "direct"
            self.sid = None
            self._snapshot = None
            self._direct_first = True
            self._direct = DirectReader(self.client.zk, self.path, self.spec, self._direct_update)
        self._direct.start()

    def _stop_direct(self) -> None:
        with self.lock:
            reader, self._direct = self._direct, None
        if reader is not None:
            reader.stop()

    def _direct_update(self, changes: list, version: int) -> None:
        with self.lock:
            reader = self._direct
            if reader is None or self.source != "direct":
                return  # switched back to the proxy meanwhile
            if self._direct_first:
                self._direct_first = False
                self._apply_values({k: (e.value, e.version)
                                    for k, e in reader.state.winners.items()}, version)
            else:
                self._apply_changes(changes, version)
            self.ready.set()

    # -- proxy mode (runs on the table's network worker) ----------------------------------------
    def _apply_update(self, update: m.Update) -> None:
        with self.lock:
            if self.source != "proxy":
                return
            if update.type == m.UpdateType.SNAPSHOT:
                if update.begin:
                    self._snapshot = {}
                if self._snapshot is None:
                    return  # tail of a snapshot we did not see begin
                for entry in self._decode(update.entries):
                    if entry[1] is not None:
                        self._snapshot[entry[0]] = (entry[1], entry[2])
                if update.end:
                    values, self._snapshot = self._snapshot, None
                    self._apply_values(values, update.current_version)
                    self.updates_applied += 1
                    self.ready.set()
                return
            if update.begin:
                # A relative update at or below our version was already applied.
                self._dropping = update.current_version <= self.version and self.ready.is_set()
            if self._dropping:
                return
            self._apply_entries(self._decode(update.entries), update.current_version)
            self.updates_applied += 1
            if update.end:
                self.ready.set()

    def _decode(self, entries: tuple[m.Entry, ...]) -> list[tuple[Any, Any, int]]:
        out = []
        for e in entries:
            try:
                key = e.key.to(self.spec.key)
                value = None if e.value is None else e.value.to(self.spec.value)
            except EncodingError as err:
                LOG.warning("table %s: undecodable entry %r: %s", self.path, e, err)
                continue
            out.append((key, value, e.version))
        return out


class StateProxyClient:
    """One connection to the State Proxy shared by all tables of a process."""

    def __init__(self, zk: KazooClient, paths: Paths | None = None, *,
                 soft_reconnect_delay: float = 1.0, max_soft_reconnect_attempts: int = 30,
                 hard_reconnect_delay: float = 30.0, network_threads: int = 2,
                 connect_timeout: float = 5.0, read_timeout: float = 10.0,
                 endpoints: Callable[[], list[discovery.Endpoint]] | None = None) -> None:
        self.zk = zk
        self.paths = paths or Paths()
        self.soft_reconnect_delay = soft_reconnect_delay
        self.max_soft_reconnect_attempts = max_soft_reconnect_attempts
        self.hard_reconnect_delay = hard_reconnect_delay
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._endpoints = endpoints or (
            lambda: discovery.list_instances(self.zk, self.paths, discovery.STATE_PROXY))
        self.state = SOFT
        self.endpoint: discovery.Endpoint | None = None
        self.tables: set[ProxiedStateTable] = set()
        self._by_request: dict[int, ProxiedStateTable] = {}
        self._by_sid: dict[int, ProxiedStateTable] = {}
        self._request_ids = itertools.count(1)
        self._table_counter = itertools.count()
        self._sock: socket.socket | None = None
        self._send_lock = threading.Lock()
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._listeners: list[Callable[[str], Any]] = []
        self.network_threads = max(1, network_threads)
        self._queues = [queue.Queue(WORK_QUEUE_SIZE) for _ in range(self.network_threads)]
        self._threads: list[threading.Thread] = []
        self.connections = 0
        self.bytes_received = 0
        self.messages_received = 0

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> StateProxyClient:
        self._stop.clear()
        for i, q in enumerate(self._queues):
            t = threading.Thread(target=self._worker, args=(q,), daemon=True,
                                 name=f"state-proxy-client-net-{i}")
            t.start()
            self._threads.append(t)
        t = threading.Thread(target=self._run, daemon=True, name="state-proxy-client")
        t.start()
        self._threads.append(t)
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._close_socket()
        for q in self._queues:
            q.put(None)
        for t in self._threads:
            t.join(5)
        self.state = STOPPED

    def add_listener(self, listener: Callable[[str], Any]) -> None:
        """``listener(state)`` on every state change; must not block."""
        self._listeners.append(listener)

    def _set_state(self, state: str) -> None:
        with self._lock:
            previous, self.state = self.state, state
        if previous != state:
            self._notify(previous, state)

    def _notify(self, previous: str, state: str) -> None:
        LOG.info("state proxy client: %s -> %s", previous, state)
        for listener in list(self._listeners):
            try:
                listener(state)
            except Exception:  # noqa: BLE001
                LOG.exception("state proxy client listener failed")

    # -- tables -----------------------------------------------------------------------------
    def table(self, spec: TableSpec[K, V], object_id: uuid.UUID,
              args: tuple[str, ...] = ()) -> ProxiedStateTable[K, V]:
        return ProxiedStateTable(self, spec, object_id, args).start()

    def _register(self, table: ProxiedStateTable) -> None:
        table.worker = next(self._table_counter) % len(self._queues)
        with self._lock:
            self.tables.add(table)
            state = self.state
        if state == CONNECTED:
            self._subscribe([table])
        else:
            table._go_direct("new")

    def _unregister(self, table: ProxiedStateTable) -> None:
        with self._lock:
            self.tables.discard(table)
            sid = table.sid
            if sid is not None:
                self._by_sid.pop(sid, None)
        if sid is not None and self.state == CONNECTED:
            self._send(m.ProxyRequest(next(self._request_ids), m.Unsubscribe(sid)))

    def _subscribe(self, tables: list[ProxiedStateTable]) -> None:
        payload = []
        for table in tables:
            rid = next(self._request_ids)
            with table.lock:
                if table.stopped:
                    continue
                reader, table._direct = table._direct, None  # it may have just started
                table.request_id = rid
                table.generation = self.connections
                table.sid = None
                table.source = "proxy"
                table._snapshot = None
                msg = table.subscribe_message(rid)
            if reader is not None:
                reader.stop()
            with self._lock:
                self._by_request[rid] = table
            payload.append(frame(m.encode_request(m.ProxyRequest(rid, msg))))
        if payload:
            self._send_raw(b"".join(payload))

    # -- connection thread ------------------------------------------------------------------
    def _run(self) -> None:
        attempts = 0
        failed: discovery.Endpoint | None = None
        while not self._stop.is_set():
            endpoint = self._pick(failed)
            sock = self._connect(endpoint) if endpoint else None
            if sock is None:
                failed = endpoint
                attempts += 1
                if self.state != HARD and attempts > self.max_soft_reconnect_attempts:
                    self._enter_hard()
                delay = (self.hard_reconnect_delay if self.state == HARD
                         else self.soft_reconnect_delay)
                self._wake.wait(delay)
                self._wake.clear()
                continue
            began = time.monotonic()
            self._serve(sock, endpoint)  # returns when the connection is lost
            failed = endpoint
            if not self._stop.is_set() and self.state == CONNECTED:
                self._set_state(SOFT)
            if time.monotonic() - began < max(1.0, self.soft_reconnect_delay):
                # A proxy that accepts and drops us at once (shutting down, broken)
                # counts as a failed attempt, so we neither spin nor stay soft forever.
                attempts += 1
                self._wake.wait(self.soft_reconnect_delay)
                self._wake.clear()
            else:
                attempts = 0

    def _pick(self, failed: discovery.Endpoint | None) -> discovery.Endpoint | None:
        try:
            endpoints = self._endpoints()
        except Exception as e:  # noqa: BLE001 - ZooKeeper down: retry later
            LOG.debug("state proxy discovery failed: %r", e)
            return None
        if not endpoints:
            return None
        others = [e for e in endpoints if e != failed]
        return random.choice(others or endpoints)

    def _connect(self, endpoint: discovery.Endpoint) -> socket.socket | None:
        try:
            sock = socket.create_connection(endpoint, timeout=self.connect_timeout)
        except OSError as e:
            LOG.debug("state proxy %s:%s unreachable: %s", endpoint[0], endpoint[1], e)
            return None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def _enter_hard(self) -> None:
        """No proxy for too long: every table reads ZooKeeper directly."""
        self._set_state(HARD)
        with self._lock:
            tables = list(self.tables)
            self._by_sid.clear()
            self._by_request.clear()
        for table in tables:
            self._queues[table.worker].put(table._go_direct)

    def _serve(self, sock: socket.socket, endpoint: discovery.Endpoint) -> None:
        with self._send_lock:
            self._sock = sock
        self.endpoint = endpoint
        self.connections += 1
        with self._lock:
            tables = list(self.tables)
            self._by_sid.clear()
            self._by_request.clear()
            previous, self.state = self.state, CONNECTED
        # Back from ZooKeeper: stop direct readers before resubscribing at their version.
        for table in tables:
            table._stop_direct()
        if previous != CONNECTED:
            self._notify(previous, CONNECTED)
        LOG.info("state proxy client connected to %s:%s", *endpoint)
        try:
            self._subscribe(tables)
        except OSError:
            self._close_socket()
            return
        decoder = FrameDecoder(MAX_RESPONSE_FRAME)
        sock.settimeout(max(0.1, self.read_timeout / 3))
        last_heard = time.monotonic()
        try:
            while not self._stop.is_set():
                try:
                    data = sock.recv(262144)
                except TimeoutError:
                    if time.monotonic() - last_heard > self.read_timeout:
                        LOG.warning("state proxy %s:%s silent for %.0fs", *endpoint,
                                    self.read_timeout)
                        return
                    self._send(m.ProxyRequest(next(self._request_ids), m.Ping()))
                    continue
                if not data:
                    return
                last_heard = time.monotonic()
                self.bytes_received += len(data)
                for payload in decoder.feed(data):
                    self.messages_received += 1
                    self._dispatch(m.decode_response(payload))
        except (OSError, DecodeError) as e:
            if not self._stop.is_set():
                LOG.warning("state proxy %s:%s connection lost: %s", *endpoint, e)
        finally:
            self._close_socket()

    def _close_socket(self) -> None:
        with self._send_lock:
            sock, self._sock = self._sock, None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def _send(self, request: m.ProxyRequest) -> None:
        self._send_raw(frame(m.encode_request(request)))

    def _send_raw(self, data: bytes) -> None:
        with self._send_lock:
            if self._sock is None:
                return
            try:
                self._sock.sendall(data)
            except OSError as e:
                LOG.debug("state proxy send failed: %s", e)

    def _dispatch(self, response: m.ProxyResponse) -> None:
        body = response.body
        if isinstance(body, m.Notify):
            with self._lock:
                table = self._by_sid.get(body.subscription_id)
            if table is None:
                return
            if isinstance(body.body, m.Update):
                gen = self.connections
                self._queues[table.worker].put(
                    lambda t=table, u=body.body, s=body.subscription_id: self._apply(t, s, gen, u))
            elif isinstance(body.body, m.Completed):
                self._completed(table, body.subscription_id, body.body)
        elif isinstance(body, m.Acknowledge):
            with self._lock:
                table = self._by_request.pop(response.request_id, None)
                if table is not None and table in self.tables:
                    table.sid = body.subscription_id
                    self._by_sid[body.subscription_id] = table
        elif isinstance(body, m.Error):
            with self._lock:
                table = self._by_request.pop(response.request_id, None)
            if table is not None:
                LOG.warning("state proxy refused table %s: %s %s; reading ZooKeeper instead",
                            table.path, body.code.name, body.description)
                self._queues[table.worker].put(lambda t=table: t._go_direct("refused"))
            else:
                LOG.warning("state proxy error: %s %s", body.code.name, body.description)

    def _apply(self, table: ProxiedStateTable, sid: int, generation: int,
               update: m.Update) -> None:
        if table.sid != sid or table.generation != generation:
            return  # from a subscription since replaced
        table._apply_update(update)

    def _completed(self, table: ProxiedStateTable, sid: int, completed: m.Completed) -> None:
        """The proxy ended a subscription: resubscribe (here, or on the next proxy)."""
        LOG.info("state proxy ended subscription of %s: %s %s", table.path,
                 completed.code.name, completed.description)
        with self._lock:
            self._by_sid.pop(sid, None)
            table.sid = None
        if completed.code == m.CompletedCode.SERVER_SHUTDOWN:
            return  # the connection is closing; we resubscribe on the next one

        def resubscribe() -> None:
            if not self._stop.wait(self.soft_reconnect_delay) and self.state == CONNECTED \
                    and table in self.tables:
                self._subscribe([table])

        threading.Thread(target=resubscribe, daemon=True).start()

    def _worker(self, q: queue.Queue) -> None:
        while True:
            task = q.get()
            if task is None:
                return
            try:
                task()
            except Exception:  # noqa: BLE001 - keep applying other tables' updates
                LOG.exception("state proxy client: applying an update failed")


class StateTableProvider:
    """The agent's entry point: state tables via the proxy, or directly when disabled.

    ``conf`` is the ``[state_proxy]`` group (or anything with the same
    attributes); ``conf.enabled = False`` gives direct ZooKeeper tables.
    """

    def __init__(self, zk: KazooClient, paths: Paths | None = None, conf: Any = None) -> None:
        self.zk = zk
        self.paths = paths or Paths()
        self.proxy: StateProxyClient | None = None
        if conf is None or conf.enabled:
            kwargs = {}
            if conf is not None:
                kwargs = {name: getattr(conf, name) for name in (
                    "soft_reconnect_delay", "max_soft_reconnect_attempts",
                    "hard_reconnect_delay", "network_threads", "connect_timeout",
                    "read_timeout")}
            self.proxy = StateProxyClient(zk, self.paths, **kwargs).start()

    def stop(self) -> None:
        if self.proxy is not None:
            self.proxy.stop()

    def table(self, spec: TableSpec[K, V], object_id: uuid.UUID,
              args: tuple[str, ...] = ()) -> StateTableView[K, V]:
        if self.proxy is None:
            return StateTable(self.zk, self.paths, spec, object_id, args).start()
        return self.proxy.table(spec, object_id, args)

    def bridge_mac_table(self, network_id: uuid.UUID, vlan: int = 0) -> StateTableView:
        return self.table(MAC_TABLE, network_id, (str(int(vlan)),))

    def bridge_ip4_mac_table(self, network_id: uuid.UUID) -> StateTableView:
        return self.table(IP4_MAC_TABLE, network_id)

    def router_arp_table(self, router_id: uuid.UUID) -> StateTableView:
        return self.table(ARP_TABLE, router_id)

    def port_peering_table(self, port_id: uuid.UUID) -> StateTableView:
        return self.table(PEERING_TABLE, port_id)
