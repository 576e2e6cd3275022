"""Entry znode names: ``<key>,<value>,<%010d version>``, MidoNet's state table layout.

Each entry of a table is a child znode with no data, so a reader gets the whole
table from one ``get_children``. Learned entries are ephemeral-sequential (the
sequence number is the version, and the entry dies with its writer's session);
persistent entries carry version ``2147483647``. Pure: no I/O.
"""
from __future__ import annotations

import dataclasses
from typing import Generic

from midonet_ryu.nsdb.state_catalogue import K, TableSpec, V
from midonet_ryu.nsdb.state_codecs import EncodingError

PERSISTENT_VERSION = 2147483647
"""Version of entries that outlive their writer (Java's Int.MaxValue)."""


@dataclasses.dataclass(frozen=True, order=True)
class Entry(Generic[K, V]):
    """One decoded table entry; ``name`` is the znode name it came from."""

    key: K
    value: V
    version: int
    name: str

    @property
    def learned(self) -> bool:
        return self.version != PERSISTENT_VERSION

    @property
    def rank(self) -> tuple[bool, int, str]:
        """Sort key of the conflict rule: learned first, then version, then the name
        (a deterministic tie-break between two persistent values of one key)."""
        return (self.learned, self.version, self.name)


def encode_name(spec: TableSpec[K, V], key: K, value: V, version: int | None = None) -> str:
    """The znode name of an entry; ``version=None`` gives the ephemeral-sequential prefix."""
    prefix = f"{spec.key.to_text(key)},{spec.value.to_text(value)},"
    if version is None:
        return prefix
    if not 0 <= version <= PERSISTENT_VERSION:
        raise EncodingError(f"version out of range: {version}")
    return f"{prefix}{version:010d}"


def decode_name(spec: TableSpec[K, V], name: str) -> Entry[K, V]:
    """Parse ``<key>,<value>,<version>``; EncodingError for anything else."""
    head, sep, version = name.rpartition(",")
    key_text, sep2, value_text = head.partition(",")
    if not sep or not sep2 or len(version) != 10 or not version.isdigit():
        raise EncodingError(f"not a state table entry: {name!r}")
    return Entry(spec.key.from_text(key_text), spec.value.from_text(value_text),
                 int(version), name)
