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


# FlowMatch field -> (OXM field, value conversion or None)
_OXM_OF: dict[str, tuple[str, Callable[[Any], Any] | None]] = {
    "eth_src": ("eth_src", None), "eth_dst": ("eth_dst", None),
    "eth_type": ("eth_type", None),
    "vlan_id": ("vlan_vid", lambda v: ofp.OFPVID_NONE if v is None else ofp.OFPVID_PRESENT | v),
    "ip_src": ("ipv4_src", None), "ip_dst": ("ipv4_dst", None),
    "ip_proto": ("ip_proto", None), "ip_tos": ("ip_dscp", lambda v: v >> 2),
    "ip_ttl": ("nw_ttl", None),
    "ip_frag": ("ip_frag", lambda v: _FRAG_VALUE[v or FRAG_NONE]),
    "icmp_type": ("icmpv4_type", None), "icmp_code": ("icmpv4_code", None),
    "arp_op": ("arp_op", None), "arp_spa": ("arp_spa", None), "arp_tpa": ("arp_tpa", None),
    "arp_sha": ("arp_sha", None), "arp_tha": ("arp_tha", None),
}
# fields a packet without that header still matches: "no VLAN tag", "not a fragment"
_ABSENT_MATCHES = frozenset({"vlan_id", "ip_frag"})
_RANK = {name: i for i, name in enumerate(_WIRE_ORDER)}
_L3_OF_FIELD = {name: ("ip" if name in _IP_FIELDS else "arp" if name in _ARP_FIELDS else None)
                for name in (*_OXM_OF, "tp_src", "tp_dst")}
_L3_OF_ETH_TYPE = {ETH_IPV4: "ip", ETH_ARP: "arp"}


def build_match(match: FlowMatch, fields: Iterable[str], in_ofport: int) -> list[tuple[str, Any]]:
    """The OpenFlow match for the header ``fields`` a simulation read, as
    (OXM field name, raw value) pairs in wire order (see ``ofwire``).

    Only fields of the L3 protocol the packet has are kept: OVS refuses an
    IP field on an ARP flow (and the reverse) as a broken prerequisite; a
    header the packet does not have constrains nothing."""
    fields = set(fields)
    if match.icmp_id is None:
        # a packet that is not an ICMP echo has no identifier: reading the
        # field (conntrack and NAT look for it) constrains nothing
        fields.discard("icmp_id")
    if fields & UNMATCHABLE:
        raise Untranslatable(f"cannot match on {', '.join(sorted(fields & UNMATCHABLE))}")
    if fields & (_IP_FIELDS | _ARP_FIELDS):
        fields.add("eth_type")
    if fields & (_L4_FIELDS | _ICMP_FIELDS):
        fields.add("ip_proto")
    l3 = _L3_OF_ETH_TYPE.get(match.eth_type)
    out: list[tuple[str, Any]] = [("in_port", in_ofport)]
    for name in fields:
        family = _L3_OF_FIELD.get(name, "unknown")
        if family is not None and family != l3:
            continue  # another L3 protocol's field, or not a header field
        value = getattr(match, name)
        if value is None and name not in _ABSENT_MATCHES:
            continue
        if name in _L4_FIELDS:
            out.append((_tp_name(match.ip_proto, name), value))
            continue
        oxm, convert = _OXM_OF[name]
        out.append((oxm, value if convert is None else convert(value)))
    out.sort(key=lambda pair: _RANK[pair[0]])
    return out


def set_field_action(name: str, value: Any, match: FlowMatch | None) -> tuple[Any, ...]:
    if name in ("eth_src", "eth_dst"):
        return ("set_field", name, value)
    if name in ("ip_src", "ip_dst"):
        return ("set_field", "ipv4_src" if name == "ip_src" else "ipv4_dst", value)
    if name in _L4_FIELDS:
        return ("set_field", _tp_name(match.ip_proto if match is not None else None, name), value)
    if name == "ip_ttl":
        return ("set_field", "nw_ttl", value)
    if name == "vlan_id":
        return ("set_field", "vlan_vid", ofp.OFPVID_PRESENT | value)
    raise Untranslatable(f"cannot rewrite {name}")


def build_actions(result_actions: Iterable[Any], match: FlowMatch | None, in_ofport: int,
                  locate: PortLocator) -> list[tuple[Any, ...]]:
    """OpenFlow actions for a result's virtual actions, in order (``ofwire``
    action tuples).

    Tunnel outputs set the tunnel metadata right before each output, so
    floods to several remote ports each carry their own key.
    """
    out: list[tuple[Any, ...]] = []
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
