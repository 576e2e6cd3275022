"""The flow-state file's contents: what a restarted agent gets back, and what
it refuses (all of a bad file, with a reason)."""
import json
import uuid

import pytest

from midonet_ryu.flowstate.local_store import BadStateFile, dump, forget_blocks, load
from midonet_ryu.simulation.state import (
    ConntrackKey,
    InMemoryState,
    NatBinding,
    NatKey,
    NatKeyType,
)

HOST, DEV = uuid.uuid4(), uuid.uuid4()
PUBLIC = 0xCB007101  # 203.0.113.1


def snat(i: int) -> tuple[NatKey, NatBinding, NatKey, NatBinding]:
    port = 1024 + i
    fwd = NatKey(NatKeyType.FWD_SNAT, 0x0A000001, 40000 + i, 0xCB00710A, 80, 6, DEV)
    rev = NatKey(NatKeyType.REV_SNAT, 0xCB00710A, 80, PUBLIC, port, 6, DEV)
    return fwd, NatBinding(PUBLIC, port), rev, NatBinding(0x0A000001, 40000 + i)


def state_with(n: int, now: float) -> InMemoryState:
    local = InMemoryState()
    local.lease_snat_block(DEV, PUBLIC, 16)
    for i in range(n):
        fwd, fb, rev, rb = snat(i)
        local.put_key(fwd, fb, now)
        local.put_key(rev, rb, now)
        local.put_key(ConntrackKey(DEV, 0xCB00710A, 80, 0x0A000001, 40000 + i, 6), None, now)
    return local


def test_keys_and_blocks_come_back_with_their_own_expiry():
    saved = state_with(3, 1000.0)
    data = dump(HOST, saved, 1010.0)
    again = InMemoryState()
    got = load(HOST, again, data, 1020.0)
    assert (got.conntrack, got.nat, got.expired) == (3, 6, 0)
    assert got.blocks == ((DEV, PUBLIC, 16),)
    assert dict(again.nat) == dict(saved.nat)
    assert set(again.conntrack) == set(saved.conntrack)
    assert list(again.snat_blocks(DEV, PUBLIC)) == [16]
    assert set(again.snat_ports_in_use(DEV, PUBLIC)) == {1024, 1025, 1026}
    # the TTL runs from the last use before the restart, not from the reload
    assert again.expire(1000.0 + saved.key_ttl - 0.1) == 0
    assert again.expire(1000.0 + saved.key_ttl) == 9


def test_keys_that_expired_while_the_agent_was_down_are_not_loaded():
    data = dump(HOST, state_with(2, 1000.0), 1001.0)
    got = load(HOST, again := InMemoryState(), data, 1000.0 + InMemoryState().key_ttl + 1)
    assert (got.conntrack, got.nat, got.expired) == (0, 0, 6)
    assert len(again) == 0


def test_only_the_newest_keys_are_kept_when_there_are_too_many():
    local = state_with(5, 1000.0)
    newest = snat(9)
    local.put_key(newest[0], newest[1], 1005.0)
    got = load(HOST, again := InMemoryState(), dump(HOST, local, 1006.0, max_keys=3), 1007.0)
    assert got.conntrack + got.nat == 3
    assert newest[0] in again.nat


@pytest.mark.parametrize("mangle, reason", [
    (lambda d: b"{not json", "not JSON"),
    (lambda d: b"[1, 2]", "not a JSON object"),
    (lambda d: d.replace(b'"version":1', b'"version":7'), "format version 7"),
    (lambda d: d.replace(str(HOST).encode(), str(uuid.uuid4()).encode()), "written by host"),
    (lambda d: _edit(d, lambda doc: doc["nat"][0].__setitem__(8, 70000)), "malformed entry"),
    (lambda d: _edit(d, lambda doc: doc["nat"][0].__setitem__(0, "fwd_nope")),
     "malformed entry"),
    (lambda d: _edit(d, lambda doc: doc["conntrack"][0].__setitem__(0, "not-a-uuid")),
     "malformed entry"),
    (lambda d: _edit(d, lambda doc: doc["conntrack"][0].pop()), "malformed entry"),
    (lambda d: _edit(d, lambda doc: doc["blocks"][0].__setitem__(2, 1024)), "malformed entry"),
    (lambda d: _edit(d, lambda doc: doc["conntrack"][0].__setitem__(6, "soon")),
     "malformed entry"),
])
def test_a_bad_file_is_refused_whole_with_its_reason(mangle, reason):
    data = mangle(dump(HOST, state_with(2, 1000.0), 1001.0))
    local = InMemoryState()
    with pytest.raises(BadStateFile, match=reason):
        load(HOST, local, data, 1002.0)
    assert len(local) == 0 and list(local.leased_blocks()) == []


def _edit(data: bytes, change) -> bytes:
    doc = json.loads(data)
    change(doc)
    return json.dumps(doc).encode()


def test_a_block_another_host_took_meanwhile_loses_its_keys():
    local = InMemoryState()
    load(HOST, local, dump(HOST, state_with(2, 1000.0), 1001.0), 1002.0)
    other = NatKey(NatKeyType.FWD_SNAT, 0x0A000002, 5000, 0xCB00710A, 80, 6, DEV)
    local.put_key(other, NatBinding(PUBLIC, 1100), 1002.0)  # block 17: not lost
    assert forget_blocks(local, [(DEV, PUBLIC, 16)]) == 4
    assert list(local.nat) == [other]
    assert list(local.snat_blocks(DEV, PUBLIC)) == []
    assert set(local.snat_ports_in_use(DEV, PUBLIC)) == {1100}
