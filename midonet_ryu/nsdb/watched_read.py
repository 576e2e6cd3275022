"""Many znodes read and watched in two requests, whatever their number.

Why: kazoo's pipelined ``get_async`` costs a wake-up of its connection
thread per request, about 0.6 ms each under eventlet here: a thousand rules
of a chain took 0.6 s to load idle, and seconds on an agent busy with
packets. ZooKeeper has the two pieces to do better: ``multiRead`` (3.6+,
:mod:`~midonet_ryu.nsdb.multi_read`) reads them all in one round trip, and
``setWatches`` (opcode 101, what a client sends on reconnection) sets a data
watch on each path, firing at once for any node changed since the zxid the
read saw. So nothing changed between the read and the watch goes unnoticed.

kazoo has no ``setWatches`` call: this module adds the request class, and
puts the watchers in kazoo's own table so its event reader dispatches them.
"""
from __future__ import annotations

import collections
import struct
from collections.abc import Callable, Sequence
from typing import Any

from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError
from kazoo.protocol.serialization import int_struct, write_string

from midonet_ryu.nsdb.multi_read import CHUNK, MultiRead, Result, _prefixed

SET_WATCHES_OPCODE = 101
_LONG = struct.Struct(">q")


class SetWatches(collections.namedtuple("SetWatches", "relative_zxid data exist child")):
    """``setWatches``: watch these paths' data (and these for their creation),
    firing at once for any change after ``relative_zxid``. Empty reply."""

    type = SET_WATCHES_OPCODE

    def serialize(self) -> bytearray:
        b = bytearray(_LONG.pack(self.relative_zxid))
        for paths in (self.data, self.exist, self.child):
            b.extend(int_struct.pack(len(paths)))
            for path in paths:
                b.extend(write_string(path))
        return b

    @classmethod
    def deserialize(cls, bytes: Any, offset: int) -> bool:  # noqa: A002 - kazoo's signature
        return True


class _ZxidMultiRead(MultiRead):
    """A multiRead that keeps the zxid its answer carried (kazoo records a
    reply's zxid just before it deserializes the reply, on its reader)."""

    def deserialize(self, data: bytes, offset: int) -> list[Result]:  # type: ignore[override]
        self.zxid = self.client.last_zxid  # type: ignore[attr-defined]
        return super().deserialize(data, offset)


Answer = Callable[[list[str], list[Result] | Exception], None]


def read_and_watch(client: KazooClient, paths: Sequence[str],
                   watcher_of: Callable[[str], Callable[[Any], None]],
                   answer: Answer) -> None:
    """Read ``paths`` (in chunks of :data:`CHUNK`) and watch each: a present
    node's data, an absent one's creation. ``answer`` gets, per chunk, its
    paths and each one's ``(data, stat)`` or exception in order, or the
    exception that failed the whole chunk (also when its watches could not
    be set: read those again). It runs in kazoo's callback thread."""
    for start in range(0, len(paths), CHUNK):
        chunk = list(paths[start:start + CHUNK])
        request = _ZxidMultiRead([_prefixed(client, p) for p in chunk])
        request.client = client  # type: ignore[attr-defined]
        result = client.handler.async_result()
        result.rawlink(lambda r, chunk=chunk, request=request: _read(
            client, chunk, request, r, watcher_of, answer))
        client._call(request, result)


def _read(client: KazooClient, chunk: list[str], request: _ZxidMultiRead, result: Any,
          watcher_of: Callable[[str], Callable[[Any], None]], answer: Answer) -> None:
    try:
        results = result.get_nowait()
    except Exception as e:  # noqa: BLE001 - the caller reads again later
        answer(chunk, e)
        return
    data: list[str] = []
    exist: list[str] = []
    for path, res in zip(chunk, results, strict=True):
        full = _prefixed(client, path)
        if isinstance(res, Exception) and not isinstance(res, NoNodeError):
            continue  # read again by the caller: no watch now
        client._data_watchers[full].add(watcher_of(path))
        (exist if isinstance(res, Exception) else data).append(full)
    if data or exist:
        watched = client.handler.async_result()
        watched.rawlink(lambda r: _watched(r, chunk, answer))
        client._call(SetWatches(getattr(request, "zxid", 0), data, exist, []), watched)
    answer(chunk, results)


def _watched(result: Any, chunk: list[str], answer: Answer) -> None:
    try:
        result.get_nowait()
    except Exception as e:  # noqa: BLE001 - the watches are not set: read again
        answer(chunk, e)

