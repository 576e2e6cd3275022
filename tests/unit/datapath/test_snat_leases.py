"""SNAT leases follow demand: a trickle of connections leases one block at a
time when half a block is left, a burst leases many in one request, and the
packets that wait for a lease are bounded by what it will bring."""
from __future__ import annotations

import uuid
from types import SimpleNamespace

from midonet_ryu.datapath import ofwire as of
from midonet_ryu.datapath.snat_leases import MAX_BLOCKS_PER_LEASE, MAX_HELD_PER_BLOCK, SnatLeases
from midonet_ryu.simulation.result import SnatBlockRequest
from midonet_ryu.simulation.state import (
    SNAT_BLOCK_SIZE,
    InMemoryState,
    NatBinding,
    NatKey,
    NatKeyType,
)

DEV = uuid.UUID(int=7)
IP = 0xC6336401  # 198.51.100.1
REQUEST = SnatBlockRequest(DEV, IP, 1024, 65535)
FIRST = 1024 // SNAT_BLOCK_SIZE


class Host:
    """The local state, and simulations that each take the next SNAT port."""

    def __init__(self) -> None:
        self.state = InMemoryState()
        self.leases = SnatLeases(self.state)
        self.next_port = 1024
        self.asked: list[SnatBlockRequest] = []

    def start(self) -> None:
        """The first connection found no block: the engine asked for one."""
        self.asked += self.leases.requests(SimpleNamespace(snat_requests=(REQUEST,),
                                                           state_keys=()), 0.0)

    def connection(self, now: float) -> list[SnatBlockRequest]:
        port = self.next_port
        self.next_port += 1
        key = NatKey(NatKeyType.FWD_SNAT, 0x0A000001, port, 0x08080808, 80, 6, DEV)
        value = NatBinding(IP, port)
        self.state.put_key(key, value, now)
        got = self.leases.requests(SimpleNamespace(snat_requests=(), state_keys=((key, value),)),
                                   now)
        self.asked += got
        return got

    def lease(self, request: SnatBlockRequest) -> None:
        have = len(self.state.snat_blocks(DEV, IP))
        self.leases.leased(request, range(FIRST + have, FIRST + have + request.wanted))


def test_a_trickle_leases_one_block_when_half_of_one_is_left():
    h = Host()
    h.start()
    h.lease(h.asked.pop())
    got = [h.connection(i * 1.0) for i in range(40)]  # one connection a second
    asked_at = [i for i, g in enumerate(got) if g]
    assert asked_at == [31]  # the 32nd port leaves 32 free
    assert got[31][0].wanted == 1


def test_a_burst_leases_many_blocks_in_one_request():
    h = Host()
    h.start()
    h.lease(h.asked.pop())
    for i in range(1000):  # 2,000 new connections a second for half a second
        for request in h.connection(i / 2000):
            h.lease(request)
    counts = [r.wanted for r in h.asked]
    assert max(counts) > 4 and max(counts) <= MAX_BLOCKS_PER_LEASE
    # never ran dry: the leased ports stayed ahead of the ones in use
    leased = len(h.state.snat_blocks(DEV, IP)) * SNAT_BLOCK_SIZE
    assert leased - len(h.state.snat_ports_in_use(DEV, IP)) >= SNAT_BLOCK_SIZE
    assert h.leases.rate((DEV, IP), 1000 / 2000) > 1500


def test_one_lease_at_a_time_per_address():
    h = Host()
    h.start()
    assert len(h.asked) == 1
    h.start()  # asked again before the first came back
    assert len(h.asked) == 1


def test_held_packets_are_bounded_by_the_blocks_asked_for_and_come_back_in_order():
    h = Host()
    request = h.leases.requests(SimpleNamespace(snat_requests=(REQUEST,), state_keys=()),
                                0.0)[0]
    pins = [of.PacketIn(1, None, bytes([i % 256]) * 60, 1, 0)
            for i in range(MAX_HELD_PER_BLOCK * request.wanted + 1)]
    kept = [h.leases.hold(pin, request) for pin in pins]
    assert kept == [True] * (len(pins) - 1) + [False]
    back = h.leases.leased(request, [FIRST])
    assert list(back) == pins[:-1] and h.leases.held_total == 0
    assert list(h.state.snat_blocks(DEV, IP)) == [FIRST]
