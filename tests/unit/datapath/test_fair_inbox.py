"""The agent's packet-in inbox: one port's flood cannot take another's turns."""
from __future__ import annotations

import pytest

from midonet_ryu.datapath.fair_inbox import FairInbox


def drain(inbox):
    out = []
    while (item := inbox.get()) is not None:
        out.append(item)
    return out


def test_ports_are_served_in_turn_each_in_arrival_order():
    inbox = FairInbox(100)
    for i in range(4):
        inbox.put("a", f"a{i}")
    inbox.put("b", "b0")
    inbox.put("b", "b1")
    assert drain(inbox) == ["a0", "b0", "a1", "b1", "a2", "a3"]
    assert len(inbox) == 0 and not inbox


def test_a_flooding_port_loses_its_own_packets_and_a_light_one_loses_none():
    inbox = FairInbox(64)
    served = {"flood": 0, "light": 0}
    for step in range(10_000):  # the flood offers 20 per packet served, the light one 0.1
        for _ in range(20):
            inbox.put("flood", ("flood", step))
        if step % 10 == 0:
            inbox.put("light", ("light", step))
        served[inbox.get()[0]] += 1
        assert len(inbox) <= 64
    assert inbox.shed["light"] == 0 and served["light"] == 1000
    assert served["flood"] == 9000 and inbox.shed["flood"] == 200_000 - 9000 - len(inbox)


def test_at_the_bound_the_oldest_of_the_longest_queue_goes():
    inbox = FairInbox(4)
    for i in range(3):
        inbox.put("a", f"a{i}")
    inbox.put("b", "b0")
    assert inbox.put("b", "b1") == "a"  # a holds 3: its oldest goes
    assert inbox.put("c", "c0") == "a"
    # two each: the arriving packet's port loses its own oldest at a tie
    assert inbox.put("b", "b2") == "b"
    assert drain(inbox) == ["a2", "b1", "c0", "b2"]


def test_a_new_port_arriving_at_a_full_inbox_of_single_packets_is_the_one_dropped():
    inbox = FairInbox(2)
    inbox.put("a", 1)
    inbox.put("b", 2)
    assert inbox.put("c", 3) == "c"
    assert len(inbox) == 2 and drain(inbox) == [1, 2]
    assert inbox.shed == {"c": 1}


def test_capacity_must_be_positive():
    with pytest.raises(ValueError):
        FairInbox(0)
