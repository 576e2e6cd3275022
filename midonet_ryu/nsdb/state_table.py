"""State tables (MAC-port, IP-MAC, ARP, peering) read and written straight in ZooKeeper.

This is MidoNet's "direct" mode: a reader re-reads the table's child list on
every change (``get_children`` + watch), which costs O(table size) per change;
the State Proxy (``midonet_ryu.stateproxy``) exists to avoid that, and falls
back to this mode when no proxy is reachable. Writes always go here, whichever
way a table is read.

Readers see a :class:`~midonet_ryu.nsdb.state_view.StateTableView`: a
``Mapping[key, value]`` of the winning entries, readable without I/O from any
thread, the table version, and change callbacks ``(key, old_value, new_value)``.

The table version is the ``cversion`` of the table node (MidoNet used the
PZXID). ZooKeeper bumps ``cversion`` by exactly one for every entry created or
deleted, so a State Proxy that sees each create/delete as its own event can
give every change its exact version without reading anything, and every proxy
numbers the changes of a table alike: a client can resume from its version on
any proxy.
Everything takes the kazoo handler of the client it is given, so it works in
eventlet daemons and threaded tests alike.
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any, Generic

from kazoo.client import KazooClient
from kazoo.exceptions import (
    ConnectionLoss,
    NodeExistsError,
    NoNodeError,
    SessionExpiredError,
    ZookeeperError,
)
from kazoo.protocol.states import KazooState

from midonet_ryu.nsdb.paths import Paths
from midonet_ryu.nsdb.state_catalogue import (
    K,
    TableSpec,
    V,
    table_path,
)
from midonet_ryu.nsdb.state_codecs import EncodingError
from midonet_ryu.nsdb.state_node_names import PERSISTENT_VERSION, decode_name, encode_name
from midonet_ryu.nsdb.state_view import StateTableView
from midonet_ryu.nsdb.state_winners import TableState, WinnerChange

LOG = logging.getLogger(__name__)

class TableWriter(Generic[K, V]):
    """Writes entries of one table and remembers the learned ones it owns.

    Learned entries are ephemeral-sequential: ZooKeeper numbers them, and they
    vanish with this client's session. A writer removes its own entries once
    they are superseded (by its own newer entry for the key, or by another
    writer's), so tables do not accumulate dead entries.
    """

    def __init__(self, client: KazooClient, path: str, spec: TableSpec[K, V]) -> None:
        self.client = client
        self.path = path
        self.spec = spec
        self._owned: dict[K, dict[str, int]] = {}  # key -> {node name: version}
        # key -> the newest own entry when the session was lost (take_lost)
        self._lost: dict[K, str] = {}
        self._lock = client.handler.lock_object()
        client.add_listener(self._session_changed)

    def close(self) -> None:
        self.client.remove_listener(self._session_changed)

    def _session_changed(self, state: str) -> None:
        if state == KazooState.LOST:
            with self._lock:
                # ZooKeeper removed them with the session; remember what they
                # said, for the owner to write again in the next one
                for key, names in self._owned.items():
                    self._lost[key] = max(names, key=names.__getitem__)
                self._owned.clear()

    def take_lost(self) -> list[tuple[K, V]]:
        """What this writer had learned when its last session was lost (the
        newest value of each key), once: a silent VM would not be learned
        again, so its owner writes it back (if nobody learned it elsewhere)."""
        with self._lock:
            lost, self._lost = self._lost, {}
        out = []
        for name in lost.values():
            try:
                entry = decode_name(self.spec, name)
            except EncodingError:
                continue
            out.append((entry.key, entry.value))
        return out

    def _create(self, name: str, ephemeral: bool, sequence: bool) -> str:
        full = f"{self.path}/{name}"
        try:
            return self.client.create(full, ephemeral=ephemeral, sequence=sequence)
        except NoNodeError:
            self.client.ensure_path(self.path)
            return self.client.create(full, ephemeral=ephemeral, sequence=sequence)

    def add(self, key: K, value: V) -> int:
        """Learn ``key -> value``: an entry that dies with this session. Returns its version.

        Blocks for one ZooKeeper round trip (plus one delete per superseded own entry).
        Not retried on ConnectionLoss (a blind retry of a sequential create could leave
        an orphan entry): the caller learns again on the next packet.
        """
        name = encode_name(self.spec, key, value)
        created = self._create(name, ephemeral=True, sequence=True).rsplit("/", 1)[1]
        version = int(created.rsplit(",", 1)[1])
        key = self.spec.key.normalize(key)
        with self._lock:
            own = self._owned.setdefault(key, {})
            stale = [n for n, v in own.items() if v < version]
            own[created] = version
            for n in stale:
                del own[n]
        for n in stale:
            self._delete(n)
        return version

    def add_persistent(self, key: K, value: V) -> None:
        """Add an entry that outlives this session (version 2147483647); idempotent."""
        name = encode_name(self.spec, key, value, PERSISTENT_VERSION)
        try:
            self.client.retry(self._create, name, ephemeral=False, sequence=False)
        except NodeExistsError:
            pass

    def remove(self, key: K, value: V | None = None) -> bool:
        """Delete this writer's learned entries for ``key`` (only those holding ``value``
        when given). Entries of other writers are never touched. True if any existed."""
        key = self.spec.key.normalize(key)
        prefix = None if value is None else encode_name(self.spec, key, value)
        with self._lock:
            own = self._owned.get(key, {})
            names = [n for n in own if prefix is None or n.startswith(prefix)]
            for n in names:
                del own[n]
            if not own:
                self._owned.pop(key, None)
        return any([self._delete(n) for n in names])

    def remove_persistent(self, key: K, value: V) -> bool:
        """Delete the persistent entry ``key -> value``; True if it existed."""
        return self._delete(encode_name(self.spec, key, value, PERSISTENT_VERSION))

    def owned(self) -> dict[K, dict[str, int]]:
        with self._lock:
            return {k: dict(v) for k, v in self._owned.items()}

    def _delete(self, name: str) -> bool:
        try:
            self.client.retry(self.client.delete, f"{self.path}/{name}")
            return True
        except NoNodeError:
            return False

    def prune_superseded(self, key: Any, winner_version: int | None) -> None:
        """Delete (asynchronously) own learned entries of ``key`` older than the winner.

        Called by readers when another writer's entry wins, so a MAC that moved
        to another host does not keep its old entry alive until session expiry.
        """
        if winner_version is None:
            return
        with self._lock:
            own = self._owned.get(key)
            if not own:
                return
            stale = [n for n, v in own.items() if v < winner_version]
            for n in stale:
                del own[n]
            if not own:
                del self._owned[key]
        for n in stale:
            self.client.delete_async(f"{self.path}/{n}")


class DirectReader:
    """Keeps a :class:`TableState` equal to ZooKeeper by re-reading the child list.

    Level-triggered like kazoo's ChildrenWatch: every watch event or session
    re-connection re-reads; concurrent triggers coalesce into one more read.
    ``on_update(changes, version)`` is called after each read that moved a winner
    or the version, and after the first successful read (``ready`` is then set).
    """

    def __init__(self, client: KazooClient, path: str, spec: TableSpec,
                 on_update: Callable[[list[WinnerChange], int], None]) -> None:
        self.client = client
        self.path = path
        self.state = TableState(spec)
        self.version = 0
        self.reads = 0
        self._on_update = on_update
        self._lock = client.handler.lock_object()
        self._reading = False
        self._dirty = False
        self._established = False
        self._stopped = True
        self.ready = client.handler.event_object()

    def start(self) -> None:
        """Arm the watch with a first read (synchronous when ZooKeeper is reachable)."""
        self._stopped = False
        self.client.add_listener(self._session_changed)
        self.refresh()

    def stop(self) -> None:
        self._stopped = True
        self.client.remove_listener(self._session_changed)

    def _session_changed(self, state: str) -> None:
        if state in (KazooState.LOST, KazooState.SUSPENDED):
            self._established = False
        elif state == KazooState.CONNECTED and not self._established and not self._stopped:
            self.client.handler.spawn(self.refresh)

    def _watch(self, event: Any) -> None:
        if not self._stopped:
            self.refresh()

    def refresh(self) -> None:
        """Re-read now; when a read is already running, make it read once more."""
        with self._lock:
            if self._reading:
                self._dirty = True
                return
            self._reading = True
        try:
            while not self._stopped:
                self._dirty = False
                self._read_once()
                with self._lock:
                    if not self._dirty:
                        break
        finally:
            with self._lock:
                self._reading = False

    def _read_once(self) -> None:
        try:
            try:
                children, stat = self.client.get_children(self.path, watch=self._watch,
                                                          include_data=True)
                version = stat.cversion
            except NoNodeError:
                if self.client.exists(self.path, watch=self._watch) is not None:
                    self._dirty = True
                    return
                children, version = [], 0
        except (ConnectionLoss, SessionExpiredError) as e:
            LOG.debug("state table %s: read deferred until reconnection (%s)", self.path, e)
            return
        except ZookeeperError:
            LOG.exception("state table %s: read failed", self.path)
            return
        self._established = True
        self.reads += 1
        if version and version < self.version:
            return  # an older view than one already applied
        changes = self.state.replace(children)
        moved = version > self.version
        self.version = max(version, self.version)
        if changes or moved or not self.ready.is_set():
            self._on_update(changes, self.version)
        self.ready.set()


class TableWrites(Generic[K, V]):
    """Writes of a table, straight to ZooKeeper however the table is read
    (directly or through the State Proxy): one round trip each."""

    writer: TableWriter[K, V]

    def add(self, key: K, value: V) -> int:
        return self.writer.add(key, value)

    def add_persistent(self, key: K, value: V) -> None:
        self.writer.add_persistent(key, value)

    def remove(self, key: K, value: V | None = None) -> bool:
        return self.writer.remove(key, value)

    def remove_persistent(self, key: K, value: V) -> bool:
        return self.writer.remove_persistent(key, value)


class StateTable(StateTableView[K, V], TableWrites[K, V]):
    """A state table read directly from ZooKeeper and written to it.

    Example::

        table = StateTable(client, Paths(), MAC_TABLE, network_id, ("0",))
        table.add_callback(lambda key, old, new: invalidate_flows(key))
        table.start()
        table.add("aa:bb:cc:dd:ee:ff", port_id)   # learned, ephemeral
        port = table.get("aa:bb:cc:dd:ee:ff")     # no I/O
    """

    def __init__(self, client: KazooClient, paths: Paths, spec: TableSpec[K, V],
                 object_id: uuid.UUID, args: tuple[str, ...] = ()) -> None:
        super().__init__(spec, object_id, args)
        self.path = table_path(paths, spec, object_id, tuple(args))
        self.writer: TableWriter[K, V] = TableWriter(client, self.path, spec)
        self._reader = DirectReader(client, self.path, spec, self._apply_changes)

    @property
    def reads(self) -> int:
        """Child-list reads done so far (the cost direct mode pays per change)."""
        return self._reader.reads

    def start(self) -> StateTable[K, V]:
        self._reader.start()
        return self

    def stop(self) -> None:
        self._reader.stop()
        self.writer.close()

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Wait for the first read; False on timeout (ZooKeeper unreachable)."""
        return bool(self._reader.ready.wait(timeout))

    def _on_winner(self, key: Any, winner_version: int | None) -> None:
        self.writer.prune_superseded(key, winner_version)


def __getattr__(name: str) -> Any:
    """``StateTables`` moved to :mod:`midonet_ryu.nsdb.state_table_provider` (imported
    lazily: that module builds on this one)."""
    if name == "StateTables":
        from midonet_ryu.nsdb.state_table_provider import StateTables
        return StateTables
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
