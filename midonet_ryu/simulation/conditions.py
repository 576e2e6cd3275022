"""Rule conditions, compiled into one small Python function each.

A ``Condition`` has some forty fields; a rule usually sets two or three. A
chain of fifty rules is evaluated for every new flow, so each condition is
compiled (once, when its chain is compiled) into a function with the set
fields' tests inlined: one call per rule, no per-field dispatch.

Semantics: a field's test is inverted by its own flag; ``conjunction_inv``
inverts the whole conjunction. Unset fields match anything. Cheap header
tests run first, group memberships next, the conntrack question last (it is
the only one with a cost beyond a comparison). Every evaluated rule adds
all the header fields it tests to the flow's wildcard, a slight
over-approximation that keeps the check to one ``|=``.

Port groups and IP address groups are resolved at compile time; the chain's
compiled form lists the group objects among its dependencies, so a change
of membership recompiles it.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from midonet_ryu.simulation import conntrack
from midonet_ryu.simulation.addr import (
    ip_to_int,
    mac_to_int,
    normalize_mac,
    parse_cidr,
    prefix_mask,
)
from midonet_ryu.simulation.packet import FIELD_BIT, FRAG_LATER, FRAG_NONE
from midonet_ryu.topology.rules import Condition, FragmentPolicy, IPAddrGroup, PortGroup
from midonet_ryu.topology.snapshot import TopologyView

_PROTO_ICMP = 1

B = FIELD_BIT


class _Builder:
    """Accumulates inlined tests and the constants they refer to."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.tests: list[tuple[int, str]] = []  # (cost rank, python expression that matches)
        self.consts: dict[str, Any] = {}
        self.bits = 0
        self.deps: list[Any] = []
        self.group_ids: list[uuid.UUID] = []

    def const(self, value: Any) -> str:
        name = f"{self.prefix}c{len(self.consts)}"
        self.consts[name] = value
        return name

    def test(self, rank: int, predicate: str, inv: bool, *fields: str) -> None:
        """The field matches when ``predicate != inv``."""
        for f in fields:
            self.bits |= B[f]
        self.tests.append((rank, f"not ({predicate})" if inv else f"({predicate})"))


def _ip_group(view: TopologyView, b: _Builder, group_id: uuid.UUID) -> frozenset[int]:
    group = view.get(IPAddrGroup, group_id)
    b.deps.append((IPAddrGroup, group_id, group))
    b.group_ids.append(group_id)
    if group is None:
        return frozenset()
    return frozenset(ip_to_int(a.ip_address) for a in group.ip_addr_ports)


def _port_group(view: TopologyView, b: _Builder, group_id: uuid.UUID) -> frozenset[uuid.UUID]:
    group = view.get(PortGroup, group_id)
    b.deps.append((PortGroup, group_id, group))
    b.group_ids.append(group_id)
    return frozenset(group.port_ids) if group is not None else frozenset()


class ConditionParts:
    """A condition as one inlinable Python expression over ``ctx`` and ``m``."""

    __slots__ = ("expr", "bits", "consts", "deps", "group_ids")

    def __init__(self, expr: str, bits: int, consts: dict[str, Any], deps: list[Any],
                 group_ids: list[uuid.UUID]) -> None:
        self.expr = expr
        self.bits = bits
        self.consts = consts
        self.deps = deps
        self.group_ids = group_ids


def compile_condition(cond: Condition, view: TopologyView, prefix: str = "") -> ConditionParts:
    """The condition's expression; its constants are named with ``prefix``."""
    b = _Builder(prefix)
    _l2_tests(b, cond)
    _l3_l4_tests(b, cond)
    _context_tests(b, cond, view)
    tests = [expr for _rank, expr in sorted(b.tests, key=lambda x: x[0])]
    expr = " and ".join(tests) if tests else "True"
    if cond.conjunction_inv:
        expr = f"not ({expr})"
    return ConditionParts(expr, b.bits, b.consts, b.deps, b.group_ids)


def _l2_tests(b: _Builder, cond: Condition) -> None:
    t, c = b.test, b.const
    if cond.in_port_ids:
        t(0, f"ctx.in_port in {c(frozenset(cond.in_port_ids))}", cond.in_port_inv, "in_port")
    if cond.out_port_ids:
        t(0, f"ctx.out_port in {c(frozenset(cond.out_port_ids))}", cond.out_port_inv)
    if cond.dl_type is not None:
        t(0, f"m.eth_type == {c(cond.dl_type)}", cond.inv_dl_type, "eth_type")
    for name, mac, mask, inv in (("eth_src", cond.dl_src, cond.dl_src_mask, cond.inv_dl_src),
                                 ("eth_dst", cond.dl_dst, cond.dl_dst_mask, cond.inv_dl_dst)):
        if mac is None:
            continue
        if mask is None:
            t(0, f"m.{name} == {c(normalize_mac(mac))}", inv, name)
        else:
            bits = mac_to_int(mask)
            t(1, f"({c(mac_to_int)}(m.{name}) & {c(bits)}) == {c(mac_to_int(mac) & bits)}",
              inv, name)
    if cond.vlan is not None:
        t(0, f"m.vlan_id == {c(cond.vlan)}", cond.vlan_inv, "vlan_id")
    if cond.no_vlan:
        t(0, "m.vlan_id is None", False, "vlan_id")


def _l3_l4_tests(b: _Builder, cond: Condition) -> None:
    t, c = b.test, b.const
    if cond.nw_tos is not None:
        t(0, f"m.ip_tos == {c(cond.nw_tos)}", cond.nw_tos_inv, "ip_tos")
    if cond.nw_proto is not None:
        t(0, f"m.ip_proto == {c(cond.nw_proto)}", cond.nw_proto_inv, "ip_proto")
    for name, cidr, inv in (("ip_src", cond.nw_src_ip, cond.nw_src_inv),
                            ("ip_dst", cond.nw_dst_ip, cond.nw_dst_inv)):
        if cidr is None:
            continue
        net, plen = parse_cidr(cidr)
        t(0, f"m.{name} is not None and (m.{name} & {c(prefix_mask(plen))}) == {c(net)}", inv,
          name)
    # As in MidoNet, a rule of protocol ICMP matches the ICMP type with its
    # source range and the code with its destination range
    icmp = cond.nw_proto == _PROTO_ICMP and not cond.nw_proto_inv
    for name, rng, inv in (("icmp_type" if icmp else "tp_src", cond.tp_src, cond.tp_src_inv),
                           ("icmp_code" if icmp else "tp_dst", cond.tp_dst, cond.tp_dst_inv)):
        if rng is None:
            continue
        t(0, f"m.{name} is not None and {c(rng.start)} <= m.{name} <= {c(rng.end)}", inv, name)
    policy = cond.fragment_policy
    if policy is FragmentPolicy.NONHEADER:
        t(0, f"m.ip_frag == {FRAG_LATER}", False, "ip_frag")
    elif policy is FragmentPolicy.HEADER:
        t(0, f"m.ip_frag != {FRAG_LATER}", False, "ip_frag")
    elif policy is FragmentPolicy.UNFRAGMENTED:
        t(0, f"m.ip_frag is None or m.ip_frag == {FRAG_NONE}", False, "ip_frag")


def _context_tests(b: _Builder, cond: Condition, view: TopologyView) -> None:
    """Tests of where the packet has been and of groups and connection state."""
    t, c = b.test, b.const
    if cond.traversed_device is not None:
        t(0, f"{c(cond.traversed_device)} in ctx.devices", cond.traversed_device_inv)
    for gid, inv, where in ((cond.port_group_id, cond.inv_port_group, "in"),
                            (cond.in_port_group_id, cond.inv_in_port_group, "in"),
                            (cond.out_port_group_id, cond.inv_out_port_group, "out")):
        if gid is not None:
            t(2, f"ctx.{where}_port in {c(_port_group(view, b, gid))}", inv)
    for name, gid, inv in (("ip_src", cond.ip_addr_group_id_src, cond.inv_ip_addr_group_id_src),
                           ("ip_dst", cond.ip_addr_group_id_dst, cond.inv_ip_addr_group_id_dst)):
        if gid is not None:
            t(2, f"m.{name} in {c(_ip_group(view, b, gid))}", inv, name)
    if cond.match_forward_flow:
        t(3, f"{c(conntrack.is_forward_flow)}(ctx)", False)
    if cond.match_return_flow:
        t(3, f"not {c(conntrack.is_forward_flow)}(ctx)", False)


def compile_rules(conditions: list[ConditionParts]) -> Callable[[Any, int], int]:
    """One function for a whole chain: ``first_match(ctx, start) -> rule index or -1``.

    Inlining every rule's test in one function saves a call per rule, the
    main cost of a long security-group chain. The wildcard gets the fields
    of every rule up to the one that matched.
    """
    lines = ["def first_match(ctx, start):", "    m = ctx.match"]
    namespace: dict[str, Any] = {}
    cumulative = 0
    for i, parts in enumerate(conditions):
        namespace.update(parts.consts)
        cumulative |= parts.bits
        lines.append(f"    if start <= {i} and {parts.expr}:")
        if cumulative:
            lines.append(f"        ctx.wc |= {cumulative}")
        lines.append(f"        return {i}")
    if cumulative:
        lines.append(f"    ctx.wc |= {cumulative}")
    lines.append("    return -1")
    source = "\n".join(lines)
    exec(compile(source, "<rule chain>", "exec"), namespace)  # noqa: S102 - generated above
    fn = namespace["first_match"]
    fn.source = source
    return fn
