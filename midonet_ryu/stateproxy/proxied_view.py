"""A state table fed by the State Proxy, or by ZooKeeper while no proxy serves it.

Pure: the transport hands it decoded State API updates, or the winners of a
direct ZooKeeper read, and it keeps the values readers see. It owns the rules
that make a change of source invisible to readers: every source speaks the same
version (the table node's cversion), a relative update at or below the version
held is dropped, a subscription that is not the current one is ignored, and a
snapshot (or a first direct read) is applied as a diff against the current
contents, so callbacks fire only for real changes.
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

from midonet_ryu.nsdb.state_catalogue import K, TableSpec, V
from midonet_ryu.nsdb.state_codecs import EncodingError
from midonet_ryu.nsdb.state_node_names import Entry
from midonet_ryu.nsdb.state_view import StateTableView
from midonet_ryu.nsdb.state_winners import WinnerChange
from midonet_ryu.stateproxy import state_api as m

LOG = logging.getLogger(__name__)

NONE = "none"
PROXY = "proxy"
DIRECT = "direct"


class ProxiedView(StateTableView[K, V]):
    """The contents of one table and where they come from (``source``).

    Not thread-safe: one owner at a time applies updates (the transport holds a
    per-table lock around every call that changes it).
    """

    def __init__(self, spec: TableSpec[K, V], object_id: uuid.UUID,
                 args: tuple[str, ...] = ()) -> None:
        super().__init__(spec, object_id, args)
        self.source = NONE
        self.loaded = False
        """True once the table holds real contents (from the proxy or ZooKeeper)."""
        self.generation = 0
        """The connection whose subscription feeds the table; others' updates are stale."""
        self.updates_applied = 0
        self._snapshot: dict[Any, tuple[Any, int]] | None = None
        self._dropping = False
        self._direct_first = True

    # -- switching source --------------------------------------------------------------------
    def use_proxy(self, generation: int) -> None:
        """From now on only updates of connection ``generation`` apply."""
        self.source = PROXY
        self.generation = generation
        self._snapshot = None
        self._dropping = False

    def use_zookeeper(self) -> None:
        """From now on only direct reads apply; the first one replaces the contents."""
        self.source = DIRECT
        self._snapshot = None
        self._direct_first = True

    def subscribe_message(self, request_id: int) -> m.Subscribe:
        """The subscription, resuming from the version held (a snapshot when nothing is)."""
        spec = self.spec
        return m.Subscribe(spec.object_class, self.object_id, spec.key.java_class,
                           spec.value.java_class, spec.name, self.args,
                           self.version if self.loaded else None)

    # -- applying ----------------------------------------------------------------------------
    def apply_direct(self, changes: list[WinnerChange], version: int,
                     winners: Mapping[Any, Entry]) -> None:
        """A direct read: the winner changes since the previous read, and all winners."""
        if self.source != DIRECT:
            return  # switched back to the proxy meanwhile
        if self._direct_first:
            self._direct_first = False
            self._apply_values({k: (e.value, e.version) for k, e in winners.items()}, version)
        else:
            self._apply_changes(changes, version)
        self.loaded = True

    def apply_update(self, update: m.Update, generation: int) -> None:
        """One State API update (possibly one batch of a longer snapshot or diff)."""
        if self.source != PROXY or generation != self.generation:
            return  # reading ZooKeeper, or from a subscription since replaced
        if update.type == m.UpdateType.SNAPSHOT:
            self._apply_snapshot_batch(update)
            return
        if update.begin:
            # A relative update at or below our version was already applied.
            self._dropping = self.loaded and update.current_version <= self.version
        if self._dropping:
            return
        self._apply_entries(self._decode(update.entries), update.current_version)
        self.updates_applied += 1
        if update.end:
            self.loaded = True

    def _apply_snapshot_batch(self, update: m.Update) -> None:
        if update.begin:
            self._snapshot = {}
        if self._snapshot is None:
            return  # tail of a snapshot we did not see begin
        for key, value, entry_version in self._decode(update.entries):
            if value is not None:
                self._snapshot[key] = (value, entry_version)
        if update.end:
            values, self._snapshot = self._snapshot, None
            self._apply_values(values, update.current_version)
            self.updates_applied += 1
            self.loaded = True

    def _decode(self, entries: tuple[m.Entry, ...]) -> list[tuple[Any, Any, int]]:
        out = []
        for e in entries:
            try:
                key = e.key.to(self.spec.key)
                value = None if e.value is None else e.value.to(self.spec.value)
            except EncodingError as err:
                LOG.warning("table %s/%s: undecodable entry %r: %s", self.spec.name,
                            self.object_id, e, err)
                continue
            out.append((key, value, e.version))
        return out
