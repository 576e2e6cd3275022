"""The conflict rule: which entry of a key wins, and the winner changes an update causes.

For one key the winner is the learned entry with the highest version; a
persistent entry only wins when no learned entry exists. Pure (no I/O), so the
direct reader, the State Proxy cache and the proxy client resolve conflicts alike.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any, Generic

from midonet_ryu.nsdb.state_catalogue import K, TableSpec, V
from midonet_ryu.nsdb.state_codecs import EncodingError
from midonet_ryu.nsdb.state_node_names import Entry, decode_name

Change = tuple[Any, Any, Any]
"""``(key, old_value, new_value)``; ``None`` for old means added, for new means removed."""


@dataclasses.dataclass(frozen=True)
class WinnerChange(Generic[K, V]):
    """The winning entry of ``key`` went from ``old`` to ``new`` (either may be None)."""

    key: K
    old: Entry[K, V] | None
    new: Entry[K, V] | None

    def as_value_change(self) -> Change | None:
        """The change as readers of values see it; None when only the version moved."""
        old = self.old.value if self.old else None
        new = self.new.value if self.new else None
        return None if old == new else (self.key, old, new)


def value_changes(changes: Iterable[WinnerChange]) -> list[Change]:
    out = []
    for change in changes:
        vc = change.as_value_change()
        if vc is not None:
            out.append(vc)
    return out


class TableState(Generic[K, V]):
    """All entries of one table, and the winner of each key under the conflict rule.

    Fed either whole child lists (``replace``) or single creates/deletes
    (``add``/``discard``); each returns the winner changes it caused.
    Not thread-safe: one owner applies updates.
    """

    def __init__(self, spec: TableSpec[K, V]) -> None:
        self.spec = spec
        self._names: dict[str, Entry[K, V]] = {}
        self._by_key: dict[K, dict[str, Entry[K, V]]] = {}
        self.winners: dict[K, Entry[K, V]] = {}
        self.bad_names = 0

    def __len__(self) -> int:
        return len(self.winners)

    def __contains__(self, name: object) -> bool:
        return name in self._names

    def entries(self) -> Iterable[Entry[K, V]]:
        return self._names.values()

    def _recompute(self, key: K) -> WinnerChange[K, V] | None:
        old = self.winners.get(key)
        group = self._by_key.get(key)
        new = max(group.values(), key=lambda e: e.rank) if group else None
        if new is None:
            self.winners.pop(key, None)
        else:
            self.winners[key] = new
        if old is new:
            return None
        return WinnerChange(key, old, new)

    def add(self, name: str) -> WinnerChange[K, V] | None:
        """Account for a created entry; None when the winner did not change."""
        if name in self._names:
            return None
        try:
            entry = decode_name(self.spec, name)
        except EncodingError:
            self.bad_names += 1
            return None
        self._names[name] = entry
        self._by_key.setdefault(entry.key, {})[name] = entry
        return self._recompute(entry.key)

    def discard(self, name: str) -> WinnerChange[K, V] | None:
        """Account for a deleted entry; None when the winner did not change."""
        entry = self._names.pop(name, None)
        if entry is None:
            return None
        group = self._by_key[entry.key]
        del group[name]
        if not group:
            del self._by_key[entry.key]
        return self._recompute(entry.key)

    def replace(self, names: Iterable[str]) -> list[WinnerChange[K, V]]:
        """Make the entries exactly ``names``; one change per key whose winner moved."""
        wanted = set(names)
        changes: list[WinnerChange[K, V]] = []
        for name in [n for n in self._names if n not in wanted]:
            change = self.discard(name)
            if change:
                changes.append(change)
        for name in wanted:
            if name not in self._names:
                change = self.add(name)
                if change:
                    changes.append(change)
        return squash(changes)


def squash(changes: Iterable[WinnerChange]) -> list[WinnerChange]:
    """One change per key (first old, last new), dropping keys that ended where they began."""
    merged: dict[Any, WinnerChange] = {}
    for change in changes:
        first = merged.get(change.key)
        merged[change.key] = change if first is None else WinnerChange(
            change.key, first.old, change.new)
    return [c for c in merged.values() if c.old is not c.new]
