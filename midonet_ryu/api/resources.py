"""The REST API's resources, declared once: the server, its OpenAPI document
and ``midonet-cli`` all read this table.

Each :class:`Resource` names its collection (MidoNet's URI segment), the model
class behind it, its vendor media type (``application/vnd.org.midonet.<media>+json``),
its JSON fields (derived from the model by :func:`fields.model_fields`), the
parents it can be listed and created under (``bridges/{id}/ports`` sets
``network_id``), its link URIs, and how a tenant owns it.
"""
from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from typing import Any

from midonet_ryu.api import schemas
from midonet_ryu.api.fields import (
    AnyField,
    Changes,
    Derived,
    FieldError,
    cidr_pair,
    enum_choice,
    model_fields,
)
from midonet_ryu.topology.base import ModelObject
from midonet_ryu.topology.dhcp import Dhcp
from midonet_ryu.topology.lb import HealthMonitor, LoadBalancer, Pool, PoolMember, Vip
from midonet_ryu.topology.model import Host, Network, Port, TunnelZone
from midonet_ryu.topology.router import NextHop, Route, Router
from midonet_ryu.topology.rules import (
    Chain,
    IPAddrGroup,
    NatRuleData,
    NatTarget,
    PortGroup,
    Rule,
    RuleAction,
    RuleType,
)
from midonet_ryu.topology.trace import TraceRequest

VENDOR = "application/vnd.org.midonet."


@dataclasses.dataclass(frozen=True)
class Parent:
    """``<parent.collection>/{id}/<child>`` lists the children whose ``attr`` is the id."""

    collection: str
    attr: str


@dataclasses.dataclass(frozen=True)
class Link:
    """A URI in the representation: ``target`` is a collection name and
    ``attr`` the id attribute it points at (None: a sub-resource of this object)."""

    name: str
    target: str
    attr: str | None = None


@dataclasses.dataclass(frozen=True)
class Resource:
    collection: str
    cls: type[ModelObject]
    media: str  # e.g. "Bridge-v4"
    fields: tuple[AnyField, ...]
    parents: tuple[Parent, ...] = ()
    links: tuple[Link, ...] = ()
    # How a tenant owns an object: its ``tenant_id`` field, or the resource
    # and attribute to follow (a port belongs to its bridge's tenant); None:
    # infrastructure (hosts, tunnel zones), writable by admins only.
    owner: str | tuple[str, ...] | None = None
    creatable: bool = True
    # a sub-resource only (``bridges/{id}/dhcp``): no top-level collection
    top_level: bool = True
    # the sub-resource of this object served by a special handler
    specials: tuple[str, ...] = ()

    @property
    def media_type(self) -> str:
        return f"{VENDOR}{self.media}+json"

    @property
    def collection_media_type(self) -> str:
        return f"{VENDOR}collection.{self.media}+json"

    @property
    def singular(self) -> str:
        return self.media.split("-v")[0]

    def field(self, name: str) -> AnyField | None:
        for f in self.fields:
            if f.name == name:
                return f
        return None

    def schema(self, write: bool) -> dict[str, Any]:
        """The object's JSON Schema; ``write``: what a client may send (read-only
        fields and links are listed, marked ``readOnly``, and ignored)."""
        props: dict[str, Any] = {"uri": {"type": "string", "readOnly": True}}
        for f in self.fields:
            s = dict(f.schema)
            if f.read_only:
                s["readOnly"] = True
            props[f.name] = s
        for link in self.links:
            props[link.name] = {"type": ["string", "null"], "readOnly": True}
        for extra, s in _EXTRA_READ_ONLY.get(self.collection, {}).items():
            props[extra] = dict(s, readOnly=True)
        if write:
            for extra, s in _WRITE_ONLY.get(self.collection, {}).items():
                props[extra] = s
        return {"type": "object", "properties": props, "additionalProperties": False,
                "title": self.singular}


# --- ports -------------------------------------------------------------------

def _port_type_set(changes: Changes, value: str) -> None:
    changes[("__type__",)] = value


def _port_device_set(changes: Changes, raw: Any, body: Mapping[str, Any]) -> None:
    if raw is None:
        return
    try:
        device = uuid.UUID(raw)
    except ValueError:
        raise FieldError("deviceId", f"deviceId: {raw!r} is not a UUID") from None
    kind = body.get("type")
    if kind not in ("Bridge", "Router"):
        raise FieldError("type", "type: 'Bridge' or 'Router' is needed with deviceId")
    changes[("network_id" if kind == "Bridge" else "router_id",)] = device


_PORT_FIELDS: tuple[AnyField, ...] = (
    *model_fields(Port, read_only=frozenset({"peer_id", "host_id", "interface_name"})),
    enum_choice("type", {"Bridge": lambda p: p.network_id is not None,
                         "Router": lambda p: p.router_id is not None}, _port_type_set),
    Derived("deviceId", schemas.nullable({"type": "string", "format": "uuid"}),
            lambda p: str(p.network_id or p.router_id or "") or None, _port_device_set,
            create_only=True),
    *cidr_pair(("port_subnet",), "networkAddress", "networkLength", None),
)

# --- rules (MidoNet's Rule DTO is flat: the condition's fields are top-level) ---

_CONDITION_NAMES = {
    "conjunction_inv": "condInvert", "in_port_ids": "inPorts", "in_port_inv": "invInPorts",
    "out_port_ids": "outPorts", "out_port_inv": "invOutPorts", "port_group_id": "portGroup",
    "inv_port_group": "invPortGroup", "in_port_group_id": "inPortGroup",
    "inv_in_port_group": "invInPortGroup", "out_port_group_id": "outPortGroup",
    "inv_out_port_group": "invOutPortGroup", "ip_addr_group_id_src": "ipAddrGroupSrc",
    "inv_ip_addr_group_id_src": "invIpAddrGroupSrc", "ip_addr_group_id_dst": "ipAddrGroupDst",
    "inv_ip_addr_group_id_dst": "invIpAddrGroupDst", "nw_tos_inv": "invNwTos",
    "nw_proto_inv": "invNwProto", "nw_src_inv": "invNwSrc", "nw_dst_inv": "invNwDst",
    "tp_src_inv": "invTpSrc", "tp_dst_inv": "invTpDst", "traversed_device_inv":
    "invTraversedDevice", "vlan_inv": "invVlan", "inv_dl_type": "invDlType",
    "inv_dl_src": "invDlSrc", "inv_dl_dst": "invDlDst",
}

_RULE_TYPES: dict[str, tuple[RuleType, RuleAction | None, bool | None, bool | None]] = {
    # MidoNet's rule type -> (our type, literal action, nat dnat, nat reverse)
    "accept": (RuleType.LITERAL_RULE, RuleAction.ACCEPT, None, None),
    "continue": (RuleType.LITERAL_RULE, RuleAction.CONTINUE, None, None),
    "drop": (RuleType.LITERAL_RULE, RuleAction.DROP, None, None),
    "reject": (RuleType.LITERAL_RULE, RuleAction.REJECT, None, None),
    "return": (RuleType.LITERAL_RULE, RuleAction.RETURN, None, None),
    "jump": (RuleType.JUMP_RULE, RuleAction.JUMP, None, None),
    "dnat": (RuleType.NAT_RULE, None, True, False),
    "snat": (RuleType.NAT_RULE, None, False, False),
    "rev_dnat": (RuleType.NAT_RULE, None, True, True),
    "rev_snat": (RuleType.NAT_RULE, None, False, True),
}


def _rule_type(rule: Rule) -> str:
    if rule.type is RuleType.NAT_RULE:
        nat = rule.nat_rule_data or NatRuleData()
        return ("rev_" if nat.reverse else "") + ("dnat" if nat.dnat else "snat")
    if rule.type is RuleType.JUMP_RULE:
        return "jump"
    return rule.action.value


def _rule_type_set(changes: Changes, raw: Any, body: Mapping[str, Any]) -> None:
    kind, action, dnat, reverse = _RULE_TYPES[raw]
    changes[("type",)] = kind
    if action is not None:
        changes[("action",)] = action
        changes[("nat_rule_data",)] = None  # a rule made literal keeps no NAT targets
    else:
        flow = body.get("flowAction") or "accept"
        changes[("action",)] = RuleAction(flow)
        targets = changes.get(("__nat_targets__",), ())
        changes[("nat_rule_data",)] = NatRuleData(dnat=bool(dnat), reverse=bool(reverse),
                                                  nat_targets=targets)


def _nat_targets_get(rule: Rule) -> list[dict[str, Any]] | None:
    if rule.nat_rule_data is None:
        return None
    return [{"addressFrom": t.nw_start, "addressTo": t.nw_end, "portFrom": t.tp_start,
             "portTo": t.tp_end} for t in rule.nat_rule_data.nat_targets]


def _nat_targets_set(changes: Changes, raw: Any, body: Mapping[str, Any]) -> None:
    targets = tuple(NatTarget(nw_start=t["addressFrom"], nw_end=t["addressTo"],
                              tp_start=t.get("portFrom", 0), tp_end=t.get("portTo", 0))
                    for t in raw or ())
    changes[("__nat_targets__",)] = targets
    nat = changes.get(("nat_rule_data",))
    if nat is not None:
        changes[("nat_rule_data",)] = dataclasses.replace(nat, nat_targets=targets)


_NAT_TARGET_SCHEMA = {
    "type": ["array", "null"], "maxItems": 64,
    "items": {"type": "object", "additionalProperties": False,
              "required": ["addressFrom", "addressTo"],
              "properties": {"addressFrom": {"type": "string", "format": "ipv4"},
                             "addressTo": {"type": "string", "format": "ipv4"},
                             "portFrom": {"type": "integer", "minimum": 0, "maximum": 65535},
                             "portTo": {"type": "integer", "minimum": 0, "maximum": 65535}}}}

_RULE_FIELDS: tuple[AnyField, ...] = (
    *model_fields(Rule, flatten={"condition": _CONDITION_NAMES},
                  hidden=frozenset({"type", "action", "nat_rule_data", "nw_src_ip",
                                    "nw_dst_ip"})),
    Derived("type", {"type": "string", "enum": list(_RULE_TYPES)}, _rule_type, _rule_type_set),
    Derived("flowAction", schemas.nullable({"type": "string",
                                            "enum": ["accept", "continue", "return"]}),
            lambda r: r.action.value if r.type is RuleType.NAT_RULE else None,
            lambda changes, raw, body: None),
    Derived("natTargets", _NAT_TARGET_SCHEMA, _nat_targets_get, _nat_targets_set),
    *cidr_pair(("condition", "nw_src_ip"), "nwSrcAddress", "nwSrcLength", None),
    *cidr_pair(("condition", "nw_dst_ip"), "nwDstAddress", "nwDstLength", None),
)

# --- routes -------------------------------------------------------------------

_ROUTE_TYPES = {"Normal": NextHop.PORT, "BlackHole": NextHop.BLACKHOLE,
                "Reject": NextHop.REJECT, "Local": NextHop.LOCAL}

def _next_hop_is(hop: NextHop) -> Any:
    return lambda route: route.next_hop is hop


_ROUTE_FIELDS: tuple[AnyField, ...] = (
    *model_fields(Route, renames={"next_hop_port_id": "nextHopPort"},
                  hidden=frozenset({"src_subnet", "dst_subnet", "next_hop"})),
    enum_choice("type", {name: _next_hop_is(hop) for name, hop in _ROUTE_TYPES.items()},
                lambda changes, raw: changes.__setitem__(("next_hop",), _ROUTE_TYPES[raw])),
    *cidr_pair(("src_subnet",), "srcNetworkAddr", "srcNetworkLength", "0.0.0.0/0"),
    *cidr_pair(("dst_subnet",), "dstNetworkAddr", "dstNetworkLength", "0.0.0.0/0"),
)

# --- the table ------------------------------------------------------------------

_FILTER_LINKS = (Link("inboundFilter", "chains", "inbound_filter_id"),
                 Link("outboundFilter", "chains", "outbound_filter_id"))

RESOURCES: tuple[Resource, ...] = (
    Resource("bridges", Network, "Bridge-v4", tuple(model_fields(Network)),
             links=(Link("ports", "ports"), Link("macTable", "mac_table"),
                    Link("arpTable", "arp_table"), Link("dhcpSubnets", "dhcp"),
                    *_FILTER_LINKS),
             owner="tenant_id", specials=("mac_table", "arp_table")),
    Resource("routers", Router, "Router-v3", tuple(model_fields(Router)),
             links=(Link("ports", "ports"), Link("routes", "routes"),
                    Link("arpTable", "arp_table"),
                    Link("loadBalancer", "load_balancers", "load_balancer_id"),
                    *_FILTER_LINKS),
             owner="tenant_id", specials=("arp_table",)),
    Resource("ports", Port, "Port-v3", _PORT_FIELDS,
             parents=(Parent("bridges", "network_id"), Parent("routers", "router_id")),
             links=(Link("peer", "ports", "peer_id"), Link("host", "hosts", "host_id"),
                    Link("link", "link"), *_FILTER_LINKS),
             owner=("network_id", "router_id")),
    Resource("chains", Chain, "Chain-v1", tuple(model_fields(Chain)),
             links=(Link("rules", "rules"),), owner="tenant_id"),
    Resource("rules", Rule, "Rule-v2", _RULE_FIELDS,
             parents=(Parent("chains", "chain_id"),),
             links=(Link("chain", "chains", "chain_id"),), owner=("chain_id",)),
    Resource("routes", Route, "Route-v1", _ROUTE_FIELDS,
             parents=(Parent("routers", "router_id"),),
             links=(Link("router", "routers", "router_id"),), owner=("router_id",)),
    Resource("port_groups", PortGroup, "PortGroup-v1",
             tuple(model_fields(PortGroup, read_only=frozenset({"port_ids"}))),
             links=(Link("ports", "ports"),), owner="tenant_id", specials=("ports",)),
    Resource("ip_addr_groups", IPAddrGroup, "IpAddrGroup-v1",
             tuple(model_fields(IPAddrGroup, read_only=frozenset({"ip_addr_ports"}))),
             links=(Link("addrs", "ip_addrs"),), owner="tenant_id", specials=("ip_addrs",)),
    Resource("hosts", Host, "Host-v3",
             tuple(model_fields(Host, read_only=frozenset({"name"}))),
             links=(Link("ports", "ports"), Link("interfaces", "interfaces")),
             creatable=False, specials=("ports", "interfaces")),
    Resource("tunnel_zones", TunnelZone, "TunnelZone-v1",
             # members and their addresses: the hosts sub-resource (MidoNet's
             # TunnelZone has a hosts URI, not the list)
             tuple(model_fields(TunnelZone, read_only=frozenset({"host_ids"}),
                                hidden=frozenset({"hosts"}))),
             links=(Link("hosts", "hosts"),), specials=("hosts",)),
    Resource("load_balancers", LoadBalancer, "LoadBalancer-v1",
             tuple(model_fields(LoadBalancer)),
             links=(Link("pools", "pools"), Link("router", "routers", "router_id")),
             owner=("router_id",)),
    Resource("pools", Pool, "Pool-v1", tuple(model_fields(Pool)),
             parents=(Parent("load_balancers", "load_balancer_id"),),
             links=(Link("poolMembers", "pool_members"), Link("vips", "vips"),
                    Link("loadBalancer", "load_balancers", "load_balancer_id"),
                    Link("healthMonitor", "health_monitors", "health_monitor_id")),
             owner=("load_balancer_id",)),
    # pools name their monitor (Pool.healthMonitorId); poolIds is what the store keeps
    Resource("health_monitors", HealthMonitor, "HealthMonitor-v1",
             tuple(model_fields(HealthMonitor, read_only=frozenset({"pool_ids"}))),
             owner="tenant_id"),
    Resource("pool_members", PoolMember, "PoolMember-v1", tuple(model_fields(PoolMember)),
             parents=(Parent("pools", "pool_id"),),
             links=(Link("pool", "pools", "pool_id"),), owner=("pool_id",)),
    Resource("vips", Vip, "VIP-v1", tuple(model_fields(Vip)),
             parents=(Parent("pools", "pool_id"),),
             links=(Link("pool", "pools", "pool_id"),), owner=("pool_id",)),
    Resource("traces", TraceRequest, "TraceRequest-v1",
             tuple(model_fields(TraceRequest, flatten={"condition": _CONDITION_NAMES},
                                read_only=frozenset({"creation_timestamp_ms"}),
                                hidden=frozenset({"nw_src_ip", "nw_dst_ip"}))) + (
                 *cidr_pair(("condition", "nw_src_ip"), "nwSrcAddress", "nwSrcLength", None),
                 *cidr_pair(("condition", "nw_dst_ip"), "nwDstAddress", "nwDstLength", None)),
             links=(Link("flows", "flows"),), owner="tenant_id"),
    Resource("dhcp", Dhcp, "DhcpSubnet-v2", tuple(model_fields(Dhcp)),
             parents=(Parent("bridges", "network_id"),),
             links=(Link("bridge", "bridges", "network_id"),), owner=("network_id",)),
)

BY_COLLECTION: dict[str, Resource] = {r.collection: r for r in RESOURCES}
BY_KIND: dict[str, Resource] = {r.cls.kind: r for r in RESOURCES}

# What the server adds to a representation beyond the model (state, not topology)
_EXTRA_READ_ONLY: dict[str, dict[str, dict[str, Any]]] = {
    "hosts": {"alive": {"type": "boolean"},
              "addresses": {"type": "array", "items": {"type": "string"}}},
}
# What a client may send on create only, beyond the fields
_WRITE_ONLY: dict[str, dict[str, dict[str, Any]]] = {
    "rules": {"position": {"type": "integer", "minimum": 1, "maximum": 100000}},
}


_CONDITION_REFS: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (("condition", "in_port_ids"), ("Port",)), (("condition", "out_port_ids"), ("Port",)),
    (("condition", "port_group_id"), ("PortGroup",)),
    (("condition", "in_port_group_id"), ("PortGroup",)),
    (("condition", "out_port_group_id"), ("PortGroup",)),
    (("condition", "ip_addr_group_id_src"), ("IPAddrGroup",)),
    (("condition", "ip_addr_group_id_dst"), ("IPAddrGroup",)),
    (("condition", "traversed_device"), ("Network", "Router")),
)
READ_REFERENCES: dict[str, tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]] = {
    # references the store keeps on one end only: reading through them (a rule
    # matching on a group's members, a trace on a port) must stay in the tenant
    "Rule": _CONDITION_REFS,
    "TraceRequest": (*_CONDITION_REFS, (("device_id",), ("Port", "Network", "Router"))),
}
"""Per model class: (attribute path, the classes it may name)."""


def resource(collection: str) -> Resource:
    return BY_COLLECTION[collection]
