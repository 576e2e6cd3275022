"""Neutron's ML2 port tests (ports, allowed address pairs, port security, port
binding) with midonet_ryu and a real cluster behind it (see
:mod:`tests.neutron.inherited`)."""
from __future__ import annotations

from neutron.tests.unit.plugins.ml2 import test_plugin

from tests.neutron import inherited

SKIPS: dict[str, str] = {
    **inherited.each(inherited.IPV6, """
        test_create_port_invalid_fixed_ip_address_v6_pd_slaac
        test_create_port_with_ipv6_dhcp_stateful_subnet_in_fixed_ips
        test_create_port_with_ipv6_pd_subnet_in_fixed_ips
        test_create_port_with_ipv6_slaac_subnet_in_fixed_ips
        test_create_port_with_multiple_ipv4_and_ipv6_subnets
        test_create_ports_bulk_ip_allocation_without_mac
        test_create_ports_bulk_with_sec_grp_provider_update_ipv6
        test_create_router_port_ipv4_and_ipv6_slaac_no_fixed_ips
        test_delete_port_with_ipv6_slaac_address
        test_ip_allocation_for_ipv6_2_subnet_slaac_mode
        test_ip_allocation_for_ipv6_subnet_slaac_address_mode
        test_list_ports_filtered_by_fixed_ip_substring_dual_stack
        test_requested_fixed_ip_address_v6_slaac_router_iface
        test_requested_invalid_fixed_ip_address_v6_slaac
        test_requested_subnet_id_v4_and_v6
        test_requested_subnet_id_v4_and_v6_slaac
        test_requested_subnet_id_v6_slaac
        test_update_port_excluding_ipv6_slaac_subnet_from_fixed_ips
        test_update_port_invalid_fixed_ip_address_v6_pd_slaac
        test_update_port_invalid_fixed_ip_address_v6_slaac
        test_update_port_invalid_subnet_v6_pd_slaac
        test_update_port_mac_v6_slaac
        test_update_port_with_ipv6_slaac_subnet_in_fixed_ips
        test_update_port_with_new_ipv6_slaac_subnet_in_fixed_ips
    """),
    "test__port_provisioned_no_binding": (
        f"{inherited.BYPASS}: creates the port with the Port object, not through ML2"),
    **inherited.each(
        f"{inherited.OTHER_DRIVER}: ML2's distributed (DVR) router port bindings, which "
        "midonet-ryu's L3 plugin never makes", """
        test_check_if_compute_port_serviced_by_dvr
        test_check_if_dhcp_port_serviced_by_dvr
        test_check_if_port_not_serviced_by_dvr
        test_process_distributed_port_binding_update_router_id
        test_update_distributed_port_binding_on_concurrent_port_delete
        test_update_distributed_port_binding_on_non_existent_port
    """),
    "test_list_ports_filtered_by_security_groups": (
        f"{inherited.BYPASS}: rebinds a port to another security group with the "
        "security group mixin's own database helpers, not through ML2"),
}


class TestPorts(inherited.MidonetRyuCase, test_plugin.TestMl2PortsV2):
    """Ports: fixed IPs, MACs, bulk creates and failures, deletes."""


class TestAllowedAddressPairs(inherited.MidonetRyuCase,
                              test_plugin.TestMl2AllowedAddressPairs):
    """Allowed address pairs: the MAC and IP pairs port security lets out."""

    SET_EXTENSION_DRIVERS = False  # its setUp sets port_security itself


class TestPortSecurity(inherited.MidonetRyuCase, test_plugin.TestMl2PortSecurity):
    """Port security turned off on a port."""


class TestPortBinding(inherited.MidonetRyuCase, test_plugin.TestMl2PortBinding):
    """Neutron's binding logic; no test names a host running our agent, so
    midonet_ryu binds nothing and ports stay unbound, as the class expects."""


class TestPortBindingHost(inherited.MidonetRyuCase, test_plugin.TestMl2PortBindingHost):
    """Ports bound to hosts that run our agent: bound by midonet_ryu (vif_type
    ovs), the binding translated into the bridge port's host."""

    AGENT_HOSTS = ("testhost", "testhosttemp")

    def _check_response_portbindings_host(self, port):
        super()._check_response_portbindings_host(port)
        if "binding:vif_type" in port:
            self.assertEqual("ovs", port["binding:vif_type"])


# The tests that run within the inherited suites' time budget (see
# inherited.apply_skips); MIDONET_INHERITED_ALL=1 runs every test.
KEEP: dict[str, str] = {
    "TestPorts": """
        test_create_port_json
        test_create_port_public_network_with_ip
        test_create_ports_bulk_native
        test_create_ports_bulk_port_binding_failure
        test_create_ports_bulk_with_allowed_address_pairs
        test_create_ports_bulk_with_sec_grp
        test_create_router_port_and_fail_create_postcommit
        test_delete_port
        test_delete_ports_by_device_id
        test_l3_cleanup_on_net_delete
        test_update_port
        test_update_port_add_additional_ip
        test_update_port_update_ip
        test_update_port_mac
        test_update_port_with_stale_subnet
        test_requested_subnet_id
        test_port_after_update_outside_transaction
        test_port_precommit_create_bulk_callback
    """,
    "TestAllowedAddressPairs": """
        test_create_address_gets_port_mac
        test_create_port_allowed_address_pairs
        test_create_port_security_false_allowed_address_pairs
        test_update_add_address_pairs
        test_update_port_security_off_address_pairs
    """,
    "TestPortSecurity": inherited.WHOLE,
    "TestPortBinding": """
        test_create_port_binding_profile
        test_update_port_binding_profile
        test_port_vif_details
        test_update_port_binding_host_id_none
        test_return_on_concurrent_delete_and_binding
    """,
    "TestPortBindingHost": inherited.WHOLE,
}

inherited.apply_skips(SKIPS, [TestPorts, TestAllowedAddressPairs, TestPortSecurity, TestPortBinding,
                              TestPortBindingHost], KEEP)
