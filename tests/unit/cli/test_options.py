"""Options generated from the resource table, the parsing of their values
and the JSON bodies built from them."""
from __future__ import annotations

import argparse
import uuid
from typing import Any

import pytest

from midonet_cli import options
from midonet_cli.options import (
    FieldOption,
    Kind,
    body_from_args,
    command_options,
    noun,
    parse_list,
    parse_object,
    parse_value,
    put_body,
    writable_options,
)
from midonet_ryu.api.resources import BY_COLLECTION, RESOURCES

U1, U2, U3 = (str(uuid.UUID(int=i)) for i in (1, 2, 3))


def parser_for(collection: str, creating: bool) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(exit_on_error=False)
    for opt in command_options(BY_COLLECTION[collection], creating):
        opt.add_to(parser)
    return parser


def body(collection: str, *argv: str, creating: bool = True) -> dict[str, Any]:
    args = parser_for(collection, creating).parse_args(list(argv))
    return body_from_args(command_options(BY_COLLECTION[collection], creating), args)


def flags(collection: str, creating: bool = True) -> set[str]:
    parser = parser_for(collection, creating)
    return {s for a in parser._actions for s in a.option_strings}


def test_nouns_of_every_collection() -> None:
    assert {noun(r.collection) for r in RESOURCES} == {
        "bridge", "router", "port", "chain", "rule", "route", "port-group", "ip-addr-group",
        "host", "tunnel-zone", "load-balancer", "pool", "pool-member", "health-monitor", "vip",
        "trace", "dhcp"}


@pytest.mark.parametrize("name, flag", [
    ("tenantId", "--tenant-id"), ("inboundFilterId", "--inbound-filter-id"),
    ("tpDst", "--tp-dst"), ("ipAddrGroupSrc", "--ip-addr-group-src"),
    ("ip_address", "--ip-address"), ("nwSrcLength", "--nw-src-length")])
def test_flags_are_kebab_case_json_names(name: str, flag: str) -> None:
    assert FieldOption(name, {"type": "string"}).flag == flag


def test_bridge_options_are_its_writable_fields() -> None:
    got = flags("bridges")
    assert {"--name", "--tenant-id", "--admin-state-up", "--no-admin-state-up",
            "--inbound-filter-id", "--outbound-filter-id", "--id"} <= got
    # maintained back-references are read-only: no option
    assert "--port-ids" not in got and "--dhcp-ids" not in got


def test_create_only_fields_are_not_options_of_set() -> None:
    assert "--id" in flags("rules") and "--position" in flags("rules")
    assert "--id" not in flags("rules", creating=False)
    assert "--position" not in flags("rules", creating=False)
    assert "--device-id" in flags("ports") and "--device-id" not in flags("ports", False)


def test_read_only_fields_have_no_option() -> None:
    for res in RESOURCES:
        for opt in writable_options(res):
            field = res.field(opt.name)
            assert field is None or not field.read_only, (res.collection, opt.name)
    assert "--name" not in flags("hosts", creating=False)  # the agent names its host
    assert "--flooding-proxy-weight" in flags("hosts", creating=False)


def test_every_resource_builds_parsers_without_conflicts() -> None:
    for res in RESOURCES:
        for creating in (True, False):
            parser_for(res.collection, creating)  # argparse raises on a duplicate flag


def test_scalar_bool_and_list_bodies() -> None:
    assert body("bridges", "--name", "b1", "--tenant-id", "t", "--no-admin-state-up") == {
        "name": "b1", "tenantId": "t", "adminStateUp": False}
    assert body("bridges") == {}
    assert body("rules", "--in-ports", f"{U1},{U2}", "--in-ports", U3, "--inv-in-ports") == {
        "inPorts": [U1, U2, U3], "invInPorts": True}
    assert body("rules", "--in-ports", "") == {"inPorts": []}


def test_nested_and_derived_bodies() -> None:
    assert body("rules", "--type", "accept", "--tp-dst", "22:22", "--tp-src", "1024",
                "--nw-proto", "6", "--nw-src-address", "10.0.0.0", "--nw-src-length", "8",
                "--position", "1") == {
        "type": "accept", "tpDst": {"start": 22, "end": 22},
        "tpSrc": {"start": 1024, "end": 1024}, "nwProto": 6, "nwSrcAddress": "10.0.0.0",
        "nwSrcLength": 8, "position": 1}
    assert body("rules", "--type", "snat", "--nat-targets",
                "addressFrom=1.1.1.1,addressTo=1.1.1.2,portFrom=1000,portTo=2000") == {
        "type": "snat", "natTargets": [{"addressFrom": "1.1.1.1", "addressTo": "1.1.1.2",
                                        "portFrom": 1000, "portTo": 2000}]}
    assert body("dhcp", "--hosts", "mac=02:00:00:00:00:01,ip-address=10.0.0.5",
                "--hosts", '{"mac": "02:00:00:00:00:02", "ip_address": "10.0.0.6"}') == {
        "hosts": [{"mac": "02:00:00:00:00:01", "ip_address": "10.0.0.5"},
                  {"mac": "02:00:00:00:00:02", "ip_address": "10.0.0.6"}]}
    assert body("ports", "--type", "Bridge", "--device-id", U1, "--vlan-id", "10") == {
        "type": "Bridge", "deviceId": U1, "vlanId": 10}


def test_empty_value_nulls_a_nullable_field() -> None:
    assert body("bridges", "--inbound-filter-id", "", creating=False) == {
        "inboundFilterId": None}
    assert body("rules", "--tp-dst", "", creating=False) == {"tpDst": None}
    assert body("bridges", "--name", "") == {"name": ""}  # not nullable: the empty name


@pytest.mark.parametrize("argv, message", [
    (("--tp-dst", "22:21"), "ends before it starts"),
    (("--tp-dst", "70000"), "not between 0 and 65535"),
    (("--nw-proto", "tcp"), "not an integer"),
    (("--in-ports", "nope"), "not a UUID"),
    (("--dl-src", "02:00:00"), "not a MAC address"),
    (("--nw-src-address", "10.0.0.300"), "not an IPv4 address"),
    (("--type", "allow"), "not one of accept"),
    (("--nat-targets", "addressFrom=1.1.1.1"), "lacks addressTo"),
    (("--nat-targets", "from=1.1.1.1"), "expected KEY=VALUE"),
])
def test_bad_values_name_the_option(argv: tuple[str, ...], message: str) -> None:
    with pytest.raises(argparse.ArgumentError) as err:
        parser_for("rules", creating=True).parse_args(list(argv))
    assert argv[0] in str(err.value) and message in str(err.value)


def test_parse_value_by_schema() -> None:
    assert parse_value({"type": "integer"}, "0x0800") == 2048
    assert parse_value({"type": "integer"}, "010") == 10
    assert parse_value({"type": "boolean"}, "yes") is True
    assert parse_value({"type": ["integer", "null"]}, "") is None
    assert parse_value({"type": "string", "format": "cidr"}, "10.0.0.0/24") == "10.0.0.0/24"
    with pytest.raises(ValueError, match="IPv4 network"):
        parse_value({"type": "string", "format": "cidr"}, "10.0.0.1/24")
    with pytest.raises(ValueError, match="longer than 3"):
        parse_value({"type": "string", "maxLength": 3}, "abcd")
    assert parse_value({"anyOf": [{"type": "integer"}, {"type": "null"}]}, "") is None


def test_parse_object_and_list() -> None:
    tp = BY_COLLECTION["rules"].field("tpDst")
    assert tp is not None
    assert parse_object(tp.schema, '{"start": 1, "end": 2}') == {"start": 1, "end": 2}
    assert parse_list({"type": "array", "items": {"type": "integer"}}, "1,2") == [1, 2]
    # free text is never split on commas
    assert parse_list({"type": "array", "items": {"type": "string"}}, "a,b") == ["a,b"]
    assert parse_list({"type": "array", "items": {"type": "string"}}, '["a", "b"]') == [
        "a", "b"]


def test_kinds_and_metavars() -> None:
    by_name = {o.name: o for o in writable_options(BY_COLLECTION["rules"])}
    assert by_name["invInPorts"].kind is Kind.FLAG
    assert by_name["inPorts"].kind is Kind.LIST and by_name["inPorts"].metavar == "UUID"
    assert by_name["tpDst"].metavar == "START[:END]"
    assert by_name["fragmentPolicy"].metavar == "{any,nonheader,header,unfragmented}"


def test_parent_options() -> None:
    assert [p.flag for p in options.parent_options(BY_COLLECTION["ports"])] == [
        "--bridge", "--router"]
    assert [p.flag for p in options.parent_options(BY_COLLECTION["pool_members"])] == [
        "--pool"]
    assert [p.flag for p in options.parent_options(BY_COLLECTION["pools"])] == [
        "--load-balancer"]


def test_put_body_is_the_whole_object_with_the_changes() -> None:
    current = {"id": U1, "name": "old", "tenantId": "t", "uri": "http://x", "portIds": [U2]}
    assert put_body(BY_COLLECTION["bridges"], current, {"name": "new"}) == dict(
        current, name="new")


def test_put_body_drops_the_stale_alias_of_a_changed_field() -> None:
    current = {"id": U1, "portSubnet": "10.0.0.0/24", "networkAddress": "10.0.0.0",
               "networkLength": 24}
    got = put_body(BY_COLLECTION["ports"], current, {"portSubnet": "10.1.0.0/16"})
    assert got == {"id": U1, "portSubnet": "10.1.0.0/16"}
    # the pair itself may be changed; then it wins as the server applies it last
    got = put_body(BY_COLLECTION["ports"], current, {"networkLength": 16})
    assert got["networkLength"] == 16 and got["networkAddress"] == "10.0.0.0"
