"""NAT rules: static 1:1, dynamic SNAT/DNAT with port allocation, and reverses.

* Static (one address, ``tp_start == tp_end == 0``): rewrite the address
  both ways with two rules (a floating IP is a DNAT rule inbound and an SNAT
  rule outbound on the router); no state.
* Dynamic forward: the first packet of a flow picks a binding and creates a
  forward key (the original tuple -> the new address/port) and a reverse key
  (the reply's tuple -> the original address/port); later packets reuse the
  forward key. SNAT picks ``(ip, port)`` only among the ports of blocks
  leased for that (device, ip) and never one in use by another live flow;
  when the leased blocks are full it asks for another block
  (``SnatBlockRequest``) and drops the packet without installing a flow, so
  the next packet retries once the agent has leased more.
* Reverse rules look the reply up by its tuple and restore the original.

Fragments cannot be translated port-wise (later fragments carry no ports):
dynamic NAT drops them; static NAT translates them.
"""
from __future__ import annotations

import uuid
from typing import Any

from midonet_ryu.simulation import tags
from midonet_ryu.simulation.addr import ip_to_int
from midonet_ryu.simulation.context import Context
from midonet_ryu.simulation.packet import FIELD_BIT, FRAG_NONE, PROTO_ICMP
from midonet_ryu.simulation.result import SnatBlockRequest
from midonet_ryu.simulation.state import SNAT_BLOCK_SIZE, NatBinding, NatKey, NatKeyType
from midonet_ryu.simulation.steps import NatResult
from midonet_ryu.topology.rules import NatTarget, Rule

_TUPLE = (FIELD_BIT["ip_src"] | FIELD_BIT["ip_dst"] | FIELD_BIT["ip_proto"]
          | FIELD_BIT["tp_src"] | FIELD_BIT["tp_dst"] | FIELD_BIT["icmp_id"]
          | FIELD_BIT["ip_frag"])
DEFAULT_PORT_RANGE = (1024, 65535)
NOT_APPLIED, TRANSLATED, FRAGMENT, PORTS_EXHAUSTED = (
    NatResult.NOT_APPLIED, NatResult.TRANSLATED, NatResult.FRAGMENT, NatResult.PORTS_EXHAUSTED,
)


def ports_of(m: Any) -> tuple[int, int]:
    if m.ip_proto == PROTO_ICMP:
        ident = m.icmp_id or 0
        return ident, ident
    return m.tp_src or 0, m.tp_dst or 0


_SRC_BITS = FIELD_BIT["ip_src"] | FIELD_BIT["tp_src"] | FIELD_BIT["icmp_id"]
_DST_BITS = FIELD_BIT["ip_dst"] | FIELD_BIT["tp_dst"] | FIELD_BIT["icmp_id"]


def _set_src(ctx: Context, ip: int, port: int) -> None:
    m = ctx.match
    ctx.written |= _SRC_BITS
    m.ip_src = ip
    if m.ip_proto == PROTO_ICMP:
        if m.icmp_id is not None:
            m.icmp_id = port
    elif m.tp_src is not None:
        m.tp_src = port


def _set_dst(ctx: Context, ip: int, port: int) -> None:
    m = ctx.match
    ctx.written |= _DST_BITS
    m.ip_dst = ip
    if m.ip_proto == PROTO_ICMP:
        if m.icmp_id is not None:
            m.icmp_id = port
    elif m.tp_dst is not None:
        m.tp_dst = port


def apply_rule(ctx: Context, rule: Rule, device_id: uuid.UUID) -> NatResult:
    """Apply a NAT rule whose condition matched (see ``NatResult``): a rule
    with nothing to translate, like a reverse rule without state, does not
    apply, and the chain goes on to its next rule."""
    data = rule.nat_rule_data
    if data is None:
        return NOT_APPLIED
    if data.reverse:
        return reverse(ctx, device_id, data.dnat)
    targets = data.nat_targets
    if not targets:
        return NOT_APPLIED
    if len(targets) == 1 and _is_static(targets[0]):
        ip = ip_to_int(targets[0].nw_start)
        if ctx.trace is not None:
            ctx.trace.append(("nat", {
                "type": "dnat" if data.dnat else "snat", "mode": "static", "result": "translated",
                "fromIp": ctx.match.ip_dst if data.dnat else ctx.match.ip_src, "toIp": ip}))
        if data.dnat:
            ctx.match.ip_dst = ip
            ctx.written |= FIELD_BIT["ip_dst"]
        else:
            ctx.match.ip_src = ip
            ctx.written |= FIELD_BIT["ip_src"]
        return TRANSLATED
    return forward(ctx, device_id, data.dnat, targets)


def _is_static(t: NatTarget) -> bool:
    return t.nw_start == t.nw_end and t.tp_start == 0 and t.tp_end == 0


def forward(ctx: Context, device_id: uuid.UUID, dnat: bool,
            targets: tuple[NatTarget, ...]) -> NatResult:
    """Translate with the flow's binding, choosing one on its first packet."""
    m = ctx.match
    ctx.wc |= _TUPLE
    if m.ip_src is None:
        return NOT_APPLIED
    if m.ip_frag is not None and m.ip_frag != FRAG_NONE:
        if ctx.trace is not None:
            ctx.trace.append(("nat", {"type": "dnat" if dnat else "snat", "mode": "dynamic",
                                      "result": "fragment"}))
        return FRAGMENT
    sport, dport = ports_of(m)
    ktype = NatKeyType.FWD_DNAT if dnat else NatKeyType.FWD_SNAT
    key = NatKey(ktype, m.ip_src, sport, m.ip_dst, dport, m.ip_proto, device_id)
    ctx.tags.add(tags.state_key(key))
    ctx.stateful = True
    binding = ctx.state.nat.get(key)
    created = binding is None
    if binding is None:
        binding = _pick_dnat(ctx, targets, dport) if dnat else _pick_snat(ctx, device_id, targets)
        if binding is None:
            if ctx.trace is not None:
                ctx.trace.append(("nat", {"type": "snat", "mode": "dynamic",
                                          "result": "ports-exhausted"}))
            return PORTS_EXHAUSTED
    if dnat:
        rval = NatBinding(m.ip_dst, dport)
        _set_dst(ctx, binding.ip, binding.port)
        rtype = NatKeyType.REV_DNAT
    else:
        rval = NatBinding(m.ip_src, sport)
        _set_src(ctx, binding.ip, binding.port)
        rtype = NatKeyType.REV_SNAT
    # The reply's tuple, as it will arrive: reversed translated tuple.
    s2, d2 = ports_of(m)
    rkey = NatKey(rtype, m.ip_dst, d2, m.ip_src, s2, m.ip_proto, device_id)
    ctx.add_key(key, binding, created)
    ctx.add_key(rkey, rval, created)
    if ctx.trace is not None:
        ctx.trace.append(("nat", {
            "type": "dnat" if dnat else "snat", "mode": "dynamic", "result": "translated",
            "fromIp": rval.ip, "fromPort": rval.port, "toIp": binding.ip,
            "toPort": binding.port, "new": created}))
    return TRANSLATED


def _pick_dnat(ctx: Context, targets: tuple[NatTarget, ...], dport: int) -> NatBinding:
    h = ctx.hash5()
    t = targets[h % len(targets)]
    start, end = ip_to_int(t.nw_start), ip_to_int(t.nw_end)
    ip = start + (h >> 8) % (end - start + 1)
    if t.tp_start == 0 and t.tp_end == 0:
        return NatBinding(ip, dport)
    return NatBinding(ip, t.tp_start + (h >> 16) % (t.tp_end - t.tp_start + 1))


def _pick_snat(ctx: Context, device_id: uuid.UUID,
               targets: tuple[NatTarget, ...]) -> NatBinding | None:
    """A free (ip, port) among leased blocks, or None after asking for a block."""
    h = ctx.hash5()
    state = ctx.state
    first: tuple[int, int, int] | None = None
    for t in targets:
        lo_ip, hi_ip = ip_to_int(t.nw_start), ip_to_int(t.nw_end)
        tp_lo, tp_hi = (t.tp_start, t.tp_end) if t.tp_end else DEFAULT_PORT_RANGE
        count = hi_ip - lo_ip + 1
        for i in range(count):
            ip = lo_ip + (h + i) % count
            ctx.tags.add(tags.snat_block(device_id, ip))
            if first is None:
                first = (ip, tp_lo, tp_hi)
            used = state.snat_ports_in_use(device_id, ip)
            blocks = state.snat_blocks(device_id, ip)
            if type(blocks) is not list and type(blocks) is not tuple:
                blocks = sorted(blocks)  # adapters may hand out a set
            nblocks = len(blocks)
            # Start at a block picked by the hash so a crowded table is not
            # scanned from its first block every time.
            for k in range(nblocks):
                block = blocks[(h + k) % nblocks]
                lo = max(block * SNAT_BLOCK_SIZE, tp_lo)
                hi = min(block * SNAT_BLOCK_SIZE + SNAT_BLOCK_SIZE - 1, tp_hi)
                if lo > hi:
                    continue
                n = hi - lo + 1
                off = h % n
                for j in range(n):
                    port = lo + (off + j) % n
                    if port not in used:
                        return NatBinding(ip, port)
    if first is not None:
        ctx.snat_requests.append(SnatBlockRequest(device_id, *first))
    return None


def reverse(ctx: Context, device_id: uuid.UUID, dnat: bool) -> NatResult:
    """Undo a dynamic translation on a reply; NOT_APPLIED when no binding exists."""
    m = ctx.match
    ctx.wc |= _TUPLE
    if m.ip_src is None:
        return NOT_APPLIED
    sport, dport = ports_of(m)
    if dnat:
        key = NatKey(NatKeyType.REV_DNAT, m.ip_src, sport, m.ip_dst, dport, m.ip_proto,
                     device_id)
    else:
        key = NatKey(NatKeyType.REV_SNAT, m.ip_src, sport, m.ip_dst, dport, m.ip_proto,
                     device_id)
    ctx.tags.add(tags.state_key(key))
    ctx.stateful = True
    binding = ctx.state.nat.get(key)
    if ctx.trace is not None:
        ctx.trace.append(("nat", {
            "type": "dnat" if dnat else "snat", "mode": "reverse",
            "result": "no-state" if binding is None else "translated",
            "fromIp": m.ip_src if dnat else m.ip_dst, "fromPort": sport if dnat else dport,
            "toIp": None if binding is None else binding.ip,
            "toPort": None if binding is None else binding.port}))
    if binding is None:
        return NOT_APPLIED
    ctx.add_key(key, binding, False)
    if dnat:
        _set_src(ctx, binding.ip, binding.port)
    else:
        _set_dst(ctx, binding.ip, binding.port)
    return TRANSLATED
