"""The topology classes added for the simulation survive the store's JSON codec."""
from __future__ import annotations

import uuid

import pytest

from midonet_ryu.topology.base import deserialize, serialize
from midonet_ryu.topology.bindings import OnDelete, bindings_of
from midonet_ryu.topology.dhcp import Dhcp, DhcpHost
from midonet_ryu.topology.lb import (
    LBStatus,
    LoadBalancer,
    Pool,
    PoolMember,
    SessionPersistence,
    Vip,
)
from midonet_ryu.topology.router import NextHop, Route, Router
from midonet_ryu.topology.rules import (
    Chain,
    Condition,
    FragmentPolicy,
    IPAddrGroup,
    IPAddrPorts,
    NatRuleData,
    NatTarget,
    PortGroup,
    PortRange,
    Rule,
    RuleAction,
    RuleType,
)

U = uuid.uuid4

SAMPLES = [
    Router(id=U(), name="r", inbound_filter_id=U(), load_balancer_id=U(), route_ids=(U(),)),
    Route(id=U(), dst_subnet="10.0.0.0/8", next_hop=NextHop.REJECT, weight=5, router_id=U(),
          next_hop_gateway="1.2.3.4"),
    Chain(id=U(), name="c", rule_ids=(U(), U()), port_inbound_ids=(U(),)),
    Rule(id=U(), type=RuleType.NAT_RULE, action=RuleAction.CONTINUE, chain_id=U(),
         condition=Condition(nw_src_ip="10.0.0.0/24", tp_dst=PortRange(80, 81), tp_dst_inv=True,
                             fragment_policy=FragmentPolicy.HEADER, dl_src="02:00:00:00:00:01",
                             dl_src_mask="ff:ff:ff:00:00:00", in_port_ids=(U(),),
                             match_return_flow=True),
         nat_rule_data=NatRuleData(dnat=True,
                                   nat_targets=(NatTarget("1.1.1.1", "1.1.1.2", 5, 6),))),
    Rule(id=U(), type=RuleType.JUMP_RULE, action=RuleAction.JUMP, jump_chain_id=U()),
    PortGroup(id=U(), name="pg", stateful=True, port_ids=(U(),)),
    IPAddrGroup(id=U(), ip_addr_ports=(IPAddrPorts("10.0.0.1", (U(),)),)),
    LoadBalancer(id=U(), router_id=U(), pool_ids=(U(),)),
    Pool(id=U(), load_balancer_id=U(), pool_member_ids=(U(),), vip_ids=(U(),)),
    PoolMember(id=U(), pool_id=U(), address="10.0.0.5", protocol_port=80, weight=3,
               status=LBStatus.INACTIVE),
    Vip(id=U(), pool_id=U(), address="1.1.1.1", protocol_port=80,
        session_persistence=SessionPersistence.SOURCE_IP),
    Dhcp(id=U(), network_id=U(), subnet_address="10.0.0.0/24", server_address="10.0.0.2",
         default_gateway="10.0.0.1", dns_server_address=("8.8.8.8",), interface_mtu=1450,
         hosts=(DhcpHost("02:00:00:00:00:01", "10.0.0.5", "vm"),)),
]


@pytest.mark.parametrize("obj", SAMPLES, ids=lambda o: type(o).__name__)
def test_round_trip(obj):
    assert deserialize(type(obj), serialize(obj)) == obj


def test_bindings_are_declared_on_both_sides():
    chain_fields = {e.field for e in bindings_of("Chain")}
    assert {"rule_ids", "jump_rule_ids", "network_inbound_ids", "port_outbound_ids"} <= chain_fields
    router_ports = [e for e in bindings_of("Router") if e.field == "port_ids"]
    assert router_ports[0].on_delete is OnDelete.CASCADE
    assert any(e.field == "network_id" for e in bindings_of("Dhcp"))
