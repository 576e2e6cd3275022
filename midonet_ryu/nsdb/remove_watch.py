"""Take back a data watch from ZooKeeper (3.5+ ``removeWatches``) on kazoo 2.11.

Why: an agent that drops a device it no longer uses must also drop the
server's watches on it, or ZooKeeper's watch count grows with everything
the agent ever reached instead of what it reaches now. A one-shot watch
left behind also stays in kazoo's own table, which re-registers it with
every reconnection. kazoo has no call for it; this module adds the request
class (opcode 18) and forgets the watcher on kazoo's side, confined here.
"""
from __future__ import annotations

import collections
import logging
from collections.abc import Callable
from typing import Any

from kazoo.client import KazooClient
from kazoo.protocol.serialization import int_struct, write_string

from midonet_ryu.nsdb.multi_read import _prefixed

LOG = logging.getLogger(__name__)

REMOVE_WATCHES_OPCODE = 18
WATCHER_TYPE_DATA = 2  # data and exists watches


class RemoveWatches(collections.namedtuple("RemoveWatches", "path watcher_type")):
    """``removeWatches`` request: path, then an int watcher type. Empty reply."""

    type = REMOVE_WATCHES_OPCODE

    def serialize(self) -> bytearray:
        b = bytearray()
        b.extend(write_string(self.path))
        b.extend(int_struct.pack(self.watcher_type))
        return b

    @classmethod
    def deserialize(cls, bytes: Any, offset: int) -> bool:  # noqa: A002 - kazoo's signature
        return True


def remove_data_watch(client: KazooClient, path: str, watcher: Callable[..., Any]) -> bool:
    """Forget ``watcher`` on ``path``; when no other watcher of this client
    is left there, ask the server to drop its data watch too. Returns
    whether a request was sent (its answer is not waited for: a watch that
    fired meanwhile makes the server answer NoWatcher, which is fine)."""
    path = _prefixed(client, path)
    watchers = client._data_watchers.get(path)
    if watchers is None:
        return False
    watchers.discard(watcher)
    if watchers:
        return False
    client._data_watchers.pop(path, None)
    if not client.connected:
        return False  # the server side goes with the connection or session
    result = client.handler.async_result()
    result.rawlink(_ignore_answer)
    client._call(RemoveWatches(path, WATCHER_TYPE_DATA), result)
    return True


def _ignore_answer(result: Any) -> None:
    try:
        result.get_nowait()
    except Exception as e:  # noqa: BLE001 - NoWatcher, connection loss: nothing to do
        LOG.debug("removeWatches answered %r", e)
