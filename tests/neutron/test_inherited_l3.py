"""Neutron's L3 tests (routers, interfaces, gateways with SNAT on and off, extra
routes, floating IPs) with ML2 (midonet_ryu), our L3 plugin and a real cluster
behind them (see :mod:`tests.neutron.inherited`).

The classes are those Neutron's OVN L3 plugin inherits (``OVNL3ExtrarouteTests``:
``ExtGwModeIntTestCase``, ``L3BaseForIntTests``, ``L3NatTestCaseBase``,
``ExtraRouteDBTestCaseBase``), set up the same way with ML2 as the core
plugin and ``MidonetRyuL3Plugin`` as the L3 one.
"""
from __future__ import annotations

from neutron.tests.unit.api import test_extensions
from neutron.tests.unit.extensions import test_extraroute, test_l3
from neutron.tests.unit.extensions import test_l3_ext_gw_mode as test_l3_gw
from neutron_lib.plugins import constants as plugin_constants
from neutron_lib.plugins import directory

from tests.neutron import inherited

SKIPS: dict[str, str] = {
    **inherited.each(inherited.IPV6, """
        test_create_floatingip_ipv6_and_ipv4_network_creates_ipv4
        test_create_floatingip_ipv6_only_network_returns_400
        test_create_floatingip_with_assoc_to_ipv4_and_ipv6_port
        test_create_floatingip_with_assoc_to_ipv6_subnet
        test_router_add_gateway_multiple_subnets_ipv6
        test_router_add_iface_ipv6_ext_ra_subnet_returns_400
        test_router_add_interface_by_port_admin_address_out_of_pool
        test_router_add_interface_by_port_other_project_address_in_pool
        test_router_add_interface_by_port_other_project_address_out_of_pool
        test_router_add_interface_ipv6_port_existing_network_returns_400
        test_router_add_interface_ipv6_subnet
        test_router_add_interface_ipv6_subnet_without_gateway_ip
        test_router_add_interface_multiple_ipv6_subnet_port
        test_router_add_interface_multiple_ipv6_subnets_different_net
        test_router_add_interface_multiple_ipv6_subnets_same_net
        test_router_concurrent_delete_upon_subnet_create
        test_router_delete_dhcpv6_stateless_subnet_inuse_returns_409
        test_router_delete_ipv6_slaac_subnet_inuse_returns_409
        test_router_remove_ipv6_subnet_from_interface
        test_router_update_gateway_add_multiple_prefixes_ipv6
        test_router_update_gateway_upon_subnet_create_ipv6
        test_router_update_gateway_upon_subnet_create_max_ips_ipv6
        test_update_router_interface_port_ipv6_subnet_ext_ra
    """),
    "test_router_add_gateway_notifications": (
        f"{inherited.MOCKS_INTERNALS}: mocks the callback registry's publish, through "
        "which the L3 plugin journals the router's new gateway"),
    "test_router_clear_gateway_callback_failure_returns_409": (
        f"{inherited.MOCKS_INTERNALS}: mocks the callback registry's publish, through "
        "which the L3 plugin journals the router's gateway"),
    "test_router_delete_race_with_interface_add": (
        f"{inherited.SQLITE}: an interface is added inside the router delete's "
        "precommit, whose COMMIT makes the router's DELETE row outlive the delete's "
        "rollback, and the cluster deletes the router Neutron kept"),
    "test_router_add_interface_by_port_fails_nested": (
        f"{inherited.NOT_US}: its callback calls ML2's update_port inside a "
        "transaction, which ML2 refuses"),
    "test_router_gateway_set_fail_after_port_create": (
        f"{inherited.NOT_US}: it mocks ML2's _get_port, which ML2's delete_port needs "
        "to remove the gateway port again"),
}


class _L3Base(test_l3_gw.ExtGwModeIntTestCase,
              test_l3.L3BaseForIntTests,
              test_l3.L3NatTestCaseBase,
              test_extraroute.ExtraRouteDBTestCaseBase):
    """What OVNL3ExtrarouteTests combines, with ML2 and our L3 plugin."""

    __test__ = False  # run only with the mixin, as TestL3

    def setUp(self):
        ext_mgr = test_extraroute.ExtraRouteTestExtensionManager()
        super(test_l3.L3BaseForIntTests, self).setUp(
            plugin="ml2", ext_mgr=ext_mgr,
            service_plugins={"l3_plugin_name": inherited.L3_PLUGIN})
        test_extensions.setup_extensions_middleware(test_l3_gw.TestExtensionManager())
        self.l3_inst = directory.get_plugin(plugin_constants.L3)
        self.setup_notification_driver()

    def test_floatingip_with_invalid_create_port(self):
        # Neutron's test mocks NeutronDbPluginV2.create_port, which ML2 overrides
        self._test_floatingip_with_invalid_create_port(
            "neutron.plugins.ml2.plugin.Ml2Plugin")


class TestL3(inherited.MidonetRyuCase, _L3Base):
    """Routers, interfaces, gateways with SNAT on and off, extra routes, floating IPs."""

    __test__ = True


# The tests that run within the inherited suites' time budget (see
# inherited.apply_skips); MIDONET_INHERITED_ALL=1 runs every test.
KEEP: dict[str, str] = {
    "TestL3": """
        test_router_create
        test_router_delete
        test_router_create_with_gwinfo
        test_router_update_ext_gwinfo_with_snat_disabled
        test_router_add_and_remove_gateway
        test_router_update_gateway_with_different_external_subnet
        test_network_update_external
        test_router_add_interface_subnet
        test_router_add_interface_port
        test_router_add_interface_multiple_ipv4_subnets
        test_router_remove_interface_returns_200
        test_router_delete_with_port_existed_returns_409
        test_route_update_with_one_route
        test_router_update_delete_routes
        test_router_interface_in_use_by_route
        test_floatingip_crd_ops
        test_floatingip_update
        test_delete_ext_net_with_disassociated_floating_ips
        test_router_update_gateway_with_existed_floatingip
    """,
}

inherited.apply_skips(SKIPS, [TestL3], KEEP)
