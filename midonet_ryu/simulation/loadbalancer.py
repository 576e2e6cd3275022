"""L4 load balancer on a router: VIP -> pool member DNAT, recorded as NAT keys.

A TCP packet to a VIP (address and port) is sent to one of the pool's
*healthy* members (admin up, status ACTIVE, weight > 0), chosen by weight
with the flow hash, so the choice is deterministic for a flow.

* Without persistence the choice is kept in FWD_DNAT/REV_DNAT keys of the
  connection's 5-tuple (device = the load balancer).
* With SOURCE_IP persistence a FWD_STICKY_DNAT key (client ip, vip) pins the
  client to a member across connections, and REV_STICKY_DNAT (member,
  client ip; port 0) undoes it on replies.

If the bound member becomes unhealthy the next packet picks another one
(the flow is tagged with every member of the pool, so the agent
re-simulates when health changes). No healthy member: drop. Fragments to
a VIP are dropped: later fragments carry no port to balance on.
Replies from a member (source = member address) are translated back to
the VIP before the router's filters see them.
"""
from __future__ import annotations

import uuid
from typing import Any

from midonet_ryu.simulation import tags
from midonet_ryu.simulation.addr import ip_to_int
from midonet_ryu.simulation.cache import deps_of
from midonet_ryu.simulation.context import Context
from midonet_ryu.simulation.packet import FIELD_BIT, FRAG_NONE, PROTO_TCP
from midonet_ryu.simulation.state import NatBinding, NatKey, NatKeyType
from midonet_ryu.simulation.steps import Drop
from midonet_ryu.topology.lb import (
    LBStatus,
    LoadBalancer,
    Pool,
    PoolMember,
    SessionPersistence,
    Vip,
)
from midonet_ryu.topology.router import Router

_VIP_FIELDS = (FIELD_BIT["ip_dst"] | FIELD_BIT["ip_proto"] | FIELD_BIT["tp_dst"]
               | FIELD_BIT["ip_frag"])
_DST_REWRITE = FIELD_BIT["ip_dst"] | FIELD_BIT["tp_dst"]
_SRC_REWRITE = FIELD_BIT["ip_src"] | FIELD_BIT["tp_src"]
_TUPLE = (FIELD_BIT["ip_src"] | FIELD_BIT["ip_dst"] | FIELD_BIT["ip_proto"]
          | FIELD_BIT["tp_src"] | FIELD_BIT["tp_dst"])
_FRAGMENT_TO_VIP = Drop(None, "fragmented packet to a VIP cannot be balanced")
_NO_MEMBER = Drop(None, "no healthy pool member")


class CompiledVip:
    __slots__ = ("vip", "ip", "port", "sticky", "members", "tags")

    def __init__(self, vip: Vip, members: tuple[tuple[int, int, int], ...],
                 tag_set: tuple) -> None:
        self.vip = vip
        self.ip = ip_to_int(vip.address)
        self.port = vip.protocol_port
        self.sticky = vip.session_persistence is SessionPersistence.SOURCE_IP
        self.members = members  # healthy (ip, port, weight)
        self.tags = tag_set


class CompiledLB:
    __slots__ = ("lb", "vips", "member_ips", "vip_ips")

    def __init__(self, lb: LoadBalancer, vips: dict[tuple[int, int], CompiledVip],
                 member_ips: frozenset[int]) -> None:
        self.lb = lb
        self.vips = vips
        self.member_ips = member_ips
        self.vip_ips = frozenset(ip for ip, _port in vips)


def compile_lb(ctx: Context, lb_id: uuid.UUID) -> CompiledLB | None:
    def build() -> tuple[Any, Any]:
        get = ctx.topology.get
        lb = get(LoadBalancer, lb_id)
        if lb is None or not lb.admin_state_up:
            return None, deps_of([lb]) if lb else ((LoadBalancer, lb_id, None),)
        seen: list[Any] = [lb]
        vips: dict[tuple[int, int], CompiledVip] = {}
        member_ips: set[int] = set()
        for pool_id in lb.pool_ids:
            pool = get(Pool, pool_id)
            if pool is None:
                continue
            seen.append(pool)
            members = [get(PoolMember, mid) for mid in pool.pool_member_ids]
            seen += members
            healthy = tuple(
                (ip_to_int(mb.address), mb.protocol_port, mb.weight)
                for mb in members
                if mb is not None and mb.admin_state_up and mb.status is LBStatus.ACTIVE
                and mb.weight > 0
            ) if pool.admin_state_up else ()
            member_ips.update(ip_to_int(mb.address) for mb in members if mb is not None)
            tag_set = (tags.device(lb.id), tags.device(pool.id)) + tuple(
                tags.device(mb.id) for mb in members if mb is not None)
            for vid in pool.vip_ids:
                vip = get(Vip, vid)
                if vip is None or not vip.admin_state_up:
                    continue
                seen.append(vip)
                cv = CompiledVip(vip, healthy, tag_set + (tags.device(vip.id),))
                vips[(cv.ip, cv.port)] = cv
        return CompiledLB(lb, vips, frozenset(member_ips)), deps_of(seen)

    return ctx.cache.get(("lb", lb_id), build)


def _choose(members: tuple[tuple[int, int, int], ...], h: int) -> tuple[int, int]:
    total = sum(w for _, _, w in members)
    pick = h % total
    for ip, port, w in members:
        if pick < w:
            return ip, port
        pick -= w
    return members[-1][0], members[-1][1]


def process(ctx: Context, router: Router) -> Drop | None:
    """Balance a packet to a VIP, or restore the VIP on a member's reply;
    None to let the router go on with the (possibly rewritten) packet."""
    clb = compile_lb(ctx, router.load_balancer_id)  # type: ignore[arg-type]
    if clb is None:
        return None
    m = ctx.match
    ctx.wc |= _VIP_FIELDS
    if m.ip_frag is not None and m.ip_frag != FRAG_NONE:
        if m.ip_dst in clb.vip_ips:
            return _FRAGMENT_TO_VIP
        return None
    if m.ip_proto != PROTO_TCP:
        return None
    lb_id = clb.lb.id
    cv = clb.vips.get((m.ip_dst, m.tp_dst))
    if cv is not None:
        ctx.tags.update(cv.tags)
        return _to_member(ctx, cv, lb_id)
    ctx.wc |= _TUPLE
    if m.ip_src in clb.member_ips:
        _reverse(ctx, lb_id)
    return None


def _to_member(ctx: Context, cv: CompiledVip, lb_id: uuid.UUID) -> Drop | None:
    m = ctx.match
    ctx.wc |= _TUPLE
    ctx.stateful = True
    healthy = {(ip, port) for ip, port, _ in cv.members}
    nat = ctx.state.nat
    src, sport, proto = m.ip_src, m.tp_src, m.ip_proto
    if cv.sticky:
        key = NatKey(NatKeyType.FWD_STICKY_DNAT, src, 0, cv.ip, cv.port, proto, lb_id)
    else:
        key = NatKey(NatKeyType.FWD_DNAT, src, sport, cv.ip, cv.port, proto, lb_id)
    ctx.tags.add(tags.state_key(key))
    binding = nat.get(key)
    created = binding is None or (binding.ip, binding.port) not in healthy
    if created:
        if not cv.members:
            if ctx.trace is not None:
                ctx.trace.append(("lb", {"vip": cv.vip.id, "vipIp": cv.ip, "vipPort": cv.port,
                                         "result": "no-member"}))
            return _NO_MEMBER
        binding = NatBinding(*_choose(cv.members, ctx.hash5() >> 7))
    assert binding is not None
    if ctx.trace is not None:
        ctx.trace.append(("lb", {"vip": cv.vip.id, "vipIp": cv.ip, "vipPort": cv.port,
                                 "result": "balanced", "memberIp": binding.ip,
                                 "memberPort": binding.port, "sticky": cv.sticky,
                                 "new": created}))
    if cv.sticky:
        rkey = NatKey(NatKeyType.REV_STICKY_DNAT, binding.ip, binding.port, src, 0, proto, lb_id)
    else:
        rkey = NatKey(NatKeyType.REV_DNAT, binding.ip, binding.port, src, sport, proto, lb_id)
    ctx.add_key(key, binding, created)
    ctx.add_key(rkey, NatBinding(cv.ip, cv.port), created)
    m.ip_dst = binding.ip
    m.tp_dst = binding.port
    ctx.written |= _DST_REWRITE
    return None


def _reverse(ctx: Context, lb_id: uuid.UUID) -> None:
    m = ctx.match
    nat = ctx.state.nat
    ctx.stateful = True
    for key in (
        NatKey(NatKeyType.REV_DNAT, m.ip_src, m.tp_src, m.ip_dst, m.tp_dst, m.ip_proto, lb_id),
        NatKey(NatKeyType.REV_STICKY_DNAT, m.ip_src, m.tp_src, m.ip_dst, 0, m.ip_proto, lb_id),
    ):
        ctx.tags.add(tags.state_key(key))
        binding = nat.get(key)
        if binding is not None:
            ctx.add_key(key, binding, False)
            if ctx.trace is not None:
                ctx.trace.append(("lb", {"result": "reverse", "memberIp": m.ip_src,
                                         "memberPort": m.tp_src, "vipIp": binding.ip,
                                         "vipPort": binding.port}))
            m.ip_src = binding.ip
            m.tp_src = binding.port
            ctx.written |= _SRC_REWRITE
            return
    if ctx.trace is not None:
        ctx.trace.append(("lb", {"result": "reverse-no-state", "memberIp": m.ip_src,
                                 "memberPort": m.tp_src}))
