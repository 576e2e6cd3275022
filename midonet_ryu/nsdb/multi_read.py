"""Many znodes read in one round trip: ZooKeeper's multiRead (3.6 and later).

kazoo has no call for it, and its pipelined ``get_async`` costs a wake-up of
the connection thread per request: about 300 µs each, three seconds for ten
thousand ports, which is what listing every port through the REST API needs.
ZooKeeper has served ``multiRead`` (opcode 22) since 3.6: one request of
``getData`` operations, one response with each node's data and stat or its
own error (a missing node does not fail the others). This module adds that
request to kazoo's protocol, sent through kazoo's own request queue.

Responses must fit ZooKeeper's ``jute.maxbuffer`` (1 MiB by default), so
reads go in chunks of :data:`CHUNK` paths.
"""
from __future__ import annotations

from collections import namedtuple
from typing import Any

from kazoo.client import KazooClient
from kazoo.exceptions import EXCEPTIONS
from kazoo.protocol.serialization import (
    GetData,
    MultiHeader,
    ZnodeStat,
    bool_struct,
    int_struct,
    multiheader_struct,
    read_buffer,
    stat_struct,
    write_string,
)
from kazoo.protocol.states import ZnodeStat as Stat

CHUNK = 500
"""Paths per request: a port's znode is about 500 bytes, far below 1 MiB."""

Result = tuple[bytes, Stat] | Exception


class MultiRead(namedtuple("MultiRead", "paths")):
    """The request: ``getData`` of each path, unwatched."""

    type = 22

    def serialize(self) -> bytearray:
        b = bytearray()
        for path in self.paths:
            b.extend(MultiHeader(GetData.type, False, -1).serialize())
            b.extend(write_string(path))
            b.extend(bool_struct.pack(False))
        b.extend(multiheader_struct.pack(-1, True, -1))
        return b

    @classmethod
    def deserialize(cls, data: bytes, offset: int) -> list[Result]:
        results: list[Result] = []
        header, offset = MultiHeader.deserialize(data, offset)
        while not header.done:
            if header.type == GetData.type:
                value, offset = read_buffer(data, offset)
                stat = ZnodeStat._make(stat_struct.unpack_from(data, offset))
                offset += stat_struct.size
                results.append((value or b"", stat))
            elif header.type == -1:
                err = int_struct.unpack_from(data, offset)[0]
                offset += int_struct.size
                results.append(EXCEPTIONS[err]())
            else:
                raise ValueError(f"multiRead: unexpected result type {header.type}")
            header, offset = MultiHeader.deserialize(data, offset)
        return results


def multi_read(client: KazooClient, paths: list[str]) -> list[Result]:
    """``(data, stat)`` or the exception (``NoNodeError``...) of each path, in order."""
    out: list[Result] = []
    pending: list[Any] = []
    for start in range(0, len(paths), CHUNK):
        chunk = [_prefixed(client, p) for p in paths[start:start + CHUNK]]
        result = client.handler.async_result()
        client._call(MultiRead(chunk), result)  # kazoo's own queue: ordered, retried xids
        pending.append(result)
    for result in pending:
        out.extend(result.get())
    return out


def _prefixed(client: KazooClient, path: str) -> str:
    chroot = getattr(client, "chroot", "") or ""
    return chroot + path if chroot else path
