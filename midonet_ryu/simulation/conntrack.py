"""Connection tracking: is this packet a forward flow or a return flow?

As in MidoNet, the question is asked lazily (only rules with
``match_forward_flow``/``match_return_flow`` ask it). A packet is a *return*
packet when the conntrack table holds the key of its 5-tuple as seen
entering its ingress device. A forward flow that is forwarded creates the
key its replies will carry: the reversed final (post-NAT) 5-tuple, at the
device it left by, which is where the replies enter. ICMP uses its echo id
as both ports; non-IPv4 packets and later fragments are not tracked (they
are always "forward").
"""
from __future__ import annotations

from midonet_ryu.simulation import tags
from midonet_ryu.simulation.context import Context
from midonet_ryu.simulation.packet import FIELD_BIT, FRAG_LATER, PROTO_ICMP, FlowMatch
from midonet_ryu.simulation.state import ConntrackKey

_TUPLE = (FIELD_BIT["eth_type"] | FIELD_BIT["ip_src"] | FIELD_BIT["ip_dst"]
          | FIELD_BIT["ip_proto"] | FIELD_BIT["tp_src"] | FIELD_BIT["tp_dst"]
          | FIELD_BIT["icmp_id"] | FIELD_BIT["ip_frag"])


def _ports(m: FlowMatch) -> tuple[int, int]:
    if m.ip_proto == PROTO_ICMP:
        ident = m.icmp_id or 0
        return ident, ident
    return m.tp_src or 0, m.tp_dst or 0


def is_forward_flow(ctx: Context) -> bool:
    fwd = ctx.forward_flow
    if fwd is not None:
        return fwd
    m = ctx.orig
    ctx.wc |= _TUPLE
    if m.ip_src is None or m.ip_frag == FRAG_LATER or ctx.ingress_device is None:
        ctx.forward_flow = True
        if ctx.trace is not None:
            ctx.trace.append(("conntrack", {"result": "forward", "key": None,
                                            "untracked": True}))
        return True
    sport, dport = _ports(m)
    key = ConntrackKey(ctx.ingress_device, m.ip_src, sport, m.ip_dst, dport, m.ip_proto)
    ctx.tags.add(tags.state_key(key))
    ctx.stateful = True
    if key in ctx.state.conntrack:
        ctx.forward_flow = False
        ctx.add_key(key, True, created=False)  # refresh it: replies keep it alive
        if ctx.trace is not None:
            ctx.trace.append(("conntrack", {"result": "return", "key": key}))
        return False
    ctx.forward_flow = True
    if ctx.trace is not None:
        ctx.trace.append(("conntrack", {"result": "forward", "key": key}))
    return True


def track_forward(ctx: Context) -> None:
    """After a forward flow was forwarded: create the key its return packets will hit."""
    if ctx.forward_flow is not True or not ctx.devices:
        return
    m = ctx.match
    if m.ip_src is None or m.ip_frag == FRAG_LATER:
        return
    sport, dport = _ports(m)
    key = ConntrackKey(ctx.devices[-1], m.ip_dst, dport, m.ip_src, sport, m.ip_proto)
    created = key not in ctx.state.conntrack
    ctx.add_key(key, True, created=created)
    if ctx.trace is not None:
        ctx.trace.append(("conntrack", {"result": "create" if created else "refresh",
                                        "key": key}))
