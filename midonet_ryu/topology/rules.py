"""Rule chains, rules and their conditions, port groups and IP address groups.

Field names follow MidoNet's topology.proto/commons.proto. Every condition
field has an inversion flag; unset fields (None, empty) match anything.
Security groups are chains whose rules match ``ip_addr_group_id_src/dst``
and ``match_return_flow`` (see doc/simulation.md).
"""
from __future__ import annotations

import enum
import uuid

from midonet_ryu.topology.base import ModelObject, model, value
from midonet_ryu.topology.bindings import OnDelete, declare_binding
from midonet_ryu.topology.types import (
    Byte,
    Cidr,
    EtherType,
    IPAddress,
    IPv4,
    Mac,
    Name,
    TenantId,
    TransportPort,
    VlanId,
)

UUIDs = tuple[uuid.UUID, ...]


class RuleType(enum.Enum):
    LITERAL_RULE = "literal"
    JUMP_RULE = "jump"
    NAT_RULE = "nat"


class RuleAction(enum.Enum):
    ACCEPT = "accept"
    CONTINUE = "continue"
    DROP = "drop"
    JUMP = "jump"
    REJECT = "reject"
    RETURN = "return"


class FragmentPolicy(enum.Enum):
    ANY = "any"  # every packet
    NONHEADER = "nonheader"  # later fragments only
    HEADER = "header"  # unfragmented packets and first fragments
    UNFRAGMENTED = "unfragmented"  # unfragmented packets only


@value
class PortRange:
    """Inclusive transport port range (``Int32Range``)."""

    start: TransportPort
    end: TransportPort


@value
class Condition:
    conjunction_inv: bool = False
    match_forward_flow: bool = False
    match_return_flow: bool = False
    in_port_ids: UUIDs = ()
    in_port_inv: bool = False
    out_port_ids: UUIDs = ()
    out_port_inv: bool = False
    port_group_id: uuid.UUID | None = None  # ingress port in the group
    inv_port_group: bool = False
    in_port_group_id: uuid.UUID | None = None
    inv_in_port_group: bool = False
    out_port_group_id: uuid.UUID | None = None
    inv_out_port_group: bool = False
    ip_addr_group_id_src: uuid.UUID | None = None
    inv_ip_addr_group_id_src: bool = False
    ip_addr_group_id_dst: uuid.UUID | None = None
    inv_ip_addr_group_id_dst: bool = False
    dl_type: EtherType | None = None
    inv_dl_type: bool = False
    dl_src: Mac | None = None
    dl_src_mask: Mac | None = None  # e.g. "ff:ff:ff:00:00:00"; None: all bits
    inv_dl_src: bool = False
    dl_dst: Mac | None = None
    dl_dst_mask: Mac | None = None
    inv_dl_dst: bool = False
    nw_tos: Byte | None = None
    nw_tos_inv: bool = False
    nw_proto: Byte | None = None
    nw_proto_inv: bool = False
    nw_src_ip: Cidr | None = None
    nw_src_inv: bool = False
    nw_dst_ip: Cidr | None = None
    nw_dst_inv: bool = False
    tp_src: PortRange | None = None
    tp_src_inv: bool = False
    tp_dst: PortRange | None = None
    tp_dst_inv: bool = False
    traversed_device: uuid.UUID | None = None
    traversed_device_inv: bool = False
    fragment_policy: FragmentPolicy = FragmentPolicy.ANY
    vlan: VlanId | None = None
    vlan_inv: bool = False
    no_vlan: bool = False  # match untagged frames only


@value
class NatTarget:
    nw_start: IPv4
    nw_end: IPv4
    tp_start: TransportPort = 0
    tp_end: TransportPort = 0


@value
class NatRuleData:
    """``dnat`` rewrites the destination (else the source); ``reverse`` undoes an
    earlier dynamic translation on return traffic. A single address with
    ``tp_start == tp_end == 0`` is a static 1:1 translation (floating IP)."""

    dnat: bool = False
    reverse: bool = False
    nat_targets: tuple[NatTarget, ...] = ()


@model
class Chain(ModelObject):
    name: Name = ""
    tenant_id: TenantId = ""
    rule_ids: UUIDs = ()  # ordered; back-reference of Rule.chain_id
    network_inbound_ids: UUIDs = ()
    network_outbound_ids: UUIDs = ()
    router_inbound_ids: UUIDs = ()
    router_outbound_ids: UUIDs = ()
    port_inbound_ids: UUIDs = ()
    port_outbound_ids: UUIDs = ()
    jump_rule_ids: UUIDs = ()


@model
class Rule(ModelObject):
    type: RuleType = RuleType.LITERAL_RULE
    chain_id: uuid.UUID | None = None
    action: RuleAction = RuleAction.ACCEPT
    condition: Condition = Condition()
    jump_chain_id: uuid.UUID | None = None  # jump_rule_data.jump_chain_id
    nat_rule_data: NatRuleData | None = None


@model
class PortGroup(ModelObject):
    """Ports matched together by rules; ``stateful`` groups share flow state."""

    name: Name = ""
    tenant_id: TenantId = ""
    stateful: bool = False
    port_ids: UUIDs = ()


@value
class IPAddrPorts:
    ip_address: IPAddress
    port_ids: UUIDs = ()


@model
class IPAddrGroup(ModelObject):
    """A set of addresses (a security group's members)."""

    name: Name = ""
    tenant_id: TenantId = ""
    ip_addr_ports: tuple[IPAddrPorts, ...] = ()


declare_binding("Chain", "rule_ids", OnDelete.CASCADE, "Rule", "chain_id", OnDelete.CLEAR,
                backref="left")
declare_binding("Rule", "jump_chain_id", OnDelete.CLEAR, "Chain", "jump_rule_ids",
                OnDelete.CASCADE, backref="right")
declare_binding("PortGroup", "port_ids", OnDelete.CLEAR, "Port", "port_group_ids",
                OnDelete.CLEAR)
for _kind, _dir in (("Network", "network"), ("Router", "router"), ("Port", "port")):
    declare_binding(_kind, "inbound_filter_id", OnDelete.CLEAR, "Chain", f"{_dir}_inbound_ids",
                    OnDelete.CLEAR, backref="right")
    declare_binding(_kind, "outbound_filter_id", OnDelete.CLEAR, "Chain",
                    f"{_dir}_outbound_ids", OnDelete.CLEAR, backref="right")
