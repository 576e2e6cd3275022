"""Refresh pacing (once per half TTL per peer) and import planning."""
from __future__ import annotations

import uuid

import pytest

from midonet_ryu.flowstate.ledger import SendLedger
from midonet_ryu.flowstate.payload import FlowStateMessage
from midonet_ryu.flowstate.plan import import_plan, keys_for_peer
from midonet_ryu.simulation.state import ConntrackKey, NatBinding, NatKey, NatKeyType

P1, P2 = uuid.UUID(int=1), uuid.UUID(int=2)
DEV = uuid.UUID(int=9)
CT = ConntrackKey(DEV, 1, 2, 3, 4, 6)
NK = NatKey(NatKeyType.REV_SNAT, 1, 2, 3, 4, 6, DEV)


def test_a_key_goes_to_a_peer_once_per_half_ttl():
    ledger = SendLedger(interval=30.0)
    keys = ((CT, True), (NK, NatBinding(5, 6)))
    assert keys_for_peer(keys, P1, ledger, 100.0) == ([CT], [(NK, NatBinding(5, 6))])
    assert keys_for_peer(keys, P1, ledger, 129.9) == ([], [])
    # another peer is another matter
    assert keys_for_peer(keys, P2, ledger, 110.0) == ([CT], [(NK, NatBinding(5, 6))])
    # the refresh is due exactly at half the TTL, when the 30 s flow re-simulates
    assert keys_for_peer(keys, P1, ledger, 130.0) == ([CT], [(NK, NatBinding(5, 6))])


def test_a_new_binding_for_a_sent_key_is_sent_at_once():
    ledger = SendLedger(interval=30.0)
    keys_for_peer(((NK, NatBinding(5, 6)),), P1, ledger, 100.0)
    assert keys_for_peer(((NK, NatBinding(7, 8)),), P1, ledger, 101.0) == (
        [], [(NK, NatBinding(7, 8))])


def test_ledger_is_bounded_and_eviction_only_resends_early():
    ledger = SendLedger(interval=30.0, max_entries=3)
    for i in range(10):
        ledger.record(P1, i, 100.0)
    assert len(ledger) == 3
    assert ledger.due(P1, 0, 101.0)  # evicted: sent again early, never lost
    assert not ledger.due(P1, 9, 101.0)
    assert ledger.prune(131.0) == 3 and len(ledger) == 0
    with pytest.raises(ValueError):
        SendLedger(30.0, max_entries=0)


def test_clock_going_back_makes_keys_due():
    ledger = SendLedger(interval=30.0)
    ledger.record(P1, CT, 100.0)
    assert ledger.due(P1, CT, 50.0)


def test_import_plan_writes_everything_but_reports_only_news():
    known_ct = ConntrackKey(DEV, 9, 9, 9, 9, 17)
    nat_table = {NK: NatBinding(5, 6)}
    other = NatKey(NatKeyType.FWD_SNAT, 3, 4, 1, 2, 6, DEV)
    msg = FlowStateMessage(P1, (CT, known_ct), ((NK, NatBinding(5, 6)), (other, NatBinding(1, 1))))
    plan = import_plan(msg, {known_ct: 0.0}, nat_table)
    assert len(plan.writes) == 4
    assert plan.news == [CT, other]
    # a different binding from the peer replaces ours and is news
    plan = import_plan(FlowStateMessage(P1, (), ((NK, NatBinding(7, 7)),)), {}, nat_table)
    assert plan.news == [NK] and plan.writes == [(NK, NatBinding(7, 7))]
