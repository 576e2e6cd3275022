"""Neutron's ML2 network and subnet tests with midonet_ryu and a real cluster
behind it (see :mod:`tests.neutron.inherited`)."""
from __future__ import annotations

from neutron.tests.unit.plugins.ml2 import test_plugin

from tests.neutron import inherited

SKIPS: dict[str, str] = {
    **inherited.each(inherited.IPV6, """
        test_bulk_create_subnet_ipv6_auto_addr_with_port_on_network
        test_create_subnet_dhcpv6_stateless_with_ip_already_allocated
        test_create_subnet_dhcpv6_stateless_with_port_on_network
        test_create_subnet_ipv6_first_ip_owned_by_non_router
        test_create_subnet_ipv6_first_ip_owned_by_router
        test_create_subnet_ipv6_gw_is_nw_end_addr
        test_create_subnet_ipv6_gw_is_nw_start_addr
        test_create_subnet_ipv6_gw_is_nw_start_addr_canonicalize
        test_create_subnet_ipv6_gw_values
        test_create_subnet_ipv6_out_of_cidr_global
        test_create_subnet_ipv6_out_of_cidr_lla
        test_create_subnet_ipv6_pd_gw_values
        test_create_subnet_ipv6_slaac_with_db_reference_error
        test_create_subnet_ipv6_slaac_with_dhcp_port_on_network
        test_create_subnet_ipv6_slaac_with_ip_already_allocated
        test_create_subnet_ipv6_slaac_with_port_not_found
        test_create_subnet_ipv6_slaac_with_port_on_network
        test_create_subnet_ipv6_slaac_with_router_intf_on_network
        test_create_subnet_ipv6_slaac_with_snat_intf_on_network
        test_create_subnet_with_v6_allocation_pool
        test_create_subnets_bulk_native_ipv6
        test_delete_subnet_ipv6_slaac_port_exists
        test_delete_subnet_ipv6_slaac_router_port_exists
        test_subnet_update_ipv4_and_ipv6_pd_slaac_subnets
        test_subnet_update_ipv4_and_ipv6_pd_v6stateless_subnets
        test_update_subnet_inconsistent_ipv6_gatewayv4
        test_update_subnet_inconsistent_ipv6_hostroute_dst_v4
        test_update_subnet_inconsistent_ipv6_hostroute_np_v4
        test_update_subnet_ipv6_address_mode_fails
        test_update_subnet_ipv6_attributes_fails
        test_update_subnet_ipv6_cannot_disable_dhcp
        test_update_subnet_ipv6_ra_mode_fails
        test_update_subnet_the_same_gw_as_in_use_by_router_ipv6
    """),
    "test__update_segmentation_id_non_AgentMechanismDriverBase": (
        f"{inherited.MOCKS_INTERNALS}: replaces ML2's ordered mechanism drivers with a "
        "mock, so midonet_ryu never sees the network"),
    "test_create_subnet_check_mtu_in_mech_context": (
        f"{inherited.MOCKS_INTERNALS}: replaces ML2's create_subnet_precommit with a "
        "mock, so the subnet is never journaled"),
    "test_update_subnet_the_same_gw_as_in_use_by_router": (
        f"{inherited.BYPASS}: adds a router and its port binding as database rows"),
    "test_delete_subnet_race_with_dhcp_port_creation": (
        f"{inherited.SQLITE}: a DHCP port is created inside the subnet delete's "
        "precommit, and its session's ROLLBACK drops the subnet's DELETE row while the "
        "subnet delete itself goes on"),
}


class TestNetworks(inherited.MidonetRyuCase, test_plugin.TestMl2NetworksV2):
    """Networks, provider segments and their updates."""


class TestSubnets(inherited.MidonetRyuCase, test_plugin.TestMl2SubnetsV2):
    """Subnets: their gateways, pools, DNS servers and host routes (the DHCP translation)."""


# The tests that run within the inherited suites' time budget (see
# inherited.apply_skips); MIDONET_INHERITED_ALL=1 runs every test.
KEEP: dict[str, str] = {
    "TestNetworks": """
        test_create_network
        test_create_public_network
        test_create_networks_bulk_native
        test_bulk_network_before_and_after_events_outside_of_txn
        test_update_network
        test_update_network_set_shared
        test_network_after_create_callback
        test_network_precommit_create_callback
        test__update_provider_network_attributes_segmentation_id
        test__update_segmentation_id_agentless_mech_drivers
    """,
    "TestSubnets": """
        test_create_subnet
        test_create_two_subnets
        test_create_subnet_with_allocation_pool
        test_create_subnet_with_dhcp_disabled
        test_create_subnet_with_none_gateway
        test_create_subnet_gw_values
        test_create_subnet_with_one_dns
        test_create_subnet_with_one_host_route
        test_create_2_subnets_overlapping_cidr_allowed_returns_200
        test_create_subnets_bulk_native
        test_subnet_usable_after_update
        test_update_subnet
        test_update_subnet_dns
        test_update_subnet_route
        test_update_subnet_adding_additional_host_routes_and_dns
        test_update_subnet_from_gw_to_new_gw
        test_delete_subnet
        test_delete_subnet_with_dns_and_route
        test_delete_subnet_port_exists_owned_by_network
        test_delete_network
        test_port_prevents_subnet_deletion
    """,
}

inherited.apply_skips(SKIPS, [TestNetworks, TestSubnets], KEEP)
