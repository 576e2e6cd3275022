"""When the agent leases SNAT port blocks, and how many at once.

A connection through SNAT takes a port of a block this host leased in the
NSDB (64 ports per block). A lease is a ZooKeeper round trip done by the
agent's worker, so a burst of new connections can use up the leased ports
faster than one block at a time comes back: the packets that find none
wait for the lease (held, at most a block's worth each) and the rest are
dropped. So leases follow demand: the FWD_SNAT keys simulations make are
counted per (device, address) with an exponential decay (a quarter of a
second: a burst shows within a tenth), a lease is asked for once the free
ports would last less than ``LEAD_S`` at that rate (or half a block,
whichever is more), and it asks for enough blocks to double that margin, up
to ``MAX_BLOCKS_PER_LEASE``.
A steady trickle of connections leases one block when half of one is left,
as before; a burst leases many in one request.

Pure: time comes in as ``now``; the shell performs the requests and reports
them with :meth:`SnatLeases.leased`.
"""
from __future__ import annotations

import collections
import math
import uuid
from collections.abc import Sequence

from midonet_ryu.datapath import ofwire as of
from midonet_ryu.simulation.result import SimulationResult, SnatBlockRequest
from midonet_ryu.simulation.state import SNAT_BLOCK_SIZE, InMemoryState, NatKey, NatKeyType

LEASE_TIMEOUT = 10.0  # seconds before an unanswered SNAT lease is asked for again
LEAD_S = 0.5  # free ports should last this long at the current rate of new ones
RATE_TAU_S = 0.25  # the demand estimate's time constant: a burst shows within 0.1 s
MAX_BLOCKS_PER_LEASE = 16
MAX_HELD_PER_BLOCK = SNAT_BLOCK_SIZE
MAX_HELD = 4096
"""Packets held while the SNAT blocks they need are leased: per block asked
for (one block serves no more), and in all."""

Where = tuple[uuid.UUID, int]  # (device, translated address)


class SnatLeases:
    def __init__(self, local: InMemoryState) -> None:
        self.local = local
        self._pending: dict[Where, tuple[float, int]] = {}  # asked at, blocks asked for
        self._ranges: dict[Where, SnatBlockRequest] = {}
        self._demand: dict[Where, tuple[float, float]] = {}  # decayed count, as of
        self._held: dict[Where, collections.deque[of.PacketIn]] = {}
        self.held_total = 0
        self.unanswered = 0  # leases asked for again after LEASE_TIMEOUT

    # -- what to ask for --------------------------------------------------------
    def requests(self, result: SimulationResult, now: float) -> list[SnatBlockRequest]:
        """The leases to ask for after ``result``: the blocks the engine ran
        out of, and those demand says will be needed soon."""
        out = []
        for request in result.snat_requests:
            where = (request.device_id, request.ip)
            self._ranges[where] = request
            if not self._is_pending(where, now):
                out.append(self._ask(where, request, max(1, self._wanted(where, now)), now))
        for key, value in result.state_keys:
            if type(key) is not NatKey or key.type is not NatKeyType.FWD_SNAT:
                continue
            where = (key.device_id, value.ip)
            self._note_demand(where, now)
            known = self._ranges.get(where)
            if known is None or self._is_pending(where, now):
                continue
            count = self._wanted(where, now)
            if count:
                out.append(self._ask(where, known, count, now))
        return out

    def _ask(self, where: Where, request: SnatBlockRequest, count: int,
             now: float) -> SnatBlockRequest:
        self._pending[where] = (now, count)
        return request._replace(wanted=count)

    def _is_pending(self, where: Where, now: float) -> bool:
        """A lease for ``where`` is under way. One unanswered for LEASE_TIMEOUT
        (its work item lost, say) is asked again rather than block SNAT on
        that address for good."""
        pending = self._pending.get(where)
        if pending is None:
            return False
        if now - pending[0] < LEASE_TIMEOUT:
            return True
        self.unanswered += 1
        return False

    def _decayed(self, where: Where, now: float) -> float:
        """The new SNAT ports on ``where``, each weighed by how recent it is."""
        count, at = self._demand.get(where, (0.0, now))
        return count * math.exp(-max(0.0, now - at) / RATE_TAU_S)

    def _note_demand(self, where: Where, now: float) -> None:
        self._demand[where] = (self._decayed(where, now) + 1.0, now)

    def rate(self, where: Where, now: float) -> float:
        """New SNAT ports a second on ``where``, lately."""
        return self._decayed(where, now) / RATE_TAU_S

    def _wanted(self, where: Where, now: float) -> int:
        """Blocks to lease now (0: the free ports are enough)."""
        leased = len(self.local.snat_blocks(*where)) * SNAT_BLOCK_SIZE
        free = leased - len(self.local.snat_ports_in_use(*where))
        margin = max(SNAT_BLOCK_SIZE / 2, self.rate(where, now) * LEAD_S)
        if free > margin:
            return 0
        return min(MAX_BLOCKS_PER_LEASE, max(1, math.ceil((2 * margin - free) / SNAT_BLOCK_SIZE)))

    # -- packets that wait ------------------------------------------------------
    def hold(self, pin: of.PacketIn, request: SnatBlockRequest) -> bool:
        """Keep ``pin`` until the lease it needs is done; False: no room (drop it)."""
        where = (request.device_id, request.ip)
        held = self._held.setdefault(where, collections.deque())
        asked = self._pending.get(where, (0.0, 1))[1]
        if len(held) >= MAX_HELD_PER_BLOCK * asked or self.held_total >= MAX_HELD:
            return False
        held.append(pin)
        self.held_total += 1
        return True

    def leased(self, request: SnatBlockRequest,
               blocks: Sequence[int]) -> collections.deque[of.PacketIn]:
        """The shell leased ``blocks`` (maybe fewer than asked, maybe none):
        they go into the local state; the packets held meanwhile come back,
        in arrival order, to be simulated again (or dropped when none came)."""
        where = (request.device_id, request.ip)
        self._pending.pop(where, None)
        for block in blocks:
            self.local.lease_snat_block(request.device_id, request.ip, block)
        held = self._held.pop(where, collections.deque())
        self.held_total -= len(held)
        return held
