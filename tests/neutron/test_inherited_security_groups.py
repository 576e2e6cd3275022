"""Neutron's ML2 security group tests with midonet_ryu and a real cluster behind it."""
from __future__ import annotations

from neutron.tests.unit.plugins.ml2 import test_security_group

from tests.neutron import inherited

SKIPS: dict[str, str] = {}


class TestSecurityGroups(inherited.MidonetRyuCase, test_security_group.TestMl2SecurityGroups):
    """Security groups, their rules and their ports."""


# The tests that run within the inherited suites' time budget (see
# inherited.apply_skips); MIDONET_INHERITED_ALL=1 runs every test.
KEEP: dict[str, str] = {
    "TestSecurityGroups": """
        test_create_security_group
        test_update_security_group
        test_delete_security_group
        test_default_security_group
        test_default_security_group_rules
        test_security_group_port_create_creates_default_security_group
        test_create_security_group_rule_allow_all_ipv4
        test_create_security_group_rule_bulk_native
        test_create_security_group_rule_group_id
        test_create_security_group_rule_remote_address_group_id
        test_create_security_group_rule_remote_ip_prefix
        test_create_security_group_rule_port_range_min_only
        test_create_security_group_rule_icmp_with_type_and_code
        test_create_security_group_rule_duplicate_rule_in_post
        test_create_port_with_multiple_security_groups
        test_update_port_with_security_group
        test_create_delete_security_group_port_in_use
        test_security_group_member_updated
        test_security_group_rule_updated
        test_delete_address_group_in_use
    """,
}

inherited.apply_skips(SKIPS, [TestSecurityGroups], KEEP)
