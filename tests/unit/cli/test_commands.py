"""Commands run in-process through the cliff app against a fake API: the
requests they make, the bodies they build and what they print."""
from __future__ import annotations

import io
import uuid
from typing import Any

import pytest

from midonet_cli import special_commands
from midonet_cli.main import MidonetCli, build_command_manager
from midonet_cli.resource_commands import all_commands
from tests.unit.cli.fakes import FakeApi, Sent, client, run

B1, P1, H1, C1, G1, T1 = (str(uuid.UUID(int=i)) for i in range(1, 7))
BRIDGE = {"uri": f"http://x/bridges/{B1}", "id": B1, "name": "b1", "tenantId": "t",
          "adminStateUp": True, "inboundFilterId": None, "outboundFilterId": None,
          "portIds": [P1], "dhcpIds": [], "ports": f"http://x/bridges/{B1}/ports",
          "macTable": "u", "arpTable": "u", "dhcpSubnets": "u", "inboundFilter": None,
          "outboundFilter": None}


def test_every_resource_has_its_commands() -> None:
    names = {name for name, _ in build_command_manager()}
    for noun in ("bridge", "router", "port", "chain", "rule", "route", "port-group",
                 "ip-addr-group", "tunnel-zone", "load-balancer", "pool", "pool-member", "vip",
                 "trace", "dhcp"):
        assert {f"{noun} {verb}" for verb in ("list", "show", "create", "set", "delete")} \
            <= names, noun
    assert {"host list", "host show", "host set", "host delete"} <= names
    assert "host create" not in names  # agents register hosts
    assert {"port bind", "port unbind", "port link", "port unlink", "port-group add-member",
            "port-group remove-member", "port-group member list", "ip-addr-group add-addr",
            "ip-addr-group remove-addr", "ip-addr-group addr list", "tunnel-zone add-member",
            "tunnel-zone remove-member", "tunnel-zone member list", "state-table show",
            "host interface list", "system-state show", "trace simulate",
            "trace flows"} <= names


def test_generated_classes_carry_their_resource() -> None:
    commands = all_commands()
    assert commands["pool-member create"].resource.collection == "pool_members"  # type: ignore[attr-defined]
    assert commands["bridge list"].__name__ == "BridgeList"


def test_list_shows_summary_columns_and_json_keeps_values() -> None:
    api = FakeApi()
    api.routes[("GET", "bridges")] = (200, [BRIDGE])
    r = run(api, "bridge", "list", "-f", "json")
    assert r.code == 0
    assert r.json() == [{"id": B1, "name": "b1", "tenantId": "t", "adminStateUp": True}]
    r = run(api, "bridge", "list", "-f", "json", "--long")
    assert r.json()[0]["portIds"] == [P1] and "ports" not in r.json()[0]
    # a column outside the summary may be asked for by -c
    assert run(api, "bridge", "list", "-f", "json", "-c", "portIds").json() == [
        {"portIds": [P1]}]


def test_list_under_a_parent_and_by_tenant() -> None:
    api = FakeApi()
    api.routes[("GET", f"bridges/{B1}/ports")] = (200, [])
    api.routes[("GET", "bridges")] = (200, [BRIDGE])
    assert run(api, "port", "list", "--bridge", B1).code == 0
    assert run(api, "port", "list", "--bridge", "b1").code == 0  # by name
    assert run(api, "bridge", "list", "--tenant-id", "t").code == 0
    assert api.calls() == [("GET", f"bridges/{B1}/ports"), ("GET", "bridges"),
                           ("GET", f"bridges/{B1}/ports"), ("GET", "bridges")]
    assert api.sent[-1].params == {"tenant_id": "t"}


def test_show_table_and_value() -> None:
    api = FakeApi()
    api.routes[("GET", f"bridges/{B1}")] = (200, BRIDGE)
    r = run(api, "bridge", "show", B1)
    assert "| name             | b1" in r.out and "macTable" not in r.out
    assert run(api, "bridge", "show", B1, "-f", "value", "-c", "name").out == "b1\n"


def test_create_posts_the_given_fields_under_the_parent() -> None:
    api = FakeApi()
    api.routes[("POST", f"bridges/{B1}/ports")] = lambda s: (201, {"id": P1, **s.body})
    r = run(api, "port", "create", "--bridge", B1, "--name", "p", "--vlan-id", "7",
            "--no-admin-state-up", "-f", "json")
    assert r.code == 0, r.err
    assert api.sent[-1].body == {"name": "p", "vlanId": 7, "adminStateUp": False}
    assert r.json() == {"id": P1, "name": "p", "vlanId": 7, "adminStateUp": False}


def test_create_a_rule_with_nested_values() -> None:
    api = FakeApi()
    api.routes[("POST", f"chains/{C1}/rules")] = lambda s: (201, {"id": "r", **s.body})
    r = run(api, "rule", "create", "--chain", C1, "--type", "accept", "--tp-dst", "22:22",
            "--nw-proto", "6", "--position", "1")
    assert r.code == 0, r.err
    assert api.sent[-1].body == {"type": "accept", "tpDst": {"start": 22, "end": 22},
                                 "nwProto": 6, "position": 1}
    assert "22:22" in r.out


def test_set_gets_then_puts_the_whole_object_with_if_match() -> None:
    api = FakeApi()
    api.routes[("GET", f"bridges/{B1}")] = (200, BRIDGE, {"ETag": '"4"'})
    api.routes[("PUT", f"bridges/{B1}")] = lambda s: (200, s.body)
    r = run(api, "bridge", "set", B1, "--name", "b2", "--inbound-filter-id", C1,
            "-f", "json", "-c", "name", "-c", "inboundFilterId")
    assert r.code == 0, r.err
    put = api.sent[-1]
    assert put.method == "PUT" and put.headers["If-Match"] == '"4"'
    assert put.body == dict(BRIDGE, name="b2", inboundFilterId=C1)
    assert r.json() == {"name": "b2", "inboundFilterId": C1}


def test_set_clears_a_nullable_field_with_an_empty_value() -> None:
    api = FakeApi()
    api.routes[("GET", f"bridges/{B1}")] = (200, dict(BRIDGE, inboundFilterId=C1))
    api.routes[("PUT", f"bridges/{B1}")] = lambda s: (200, s.body)
    assert run(api, "bridge", "set", B1, "--inbound-filter-id", "").code == 0
    assert api.sent[-1].body["inboundFilterId"] is None


def test_set_without_changes_is_refused_before_any_request() -> None:
    api = FakeApi()
    r = run(api, "bridge", "set", B1)
    assert r.code == 1 and "nothing to change" in r.err and api.sent == []


def test_delete_goes_on_after_a_failure_and_reports_it() -> None:
    api = FakeApi()
    api.routes[("DELETE", f"bridges/{B1}")] = (204, None)
    api.routes[("DELETE", f"bridges/{P1}")] = (409, {"code": 409, "message": "still has ports"})
    api.routes[("DELETE", f"bridges/{H1}")] = (204, None)
    r = run(api, "bridge", "delete", P1, B1, H1)
    assert r.code == 1
    assert f"{P1}: still has ports (HTTP 409)" in r.err and "Traceback" not in r.err
    assert [c[1] for c in api.calls()] == [f"bridges/{P1}", f"bridges/{B1}", f"bridges/{H1}"]


def test_names_are_resolved_and_ambiguity_refused() -> None:
    api = FakeApi()
    api.routes[("GET", "bridges")] = (200, [BRIDGE, dict(BRIDGE, id=P1)])
    r = run(api, "bridge", "show", "b1")
    assert r.code == 1 and "2 bridges are named 'b1': give the id" in r.err
    r = run(api, "bridge", "show", "zz")
    assert "no bridge is named 'zz'" in r.err
    r = run(api, "rule", "show", "zz")
    assert "'zz' is not a rule id (a UUID)" in r.err


def test_api_error_is_one_line_on_stderr() -> None:
    api = FakeApi()
    api.routes[("GET", f"bridges/{B1}")] = (403, {"code": 403, "message": "forbidden here"})
    r = run(api, "bridge", "show", B1)
    assert (r.code, r.out, r.err) == (1, "", "forbidden here (HTTP 403)\n")


def test_bind_and_unbind() -> None:
    api = FakeApi()
    api.routes[("POST", f"hosts/{H1}/ports")] = lambda s: (201, {
        "uri": "u", "hostId": H1, **s.body, "host": "u", "port": "u"})
    r = run(api, "port", "bind", P1, "--host", H1, "--interface", "tap0", "-f", "json")
    assert api.sent[-1].body == {"portId": P1, "interfaceName": "tap0"}
    assert r.json() == {"hostId": H1, "portId": P1, "interfaceName": "tap0"}
    api.routes[("GET", f"ports/{P1}")] = (200, {"id": P1, "hostId": H1})
    api.routes[("DELETE", f"hosts/{H1}/ports/{P1}")] = (204, None)
    assert run(api, "port", "unbind", P1).code == 0
    assert api.calls()[-2:] == [("GET", f"ports/{P1}"), ("DELETE", f"hosts/{H1}/ports/{P1}")]
    api.routes[("GET", f"ports/{P1}")] = (200, {"id": P1, "hostId": None})
    r = run(api, "port", "unbind", P1)
    assert r.code == 1 and "is not bound to a host" in r.err


def test_memberships() -> None:
    api = FakeApi()

    def ok(s: Sent) -> tuple[int, Any]:
        return 201, dict(s.body or {})

    api.routes[("POST", f"port_groups/{G1}/ports")] = ok
    api.routes[("DELETE", f"port_groups/{G1}/ports/{P1}")] = (204, None)
    api.routes[("POST", f"ports/{P1}/link")] = ok
    api.routes[("DELETE", f"ports/{P1}/link")] = (204, None)
    api.routes[("POST", f"tunnel_zones/{T1}/hosts")] = ok
    api.routes[("DELETE", f"tunnel_zones/{T1}/hosts/{H1}")] = (204, None)
    api.routes[("POST", f"ip_addr_groups/{G1}/ip_addrs")] = ok
    api.routes[("DELETE", f"ip_addr_groups/{G1}/ip_addrs/fd00%3A%3A1")] = (204, None)
    for argv in (("port-group", "add-member", G1, P1), ("port-group", "remove-member", G1, P1),
                 ("port", "link", P1, B1), ("port", "unlink", P1),
                 ("tunnel-zone", "add-member", T1, "--host", H1, "--address", "192.0.2.1"),
                 ("tunnel-zone", "remove-member", T1, "--host", H1),
                 ("ip-addr-group", "add-addr", G1, "10.0.0.1"),
                 ("ip-addr-group", "remove-addr", G1, "fd00::1")):
        r = run(api, *argv)
        assert r.code == 0, (argv, r.err)
    bodies = [s.body for s in api.sent if s.method == "POST" and s.path != "login"]
    assert bodies == [{"portId": P1}, {"peerId": B1},
                      {"hostId": H1, "ipAddress": "192.0.2.1"}, {"addr": "10.0.0.1"}]


def test_relation_listings_and_descriptions() -> None:
    api = FakeApi()
    api.routes[("GET", f"hosts/{H1}/ports")] = (200, [
        {"uri": "u", "portId": P1, "interfaceName": "tap0", "hostId": H1, "host": "u"}])
    api.routes[("GET", f"port_groups/{G1}/ports")] = (200, None)
    assert run(api, "host", "binding", "list", H1, "-f", "json").json() == [
        {"portId": P1, "interfaceName": "tap0", "hostId": H1}]
    assert run(api, "port-group", "member", "list", G1, "-f", "json").json() == []
    # a description ends with the request the command makes
    described = {name: cls._description for name, cls in special_commands.COMMANDS.items()}
    assert described["ip-addr-group remove-addr"] == (
        "Remove an address from an IP address group: DELETE ip_addr_groups/{id}/ip_addrs/{addr}.")
    assert described["port unbind"] == ("Unbind a port from its host: DELETE "
                                         "hosts/{host}/ports/{port}, the host\nread from the port.")
    assert described["port unlink"] == "Unlink a port from its peer: DELETE ports/{id}/link."


def test_state_table_paths() -> None:
    api = FakeApi()
    api.routes[("GET", f"bridges/{B1}/mac_table")] = (200, [
        {"uri": "u", "bridgeId": B1, "macAddr": "02:00:00:00:00:01", "portId": P1,
         "vlanId": None}])
    api.routes[("GET", f"bridges/{B1}/arp_table")] = (200, [])
    api.routes[("GET", f"routers/{B1}/arp_table")] = (200, [])
    r = run(api, "state-table", "show", "--bridge", B1, "-f", "json")
    assert r.json() == [{"macAddr": "02:00:00:00:00:01", "portId": P1, "vlanId": None}]
    assert run(api, "state-table", "show", "--bridge", B1, "--table", "ip4mac").code == 0
    assert run(api, "state-table", "show", "--router", B1).code == 0
    r = run(api, "state-table", "show", "--router", B1, "--table", "mac")
    assert r.code == 1 and "a router has no mac table (it has: arp)" in r.err
    assert [c[1] for c in api.calls()] == [f"bridges/{B1}/mac_table", f"bridges/{B1}/arp_table",
                                           f"routers/{B1}/arp_table"]


def test_host_list_has_the_alive_column() -> None:
    api = FakeApi()
    api.routes[("GET", "hosts")] = (200, [{"id": H1, "name": "hv1", "alive": True,
                                           "floodingProxyWeight": 1, "addresses": []}])
    assert run(api, "host", "list", "-f", "json").json() == [
        {"id": H1, "name": "hv1", "alive": True}]


SIMULATED = {"mode": "detailed", "result": "ACCEPT", "reason": "forwarded",
             "steps": [{"kind": "ingress", "text": "enters", "deviceId": B1,
                        "deviceName": "b1", "portId": P1, "portName": None},
                       {"kind": "bridge", "text": "flood", "device": B1, "port": None}],
             "egressPorts": [H1], "match": {"ethertype": "ipv4"}, "actions": ["output:1"]}


def _simulate(s: Sent) -> tuple[int, Any]:
    return 200, SIMULATED


def test_trace_simulate_sends_the_contract_body() -> None:
    api = FakeApi()
    api.routes[("POST", "traces/simulate")] = _simulate
    r = run(api, "trace", "simulate", "--port", P1, "--src-mac", "02:00:00:00:00:0A",
            "--dst-mac", "02:00:00:00:00:0b", "--src-ip", "10.0.0.1", "--dst-ip", "10.0.0.2",
            "--proto", "tcp", "--src-port", "1234", "--dst-port", "80", "--vlan", "5",
            "--ethertype", "ipv4", "--mode", "detailed")
    assert r.code == 0, r.err
    assert api.sent[-1].body == {
        "port": P1, "srcMac": "02:00:00:00:00:0a", "dstMac": "02:00:00:00:00:0b",
        "srcIp": "10.0.0.1", "dstIp": "10.0.0.2", "proto": "tcp", "srcPort": 1234,
        "dstPort": 80, "vlan": 5, "ethertype": "ipv4", "mode": "detailed"}
    lines = r.out.splitlines()
    # a device by its name when the API gives one, else by id; the contract's
    # plain "device"/"port" keys work too
    cells = [[c.strip() for c in line.split("|")[1:-1]] for line in lines if "|" in line]
    assert cells[1:] == [["1", "ingress", "b1", P1, "enters"], ["2", "bridge", B1, "", "flood"]]
    assert lines[-4:] == ["result: ACCEPT (forwarded)", f"egress ports: {H1}",
                          "match: ethertype=ipv4", "actions: output:1"]
    run(api, "trace", "simulate", "--port", P1, "--proto", "17")
    assert api.sent[-1].body == {"port": P1, "proto": 17}


def test_trace_simulate_json_is_the_whole_answer() -> None:
    api = FakeApi()
    api.routes[("POST", "traces/simulate")] = _simulate
    assert run(api, "trace", "simulate", "--port", P1, "-f", "json").json() == SIMULATED


def test_trace_simulate_summary_lines() -> None:
    api = FakeApi()
    api.routes[("POST", "traces/simulate")] = (200, {
        "mode": "summary", "result": "DROP", "reason": "rule", "lines": ["a", "b"]})
    r = run(api, "trace", "simulate", "--port", P1, "--mode", "summary")
    assert "| 2 | b    |" in r.out and r.out.endswith("result: DROP (rule)\n")


def test_trace_simulate_refuses_bad_values(capsys: pytest.CaptureFixture[str]) -> None:
    api = FakeApi()
    r = run(api, "trace", "simulate", "--port", P1, "--dst-port", "70000")
    # argparse writes its usage errors to the process's stderr itself
    assert r.code == 2 and "70000 is not between 0 and 65535" in capsys.readouterr().err
    assert api.sent == []


def test_trace_flows() -> None:
    api = FakeApi()
    api.routes[("GET", f"traces/{T1}/flows")] = (200, [
        {"hostId": H1, "timestamp": 5, "result": "ACCEPT", "reason": None,
         "lines": ["x", "y"]},
        {"hostId": H1, "timestamp": 6, "result": "DROP", "reason": "rule",
         "steps": [{"kind": "k", "text": "t", "device": None, "port": None}]}])
    r = run(api, "trace", "flows", T1, "-f", "value")
    assert r.out.splitlines() == [f"{H1} 5 ACCEPT None x", "y", f"{H1} 6 DROP rule t"]
    records = run(api, "trace", "flows", T1, "-f", "json").json()
    assert records[0]["lines"] == ["x", "y"] and records[1]["steps"][0]["text"] == "t"


def test_interactive_session_exit_code_follows_its_commands() -> None:
    api = FakeApi()
    api.routes[("GET", "system_state")] = (200, {"state": "ACTIVE"})
    for script, code in (("system-state show\n", 0), ("system-state show\nbridge show x\n", 1)):
        app = MidonetCli(stdin=io.StringIO(script), stdout=io.StringIO(),
                         stderr=io.StringIO())
        app._client = client(api)
        assert app.run([]) == code
    assert api.logins == 2  # one per session, however many commands


def shell(api: FakeApi, script: str) -> tuple[int, str]:
    out = io.StringIO()
    app = MidonetCli(stdin=io.StringIO(script), stdout=out, stderr=io.StringIO())
    app._client = client(api)
    return app.run([]), out.getvalue()


def test_the_shell_keeps_quoted_arguments_whole() -> None:
    api = FakeApi()
    api.routes[("POST", "bridges")] = lambda s: (201, {"id": B1, **s.body})
    api.routes[("POST", f"chains/{C1}/rules")] = lambda s: (201, {"id": P1, **s.body})
    code, _ = shell(api, f"bridge create --name 'web tier'\nrule create --chain {C1} "
                         "--in-ports ''\n")
    assert code == 0
    assert [s.body for s in api.sent if s.method == "POST" and s.path != "login"] == [
        {"name": "web tier"}, {"inPorts": []}]


def test_the_shell_does_not_run_the_process_options_as_commands(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.argv", ["midonet-cli", "--debug"])
    api = FakeApi()
    api.routes[("GET", "system_state")] = (200, {"state": "ACTIVE"})
    code, out = shell(api, "system-state show -f value\n")
    assert (code, out) == (0, "ACTIVE\n\n")
