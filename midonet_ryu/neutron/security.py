"""Security groups and address groups.

A security group is two chains of ACCEPT rules, one per direction, that the
ports of the group jump to (:mod:`l2`), and an IP address group holding its
ports' addresses (their contributions), which rules of other groups name as
their remote group. A group arrives with all its rules, so a rule added or
removed is the group sent again, and the chains are rebuilt from the list.

Rules of ethertype IPv6 are kept in Neutron but translate into nothing:
there are no IPv6 subnets here (:func:`l2.subnet` refuses them), and the
default group's IPv6 rule must not make the group fail.
"""
from __future__ import annotations

import ipaddress
import uuid
from typing import Any

from midonet_ryu.neutron.desired import Desired
from midonet_ryu.neutron.errors import TranslationError
from midonet_ryu.neutron.ids import as_uuid, derived
from midonet_ryu.neutron.inputs import Inputs
from midonet_ryu.neutron.l2 import ETH_IPV4, ipv4_cidr, name_of, tenant_of
from midonet_ryu.topology.rules import (
    Chain,
    Condition,
    IPAddrGroup,
    IPAddrPorts,
    PortRange,
    Rule,
    RuleAction,
)

PROTOCOLS = {"tcp": 6, "udp": 17, "icmp": 1, "sctp": 132, "gre": 47, "esp": 50, "ah": 51,
             "igmp": 2, "vrrp": 112}
_WITH_PORTS = (6, 17, 132)
_ICMP = 1


def security_group(body: dict[str, Any], inputs: Inputs) -> Desired:
    group_id = as_uuid(body.get("id"), "id")
    tenant, name = tenant_of(body), name_of(body)
    out = Desired()
    chains = {direction: derived(group_id, direction) for direction in ("ingress", "egress")}
    for direction, chain_id in chains.items():
        out.add(Chain(id=chain_id, name=f"OS_SG_{group_id}_{direction.upper()}",
                      tenant_id=tenant))
    out.add(IPAddrGroup(id=group_id, name=name, tenant_id=tenant))
    out.kept[group_id] = ("ip_addr_ports",)  # its ports' contributions
    for raw in body.get("security_group_rules") or ():
        rule = security_group_rule(raw, chains)
        if rule is not None:
            out.add(rule)
    return out


def protocol_number(value: Any) -> int | None:
    if value in (None, "", "any"):
        return None
    text = str(value).lower()
    if text in PROTOCOLS:
        return PROTOCOLS[text]
    if text.isdigit() and 0 <= int(text) <= 255:
        return int(text)
    raise TranslationError(f"protocol {value!r} is not supported")


def _range(low: Any, high: Any, limit: int, what: str) -> PortRange | None:
    if low is None and high is None:
        return None
    start = int(low if low is not None else 0)
    end = int(high if high is not None else limit)
    if not 0 <= start <= end <= limit:
        raise TranslationError(f"{what} {low}-{high} is not a range within 0-{limit}")
    return PortRange(start, end)


def security_group_rule(raw: dict[str, Any], chains: dict[str, uuid.UUID]) -> Rule | None:
    rule_id = as_uuid(raw.get("id"), "security_group_rules id")
    if str(raw.get("ethertype") or "IPv4") != "IPv4":
        return None
    direction = raw.get("direction")
    if direction not in chains:
        raise TranslationError(f"rule {rule_id}: direction {direction!r} is not "
                               "ingress or egress")
    # ingress: traffic to the VM, whose remote end is the source
    side = "src" if direction == "ingress" else "dst"
    cond: dict[str, Any] = {"dl_type": ETH_IPV4}
    proto = protocol_number(raw.get("protocol"))
    if proto is not None:
        cond["nw_proto"] = proto
    low, high = raw.get("port_range_min"), raw.get("port_range_max")
    if proto in _WITH_PORTS:
        cond["tp_dst"] = _range(low, high, 65535, "port range")
    elif proto == _ICMP and low is not None:
        # as in Neutron: the minimum is the ICMP type, the maximum the code
        cond["tp_src"] = _range(low, low, 255, "ICMP type")
        if high is not None:
            cond["tp_dst"] = _range(high, high, 255, "ICMP code")
    prefix = raw.get("remote_ip_prefix")
    if prefix and ipv4_cidr(prefix, "remote_ip_prefix") != "0.0.0.0/0":
        cond[f"nw_{side}_ip"] = ipv4_cidr(prefix, "remote_ip_prefix")
    for key in ("remote_group_id", "remote_address_group_id"):
        if raw.get(key):
            cond[f"ip_addr_group_id_{side}"] = as_uuid(raw[key], key)
    return Rule(id=rule_id, chain_id=chains[direction], action=RuleAction.ACCEPT,
                condition=Condition(**cond))


def address_group(body: dict[str, Any], inputs: Inputs) -> Desired:
    group_id = as_uuid(body.get("id"), "id")
    members = []
    for address in body.get("addresses") or ():
        net = ipaddress.IPv4Network(ipv4_cidr(address, "addresses"))
        if net.prefixlen != 32:
            raise TranslationError(
                f"address group {group_id}: {address} is a prefix; address groups "
                "hold host addresses (/32) only here")
        members.append(IPAddrPorts(str(net.network_address)))
    out = Desired()
    out.add(IPAddrGroup(id=group_id, name=name_of(body), tenant_id=tenant_of(body),
                        ip_addr_ports=tuple(members)))
    return out
