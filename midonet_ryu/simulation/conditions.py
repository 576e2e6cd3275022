"""Rule conditions, compiled once into a tuple of small checks.

A ``Condition`` has some thirty fields; a rule usually sets two or three. The
compiled form keeps one closure per *set* field, so evaluating a rule costs
what it uses, and every check records the header fields it read (so a flow
that passed a chain still matches only what the chain looked at).
Inversion flags flip their own field; ``conjunction_inv`` flips the result.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from midonet_ryu.simulation import conntrack, tags
from midonet_ryu.simulation.addr import ip_to_int, mac_to_int, parse_cidr, prefix_mask
from midonet_ryu.simulation.cache import deps_of
from midonet_ryu.simulation.context import Context
from midonet_ryu.simulation.packet import FIELD_BIT, FRAG_LATER, FRAG_NONE
from midonet_ryu.topology.rules import Condition, FragmentPolicy, IPAddrGroup, PortGroup

Check = Callable[[Context], bool]
B = FIELD_BIT


class CompiledCondition:
    __slots__ = ("checks", "inv")

    def __init__(self, checks: tuple[Check, ...], inv: bool) -> None:
        self.checks = checks
        self.inv = inv

    def matches(self, ctx: Context) -> bool:
        for check in self.checks:
            if not check(ctx):
                return self.inv
        return not self.inv


def _field(name: str, pred: Callable[[Any], bool], inv: bool) -> Check:
    bit = B[name]

    def check(ctx: Context) -> bool:
        ctx.wc |= bit
        return pred(getattr(ctx.match, name)) != inv

    return check


def _mac(name: str, mac: str, mask: str | None, inv: bool) -> Check:
    m = mac_to_int(mask) if mask else 0xFFFFFFFFFFFF
    want = mac_to_int(mac) & m
    return _field(name, lambda v: v is not None and mac_to_int(v) & m == want, inv)


def _subnet(name: str, cidr: str, inv: bool) -> Check:
    net, plen = parse_cidr(cidr)
    mask = prefix_mask(plen)
    return _field(name, lambda v: v is not None and v & mask == net, inv)


def _range(name: str, start: int, end: int, inv: bool) -> Check:
    return _field(name, lambda v: v is not None and start <= v <= end, inv)


def _port_group_members(ctx: Context, group_id: uuid.UUID) -> frozenset[uuid.UUID]:
    def build() -> tuple[frozenset[uuid.UUID], Any]:
        group = ctx.topology.get(PortGroup, group_id)
        members = frozenset(group.port_ids) if group is not None else frozenset()
        return members, deps_of([group]) if group else ((PortGroup, group_id, None),)

    return ctx.cache.get(("portgroup", group_id), build)


def ip_addr_group_members(ctx: Context, group_id: uuid.UUID) -> frozenset[int]:
    def build() -> tuple[frozenset[int], Any]:
        group = ctx.topology.get(IPAddrGroup, group_id)
        if group is None:
            return frozenset(), ((IPAddrGroup, group_id, None),)
        return frozenset(ip_to_int(a.ip_address) for a in group.ip_addr_ports), deps_of([group])

    return ctx.cache.get(("ipaddrgroup", group_id), build)


def _in_group(which: str, group_id: uuid.UUID, inv: bool) -> Check:
    tag = tags.port_group(group_id)

    def check(ctx: Context) -> bool:
        ctx.tags.add(tag)
        port_id = ctx.in_port if which == "in" else ctx.out_port
        return (port_id in _port_group_members(ctx, group_id)) != inv

    return check


def _ip_group(name: str, group_id: uuid.UUID, inv: bool) -> Check:
    bit = B[name]
    tag = tags.ip_addr_group(group_id)

    def check(ctx: Context) -> bool:
        ctx.wc |= bit
        ctx.tags.add(tag)
        return (getattr(ctx.match, name) in ip_addr_group_members(ctx, group_id)) != inv

    return check


def _fragment(policy: FragmentPolicy) -> Check:
    bit = B["ip_frag"]
    if policy is FragmentPolicy.NONHEADER:
        def pred(f: Any) -> bool:
            return f == FRAG_LATER
    elif policy is FragmentPolicy.HEADER:
        def pred(f: Any) -> bool:
            return f != FRAG_LATER
    else:  # UNFRAGMENTED
        def pred(f: Any) -> bool:
            return f is None or f == FRAG_NONE

    def check(ctx: Context) -> bool:
        ctx.wc |= bit
        return pred(ctx.match.ip_frag)

    return check


def compile_condition(cond: Condition) -> CompiledCondition:
    checks: list[Check] = []
    add = checks.append
    if cond.in_port_ids:
        ids = frozenset(cond.in_port_ids)
        inv = cond.in_port_inv
        add(lambda ctx: (ctx.in_port in ids) != inv)
    if cond.out_port_ids:
        oids = frozenset(cond.out_port_ids)
        oinv = cond.out_port_inv
        add(lambda ctx: (ctx.out_port in oids) != oinv)
    if cond.port_group_id is not None:
        add(_in_group("in", cond.port_group_id, cond.inv_port_group))
    if cond.in_port_group_id is not None:
        add(_in_group("in", cond.in_port_group_id, cond.inv_in_port_group))
    if cond.out_port_group_id is not None:
        add(_in_group("out", cond.out_port_group_id, cond.inv_out_port_group))
    if cond.dl_type is not None:
        dl_type = cond.dl_type
        add(_field("eth_type", lambda v: v == dl_type, cond.inv_dl_type))
    if cond.dl_src is not None:
        add(_mac("eth_src", cond.dl_src, cond.dl_src_mask, cond.inv_dl_src))
    if cond.dl_dst is not None:
        add(_mac("eth_dst", cond.dl_dst, cond.dl_dst_mask, cond.inv_dl_dst))
    if cond.vlan is not None:
        vlan = cond.vlan
        add(_field("vlan_id", lambda v: v == vlan, cond.vlan_inv))
    if cond.no_vlan:
        add(_field("vlan_id", lambda v: v is None, False))
    if cond.nw_tos is not None:
        tos = cond.nw_tos
        add(_field("ip_tos", lambda v: v == tos, cond.nw_tos_inv))
    if cond.nw_proto is not None:
        proto = cond.nw_proto
        add(_field("ip_proto", lambda v: v == proto, cond.nw_proto_inv))
    if cond.nw_src_ip is not None:
        add(_subnet("ip_src", cond.nw_src_ip, cond.nw_src_inv))
    if cond.nw_dst_ip is not None:
        add(_subnet("ip_dst", cond.nw_dst_ip, cond.nw_dst_inv))
    if cond.ip_addr_group_id_src is not None:
        add(_ip_group("ip_src", cond.ip_addr_group_id_src, cond.inv_ip_addr_group_id_src))
    if cond.ip_addr_group_id_dst is not None:
        add(_ip_group("ip_dst", cond.ip_addr_group_id_dst, cond.inv_ip_addr_group_id_dst))
    if cond.tp_src is not None:
        add(_range("tp_src", cond.tp_src.start, cond.tp_src.end, cond.tp_src_inv))
    if cond.tp_dst is not None:
        add(_range("tp_dst", cond.tp_dst.start, cond.tp_dst.end, cond.tp_dst_inv))
    if cond.fragment_policy is not FragmentPolicy.ANY:
        add(_fragment(cond.fragment_policy))
    if cond.traversed_device is not None:
        dev = cond.traversed_device
        tinv = cond.traversed_device_inv
        add(lambda ctx: (dev in ctx.devices) != tinv)
    if cond.match_forward_flow:
        add(conntrack.is_forward_flow)
    if cond.match_return_flow:
        add(lambda ctx: not conntrack.is_forward_flow(ctx))
    return CompiledCondition(tuple(checks), cond.conjunction_inv)


__all__ = ["CompiledCondition", "compile_condition", "ip_addr_group_members"]
