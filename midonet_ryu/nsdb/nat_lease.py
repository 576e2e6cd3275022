"""SNAT port blocks leased through ZooKeeper, as MidoNet does (docs/nat-leasing.md).

Dynamic SNAT must never give the same (ip, port) to two flows, even when
they start on different hosts. Ports are therefore leased in blocks of 64:
the block ``b`` of address ``ip`` on device ``d`` is the znode
``<root>/nat/<d>/<ip>/<b>``, and it is *taken* while its ephemeral child
``taken`` exists. The child dies with the session of the agent that created
it, so a crashed agent's blocks come back by themselves.

Choosing a block: never-used blocks first, then the free block whose node
changed least recently (smallest ``pzxid``, the zxid of the last change to
its children, i.e. of its last release), so a block just released by
another host is not reused at once while replies may still be in flight.

The engine never calls this: it reports ``SnatBlockRequest`` in a result;
the agent calls :meth:`NatLeaser.lease_many` (outside the simulation thread) and
feeds the blocks into the state view the engine reads.
"""
from __future__ import annotations

import itertools
import logging
import uuid
from typing import Any

from kazoo.client import KazooClient
from kazoo.exceptions import (
    ConnectionLoss,
    NodeExistsError,
    NoNodeError,
    NotEmptyError,
    OperationTimeoutError,
    SessionExpiredError,
)

from midonet_ryu.nsdb.paths import Paths

LOG = logging.getLogger(__name__)
BLOCK_SIZE = 64
TAKEN = "taken"


def blocks_for(port_start: int, port_end: int) -> range:
    """Block numbers overlapping ``[port_start, port_end]``."""
    if not 0 <= port_start <= port_end <= 65535:
        raise ValueError(f"bad port range {port_start}-{port_end}")
    return range(port_start // BLOCK_SIZE, port_end // BLOCK_SIZE + 1)


class NatLeaser:
    """Leases and releases SNAT port blocks for one agent (one ZooKeeper session).

    ``owner`` (the host id) is written into each ``taken`` node, so the same
    host restarted with a new session can tell its own leftovers from
    another host's leases and take them over (:meth:`adopt`).
    """

    def __init__(self, client: KazooClient, paths: Paths, owner: uuid.UUID | None = None) -> None:
        self.client = client
        self.paths = paths
        self.owner = str(owner).encode() if owner is not None else b""
        self.held: set[tuple[uuid.UUID, str, int]] = set()

    def _ip_path(self, device_id: uuid.UUID, ip: str) -> str:
        return self.paths.nat_lease(device_id, ip, 0).rsplit("/", 1)[0]

    def lease(self, device_id: uuid.UUID, ip: str, port_start: int = 1024,
              port_end: int = 65535) -> int | None:
        """Take a free block in the range; None when every block is taken."""
        blocks = self.lease_many(device_id, ip, port_start, port_end, 1)
        return blocks[0] if blocks else None

    def lease_many(self, device_id: uuid.UUID, ip: str, port_start: int = 1024,
                   port_end: int = 65535, count: int = 1) -> list[int]:
        """Take up to ``count`` free blocks in the range, from one look at
        which are free (a burst of connections asks for many at once). The
        creates are pipelined: one round trip for the whole wave, and
        another wave only for the blocks other agents took meanwhile."""
        base = self._ip_path(device_id, ip)
        self.client.retry(self.client.ensure_path, base)
        candidates = iter(self._candidates(base, blocks_for(port_start, port_end)))
        got: list[int] = []
        while len(got) < count:
            wave = list(itertools.islice(candidates, count - len(got)))
            if not wave:
                break
            paths = [(block, f"{base}/{block}/{TAKEN}") for block in wave]
            pending = [(block, path, self.client.create_async(path, self.owner, ephemeral=True,
                                                              makepath=True))
                       for block, path in paths]
            for block, path, result in pending:
                if self._taken(result, path):
                    self.held.add((device_id, ip, block))
                    got.append(block)
        LOG.debug("leased SNAT blocks %s of %s on %s", got, ip, device_id)
        return got

    def _taken(self, result: Any, path: str) -> bool:
        """Whether this agent now holds ``path``'s block. A create whose answer
        was lost with the connection is tried again; finding the node then,
        the owner written in it says whether that create was ours."""
        try:
            result.get()
            return True
        except NodeExistsError:
            return False  # another agent was faster; the next wave tries another
        except (ConnectionLoss, SessionExpiredError, OperationTimeoutError):
            pass
        try:
            self.client.retry(self.client.create, path, self.owner, ephemeral=True,
                              makepath=True)
            return True
        except NodeExistsError:
            data, stat = self.client.retry(self.client.get, path)
            return bool(data == self.owner and stat.ephemeralOwner == self.client.client_id[0])

    def _candidates(self, base: str, wanted: range) -> list[int]:
        """Free blocks, never-used first, then least recently released."""
        existing = {int(c) for c in self.client.retry(self.client.get_children, base)
                    if c.isdigit()}
        fresh = [b for b in wanted if b not in existing]
        used = [b for b in wanted if b in existing]
        requests: list[tuple[int, Any]] = [
            (b, self.client.exists_async(f"{base}/{b}")) for b in used
        ]
        free: list[tuple[int, int]] = []
        for block, async_result in requests:
            stat = async_result.get()
            if stat is not None and stat.numChildren == 0:
                free.append((stat.pzxid, block))
        free.sort()
        return fresh + [b for _pzxid, b in free]

    def release(self, device_id: uuid.UUID, ip: str, block: int) -> None:
        """Give a block back (its flows have expired). The block node stays, so its
        ``pzxid`` records when it was released."""
        path = f"{self._ip_path(device_id, ip)}/{block}/{TAKEN}"
        try:
            data, stat = self.client.retry(self.client.get, path)
            if stat.ephemeralOwner == self.client.client_id[0]:
                self.client.retry(self.client.delete, path, version=stat.version)
        except (NoNodeError, NotEmptyError):
            pass
        self.held.discard((device_id, ip, block))

    def release_all(self) -> None:
        for device_id, ip, block in list(self.held):
            self.release(device_id, ip, block)

    def adopt(self, blocks: list[tuple[uuid.UUID, str, int]]) -> list[tuple[uuid.UUID, str, int]]:
        """After a restart: take back the blocks this host held before (from
        its flow-state file). A block still held by this host's previous
        session is taken over; one another host leased meanwhile is not.
        Returns the blocks that could not be had."""
        lost = []
        for device_id, ip, block in blocks:
            path = f"{self._ip_path(device_id, ip)}/{block}/{TAKEN}"
            if self._take_over(path):
                self.held.add((device_id, ip, block))
            else:
                lost.append((device_id, ip, block))
        return lost

    def _take_over(self, path: str) -> bool:
        for _attempt in range(3):
            try:
                self.client.retry(self.client.create, path, self.owner, ephemeral=True,
                                  makepath=True)
                return True
            except NodeExistsError:
                pass
            try:
                data, stat = self.client.retry(self.client.get, path)
            except NoNodeError:
                continue  # the old session just expired: create it again
            if stat.ephemeralOwner == self.client.client_id[0]:
                return True
            if not self.owner or data != self.owner:
                return False  # another host's
            try:
                self.client.retry(self.client.delete, path, version=stat.version)
            except NoNodeError:
                pass
        return False

    def restore(self) -> int:
        """After a session loss: take again the blocks this agent held (their
        ephemeral nodes died with the old session). Returns how many it got back."""
        regained = 0
        for device_id, ip, block in list(self.held):
            path = f"{self._ip_path(device_id, ip)}/{block}/{TAKEN}"
            try:
                self.client.retry(self.client.create, path, self.owner, ephemeral=True,
                                  makepath=True)
                regained += 1
            except NodeExistsError:
                data, stat = self.client.get(path)
                if stat.ephemeralOwner == self.client.client_id[0]:
                    regained += 1
                else:
                    self.held.discard((device_id, ip, block))  # someone else has it now
        return regained
