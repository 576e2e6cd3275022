"""Withdrawing state keys: a peer forgets a connection when its origin does,
unless the peer's own simulations used the key since it arrived."""
from __future__ import annotations

import uuid

from midonet_ryu.flowstate import decode_frame
from midonet_ryu.flowstate import replicator as rep
from midonet_ryu.metrics import AgentCounter as C
from midonet_ryu.simulation.result import ResultKind, ToPort
from midonet_ryu.simulation.state import NatBinding, NatKey
from midonet_ryu.topology.model import HostToIp, TunnelZone
from tests.unit.flowstate.test_replicator import HA, HB, HC, IPS, TwoHosts, fields

TTL = 60.0


def shared(w, t):
    """A's forward flow at ``t``, its state imported by B; the NAT port."""
    fwd = w.forward()
    for _, frame in w.a.outgoing(fwd, w.r.a1.port_id, t):
        w.b.incoming(frame, t)
    return fwd, fields(fwd)["tp_src"]


def withdraw(w, t):
    """A's keys expire at ``t``; B takes A's withdrawals. (removed, frames)"""
    packets = w.a.withdrawals(w.state_a.expire_keys(t), t)
    removed = [k for _, frame in packets for k in w.b.incoming(frame, t)]
    return removed, packets


def test_a_key_that_expires_at_its_origin_is_withdrawn_from_its_peer():
    w = TwoHosts()
    t0 = w.s.now
    fwd, nat_port = shared(w, t0)
    assert w.reply_on_b(nat_port).actions[-1] == ToPort(w.r.a1.port_id)
    w.s.now = t0 + 1  # B's reply above used the keys at t0; nothing uses them after
    fwd, nat_port = shared(w, t0 + 31)  # A refreshes B at half the TTL
    assert w.a.withdrawals(w.state_a.expire_keys(t0 + TTL), t0 + TTL) == []  # still live
    removed, packets = withdraw(w, t0 + 31 + TTL)
    assert {ip for ip, _ in packets} == {IPS[HB]}
    assert all(decode_frame(f).withdraw for _, f in packets)
    assert set(removed) == {k for k, _ in fwd.state_keys}
    assert not any(k in w.state_b.nat for k in removed)  # 30 s before its import ran out
    assert w.reply_on_b(nat_port).kind is ResultKind.DROP
    assert w.a.counts[C.FLOW_STATE_KEYS_WITHDRAWN] == len(removed)
    assert w.b.counts[C.FLOW_STATE_WITHDRAWALS_APPLIED] == len(removed)


def test_a_key_the_peer_used_lately_stays_until_its_own_ttl():
    w = TwoHosts()
    t0 = w.s.now
    fwd, nat_port = shared(w, t0)
    w.s.now = t0 + TTL / 2 + 1  # its flow here may live until TTL + 1
    back = w.reply_on_b(nat_port)  # B's reply uses the reverse key, not the forward one
    assert back.actions[-1] == ToPort(w.r.a1.port_id)
    used = {k for k, _ in back.state_keys}
    assert used and used < {k for k, _ in fwd.state_keys}
    removed, _ = withdraw(w, t0 + TTL)
    assert set(removed) == {k for k, _ in fwd.state_keys} - used
    assert w.b.counts[C.FLOW_STATE_WITHDRAWALS_KEPT] == len(used)
    w.s.now = t0 + TTL
    assert w.reply_on_b(nat_port).actions[-1] == ToPort(w.r.a1.port_id)


def test_a_key_the_peer_used_only_long_ago_goes_with_the_withdrawal():
    w = TwoHosts()
    t0 = w.s.now
    fwd, nat_port = shared(w, t0)
    w.s.now = t0 + TTL / 2 - 1  # its last flow here ended before the withdrawal
    assert w.reply_on_b(nat_port).actions[-1] == ToPort(w.r.a1.port_id)
    removed, _ = withdraw(w, t0 + TTL)
    assert set(removed) == {k for k, _ in fwd.state_keys}
    w.s.now = t0 + TTL
    assert w.reply_on_b(nat_port).kind is ResultKind.DROP


def test_a_nat_key_bound_differently_on_the_peer_is_not_withdrawn():
    w = TwoHosts()
    t0 = w.s.now
    fwd, _ = shared(w, t0)
    key = next(k for k, _ in fwd.state_keys if isinstance(k, NatKey))
    w.state_b.put_key(key, NatBinding(1, 2), t0)  # someone else's binding since
    w.b._imported[key] = w.state_b.expiry_of(key)  # (as if imported from them)
    removed, _ = withdraw(w, t0 + TTL)
    assert key not in removed and w.state_b.nat[key] == NatBinding(1, 2)


def test_a_withdrawal_from_anyone_but_the_sender_is_dropped():
    w = TwoHosts()
    w.s.put(TunnelZone(id=uuid.uuid4(), name="default", hosts=(
        HostToIp(HA, IPS[HA]), HostToIp(HB, IPS[HB]), HostToIp(HC, "192.0.2.3")),
        host_ids=(HA, HB, HC)))
    t0 = w.s.now
    fwd, nat_port = shared(w, t0)
    packets = w.a.withdrawals(w.state_a.expire_keys(t0 + TTL), t0 + TTL)
    assert packets
    for _, frame in packets:
        assert w.b.incoming(frame, t0 + TTL, "192.0.2.3") == []
    assert all(k in w.state_b.nat or k in w.state_b.conntrack for k, _ in fwd.state_keys)


def test_a_key_never_sent_is_not_withdrawn_and_a_withdrawn_one_is_sent_again_at_once():
    w = TwoHosts()
    t0 = w.s.now
    w.forward()  # simulated, never sent
    assert w.a.withdrawals(w.state_a.expire_keys(t0 + TTL), t0 + TTL) == []
    w.s.now = t0 + 2 * TTL
    shared(w, w.s.now)
    withdraw(w, w.s.now + TTL)
    w.s.now += TTL + 1
    again = w.forward()  # the same connection made again soon after
    assert w.a.outgoing(again, w.r.a1.port_id, w.s.now)  # not held back by the ledger


def test_the_peers_of_only_the_newest_keys_are_remembered(monkeypatch):
    monkeypatch.setattr(rep, "MAX_WITHDRAWABLE", 2)
    w = TwoHosts()
    t0 = w.s.now
    for sport in (1000, 1001, 1002):
        w.a.outgoing(w.forward(sport), w.r.a1.port_id, t0)
    assert len(w.a._sent_to) == 2
    assert w.a.counts[C.FLOW_STATE_WITHDRAW_UNTRACKED] > 0
