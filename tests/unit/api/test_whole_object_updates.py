"""A client sends back the whole object it read with one field changed (as
midonetclient and midonet-cli do): the change must win over the aliases and
derived fields repeated as read."""
import uuid

from midonet_ryu.api import representation as rep
from midonet_ryu.api.resources import resource
from midonet_ryu.topology.model import Port, TunnelZone
from midonet_ryu.topology.rules import NatRuleData, NatTarget, Rule, RuleType

BASE = "http://api/midonet-api"


def test_a_changed_port_subnet_wins_over_its_repeated_address_pair():
    ports = resource("ports")
    port = Port(id=uuid.uuid4(), router_id=uuid.uuid4(), port_address="10.9.0.1",
                port_subnet="10.9.0.0/24", port_mac="02:00:00:00:00:01")
    body = rep.to_json(ports, port, BASE)
    body.update(portSubnet="10.8.0.0/24", portAddress="10.8.0.1")
    updated = rep.from_json(ports, body, port)
    assert (updated.port_subnet, updated.port_address) == ("10.8.0.0/24", "10.8.0.1")
    # and the pair alone still changes it
    body = rep.to_json(ports, port, BASE)
    body.update(networkAddress="10.7.0.0", networkLength=16)
    assert rep.from_json(ports, body, port).port_subnet == "10.7.0.0/16"


def test_a_nat_rule_made_literal_loses_its_targets():
    rules = resource("rules")
    rule = Rule(id=uuid.uuid4(), type=RuleType.NAT_RULE, chain_id=uuid.uuid4(),
                nat_rule_data=NatRuleData(nat_targets=(NatTarget("192.0.2.1", "192.0.2.1"),)))
    body = rep.to_json(rules, rule, BASE)
    body["type"] = "accept"
    literal = rep.from_json(rules, body, rule)
    assert literal.type is RuleType.LITERAL_RULE and literal.nat_rule_data is None
    assert rep.to_json(rules, literal, BASE)["natTargets"] is None


def test_changing_only_nat_targets_keeps_the_rule_a_nat_rule():
    rules = resource("rules")
    rule = Rule(id=uuid.uuid4(), type=RuleType.NAT_RULE, chain_id=uuid.uuid4(),
                nat_rule_data=NatRuleData(nat_targets=(NatTarget("192.0.2.1", "192.0.2.1"),)))
    body = rep.to_json(rules, rule, BASE)
    body["natTargets"] = [{"addressFrom": "192.0.2.9", "addressTo": "192.0.2.9"}]
    changed = rep.from_json(rules, body, rule)
    assert changed.nat_rule_data is not None
    assert [t.nw_start for t in changed.nat_rule_data.nat_targets] == ["192.0.2.9"]


def test_a_tunnel_zone_links_its_members_rather_than_hiding_them_behind_a_uri():
    tz = TunnelZone(id=uuid.uuid4(), name="default")
    body = rep.to_json(resource("tunnel_zones"), tz, BASE)
    assert body["hosts"] == f"{BASE}/tunnel_zones/{tz.id}/hosts"


def test_a_rule_is_created_with_a_type_as_midonet_required():
    import pytest

    with pytest.raises(rep.InvalidBody) as refused:
        rep.from_json(resource("rules"), {"dlType": 2048}, None, {"chain_id": uuid.uuid4()})
    assert refused.value.field == "type"
