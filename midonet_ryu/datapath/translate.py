"""Simulation results to OpenFlow 1.3 matches and actions (pure).

Virtual ports become datapath actions here: a port bound to this host is an
``output``; a port bound elsewhere is ``set_field:tunnel_id`` (that port's
tunnel key) + ``set_field:tun_ipv4_dst`` (its host's underlay address) +
``output`` to the flow-based tunnel port; a port nobody serves is skipped.
The match holds only the fields the simulation read (plus the OpenFlow
prerequisites of those fields), so one flow serves every packet that would
have taken the same path.
"""
from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from os_ken.ofproto import ofproto_v1_3 as ofp

from midonet_ryu.simulation import addr
from midonet_ryu.simulation.packet import (
    FRAG_FIRST,
    FRAG_LATER,
    FRAG_NONE,
    PROTO_SCTP,
    PROTO_TCP,
    PROTO_UDP,
    FlowMatch,
)
from midonet_ryu.simulation.result import SetField, ToPort

ETH_IPV4 = 0x0800
ETH_ARP = 0x0806


@dataclasses.dataclass(frozen=True, slots=True)
class LocalPort:
    ofport: int


@dataclasses.dataclass(frozen=True, slots=True)
class RemotePort:
    tunnel_ofport: int
    tunnel_key: int
    underlay_ip: str


PortLocation = LocalPort | RemotePort
PortLocator = Callable[[uuid.UUID], PortLocation | None]

# FlowMatch fields that OpenFlow (with OVS's extensions) cannot match: a
# result that depends on them is executed by packet-out only, never cached.
UNMATCHABLE = frozenset({"icmp_id"})

_IP_FIELDS = frozenset({"ip_src", "ip_dst", "ip_proto", "ip_tos", "ip_ttl", "ip_frag",
                        "tp_src", "tp_dst", "icmp_type", "icmp_code", "icmp_id"})
_ARP_FIELDS = frozenset({"arp_op", "arp_spa", "arp_tpa", "arp_sha", "arp_tha"})
_L4_FIELDS = frozenset({"tp_src", "tp_dst"})
_ICMP_FIELDS = frozenset({"icmp_type", "icmp_code"})
_TP_NAMES = {PROTO_TCP: ("tcp_src", "tcp_dst"), PROTO_UDP: ("udp_src", "udp_dst"),
             PROTO_SCTP: ("sctp_src", "sctp_dst")}
# OVS's ip_frag bits: 1 = is a fragment, 2 = not the first one
_FRAG_VALUE = {FRAG_NONE: (0, 3), FRAG_FIRST: (1, 3), FRAG_LATER: (3, 3)}


class Untranslatable(ValueError):
    """The result cannot be expressed as a flow; execute it per packet."""


def _tp_name(proto: int | None, field: str) -> str:
    names = _TP_NAMES.get(proto or -1)
    if names is None:
        raise Untranslatable(f"transport ports of IP protocol {proto}")
    return names[0] if field == "tp_src" else names[1]


_IP_OXM_PREFIXES = ("ipv4", "ip_", "tcp", "udp", "sctp", "icmpv4", "nw_")

# Wire order of match fields. Open vSwitch checks each field's prerequisites
# in the order the fields arrive, and OS-Ken's own sort (by OXM number) puts
# Nicira fields such as nw_ttl and ip_frag before eth_type: OVS then refuses
# the flow (OFPBMC_BAD_PREREQ). So the match is built in this order instead.
_WIRE_ORDER = (
    "in_port", "eth_dst", "eth_src", "vlan_vid", "eth_type", "ip_dscp", "ip_proto",
    "ipv4_src", "ipv4_dst", "tcp_src", "tcp_dst", "udp_src", "udp_dst", "sctp_src",
    "sctp_dst", "icmpv4_type", "icmpv4_code", "arp_op", "arp_spa", "arp_tpa", "arp_sha",
    "arp_tha", "nw_ttl", "ip_frag",
)


def build_match(match: FlowMatch, fields: Iterable[str], in_ofport: int) -> list[tuple[str, Any]]:
    """The OpenFlow match for the header ``fields`` a simulation read, as
    (OXM field name, raw value) pairs in wire order (see ``ofwire``)."""
    fields = set(fields)
    if match.icmp_id is None:
        # a packet that is not an ICMP echo has no identifier: reading the
        # field (conntrack and NAT look for it) constrains nothing
        fields.discard("icmp_id")
    bad = fields & UNMATCHABLE
    if bad:
        raise Untranslatable(f"cannot match on {', '.join(sorted(bad))}")
    fields.discard("in_port")
    kw: dict[str, Any] = {"in_port": in_ofport}
    if fields & (_IP_FIELDS | _ARP_FIELDS):
        fields.add("eth_type")
    if fields & (_L4_FIELDS | _ICMP_FIELDS):
        fields.add("ip_proto")
    for name in fields:
        value = getattr(match, name)
        if value is None and name not in ("vlan_id", "ip_frag"):
            continue  # a header this packet does not have (IP fields of an ARP frame)
        if name == "eth_src":
            kw["eth_src"] = value
        elif name == "eth_dst":
            kw["eth_dst"] = value
        elif name == "eth_type":
            kw["eth_type"] = value
        elif name == "vlan_id":
            kw["vlan_vid"] = ofp.OFPVID_NONE if value is None else (ofp.OFPVID_PRESENT | value)
        elif name == "ip_src":
            kw["ipv4_src"] = value
        elif name == "ip_dst":
            kw["ipv4_dst"] = value
        elif name == "ip_proto":
            kw["ip_proto"] = value
        elif name == "ip_tos":
            kw["ip_dscp"] = value >> 2
        elif name == "ip_ttl":
            kw["nw_ttl"] = value
        elif name == "ip_frag":
            kw["ip_frag"] = _FRAG_VALUE[value or FRAG_NONE]
        elif name in _L4_FIELDS:
            if value is not None:
                kw[_tp_name(match.ip_proto, name)] = value
        elif name == "icmp_type":
            kw["icmpv4_type"] = value
        elif name == "icmp_code":
            kw["icmpv4_code"] = value
        elif name in ("arp_op", "arp_sha", "arp_tha", "arp_spa", "arp_tpa"):
            kw[name] = value
    # Only the fields of the L3 protocol the packet has: OVS refuses an IP
    # field on an ARP flow (and the reverse) as a broken prerequisite.
    if match.eth_type == ETH_IPV4:
        dropped: tuple[str, ...] = ("arp",)
    elif match.eth_type == ETH_ARP:
        dropped = _IP_OXM_PREFIXES
    else:
        dropped = _IP_OXM_PREFIXES + ("arp",)
    for key in [k for k in kw if k.startswith(dropped)]:
        del kw[key]
    return [(k, kw[k]) for k in _WIRE_ORDER if kw.get(k) is not None]


def set_field_action(name: str, value: Any, match: FlowMatch) -> tuple:
    if name in ("eth_src", "eth_dst"):
        return ("set_field", name, value)
    if name in ("ip_src", "ip_dst"):
        return ("set_field", "ipv4_src" if name == "ip_src" else "ipv4_dst", value)
    if name in _L4_FIELDS:
        return ("set_field", _tp_name(match.ip_proto, name), value)
    if name == "ip_ttl":
        return ("set_field", "nw_ttl", value)
    if name == "vlan_id":
        return ("set_field", "vlan_vid", ofp.OFPVID_PRESENT | value)
    raise Untranslatable(f"cannot rewrite {name}")


def build_actions(result_actions: Iterable[Any], match: FlowMatch | None, in_ofport: int,
                  locate: PortLocator) -> list[tuple]:
    """OpenFlow actions for a result's virtual actions, in order (``ofwire``
    action tuples).

    Tunnel outputs set the tunnel metadata right before each output, so
    floods to several remote ports each carry their own key.
    """
    out: list[tuple] = []
    vlan = match.vlan_id if match is not None else None  # the tag the packet has now
    for action in result_actions:
        if isinstance(action, ToPort):
            where = locate(action.port_id)
            if where is None:
                continue
            if isinstance(where, LocalPort):
                port = ofp.OFPP_IN_PORT if where.ofport == in_ofport else where.ofport
                out.append(("output", port))
            else:
                out.append(("set_field", "tunnel_id", where.tunnel_key))
                out.append(("set_field", "tun_ipv4_dst", addr.ip_to_int(where.underlay_ip)))
                out.append(("output", where.tunnel_ofport))
        elif isinstance(action, SetField):
            if action.name == "vlan_id":
                if action.value is None:
                    if vlan is not None:
                        out.append(("pop_vlan",))
                else:
                    if vlan is None:
                        out.append(("push_vlan", 0x8100))
                    out.append(set_field_action("vlan_id", action.value, match))
                vlan = action.value
            else:
                out.append(set_field_action(action.name, action.value, match))
        else:
            raise Untranslatable(f"unknown virtual action {action!r}")
    return out
