"""What readers of a state table see, whichever source feeds it: values, version, callbacks.

Pure (no I/O): a source (the direct ZooKeeper reader, or the State Proxy) hands
it winner changes, whole contents or decoded entries, and the view turns them
into the values readers see and callbacks for the values that really changed.
That is how a table can change source without readers noticing.
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Generic

from midonet_ryu.nsdb.state_catalogue import K, TableSpec, V
from midonet_ryu.nsdb.state_winners import WinnerChange

LOG = logging.getLogger(__name__)

ChangeCallback = Callable[[Any, Any, Any], None]
"""``callback(key, old_value, new_value)``: old None = added, new None = removed.

Callbacks run on the thread that applies updates (a kazoo watch thread or a
State Proxy client thread). They must return quickly and never block: queue
work (flow invalidation) elsewhere. Exceptions are logged and swallowed.
"""


class StateTableView(Mapping, Generic[K, V]):
    """The winning value of each key, its version, and change callbacks.

    Updates are applied by a single owner (a reader) through
    :meth:`_apply_changes`/:meth:`_apply_snapshot`; readers on other threads
    see each key's value atomically (plain dict operations under the GIL).
    """

    def __init__(self, spec: TableSpec[K, V], object_id: uuid.UUID,
                 args: tuple[str, ...] = ()) -> None:
        self.spec = spec
        self.object_id = object_id
        self.args = tuple(args)
        self._values: dict[K, V] = {}
        self._versions: dict[K, int] = {}
        self._callbacks: list[ChangeCallback] = []
        self.version = 0
        """The table version last applied: the table node's ``cversion`` (0: no table)."""

    # A table is an object with an identity (it is kept in sets and dicts), not a
    # value: compare contents with ``dict(table) == ...``.
    __hash__ = object.__hash__

    def __eq__(self, other: object) -> bool:
        return self is other

    # Mapping interface: no I/O.
    def __getitem__(self, key: K) -> V:
        return self._values[key]

    def __iter__(self) -> Iterator[K]:
        return iter(list(self._values))

    def __len__(self) -> int:
        return len(self._values)

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def get(self, key: Any, default: Any = None) -> Any:
        return self._values.get(key, default)

    def snapshot(self) -> dict[K, V]:
        """A consistent copy of the table (O(size)); ``self`` itself is the live view."""
        return dict(self._values)

    def entry_version(self, key: K) -> int | None:
        """Version of the winning entry of ``key`` (None when absent)."""
        return self._versions.get(key)

    def add_callback(self, callback: ChangeCallback) -> Callable[[], None]:
        """Call ``callback(key, old, new)`` on every change; returns a remover."""
        self._callbacks.append(callback)

        def remove() -> None:
            if callback in self._callbacks:
                self._callbacks.remove(callback)

        return remove

    def _notify(self, key: Any, old: Any, new: Any) -> None:
        for callback in list(self._callbacks):
            try:
                callback(key, old, new)
            except Exception:  # noqa: BLE001 - a listener's bug must not stop updates
                LOG.exception("state table %s/%s callback failed", self.spec.name,
                              self.object_id)

    def _apply_changes(self, changes: list[WinnerChange], version: int) -> None:
        """Apply winner changes, then fire callbacks for values that really changed."""
        fired = []
        for change in changes:
            if change.new is None:
                old = self._values.pop(change.key, None)
                self._versions.pop(change.key, None)
                new = None
            else:
                old = self._values.get(change.key)
                self._values[change.key] = change.new.value
                self._versions[change.key] = change.new.version
                new = change.new.value
            if old != new:
                fired.append((change.key, old, new))
        if version > self.version:
            self.version = version
        for key, old, new in fired:
            self._notify(key, old, new)
        for change in changes:
            self._on_winner(change.key, change.new.version if change.new else None)

    def _apply_values(self, values: dict[K, tuple[V, int]], version: int) -> None:
        """Replace everything with ``values`` (key -> (value, entry version))."""
        fired = []
        for key in [k for k in self._values if k not in values]:
            fired.append((key, self._values.pop(key), None))
            self._versions.pop(key, None)
        for key, (value, entry_version) in values.items():
            old = self._values.get(key)
            self._values[key] = value
            self._versions[key] = entry_version
            if old != value:
                fired.append((key, old, value))
        self.version = version
        for key, old, new in fired:
            self._notify(key, old, new)
        for key, (_, entry_version) in values.items():
            self._on_winner(key, entry_version)

    def _apply_entries(self, entries: list[tuple[Any, Any, int]], version: int) -> None:
        """Apply ``(key, value or None for a removal, entry version)`` in order."""
        fired = []
        for key, value, entry_version in entries:
            old = self._values.get(key)
            if value is None:
                self._values.pop(key, None)
                self._versions.pop(key, None)
            else:
                self._values[key] = value
                self._versions[key] = entry_version
            if old != value:
                fired.append((key, old, value))
        self.version = version
        for key, old, new in fired:
            self._notify(key, old, new)
        for key, value, entry_version in entries:
            self._on_winner(key, entry_version if value is not None else None)

    def _on_winner(self, key: Any, winner_version: int | None) -> None:
        """Hook for writers: the winning entry of ``key`` is now ``winner_version``."""
