"""midonet-cli against a real cluster (REST API on a real ZooKeeper), run as
a real process: every resource kind through create/list/show/set/delete,
the relation and state commands, settings precedence, a tenant's 403, and
the errors when the cluster cannot be reached.

One cluster serves the module. Most commands run one process each, as an
operator types them; the round of every kind runs as one script piped into
the interactive shell (``midonet-cli < script``), which keeps the module
well under a minute.
"""
from __future__ import annotations

import dataclasses
import ipaddress
import json
import socket
import time
import uuid
from typing import Any

import pytest
import requests

from midonet_ryu.datapath.agent_state import nsdb_arp_entry
from midonet_ryu.nsdb.hosts import register_host
from midonet_ryu.nsdb.state_keys import StateKeys
from midonet_ryu.nsdb.state_table_provider import DIRECT_ONLY, StateTableProvider
from midonet_ryu.topology.model import Host
from tests.functional.api import cli_fixtures
from tests.functional.api.cli_fixtures import ADMIN, Cli, Nsdb
from tools.lab.cluster import LAB_USERS, ClusterProcess, free_port

pytestmark = pytest.mark.functional

cli = cli_fixtures.cli
cli_cluster = cli_fixtures.cli_cluster
cli_nsdb = cli_fixtures.cli_nsdb
cli_cluster_stays_healthy = cli_fixtures.cli_cluster_stays_healthy


def new_id() -> str:
    return str(uuid.uuid4())


@dataclasses.dataclass(frozen=True)
class Kind:
    """One resource kind's round: the options to create it with and to change,
    and fields the API must then show (``{name}`` stands for another kind's id)."""

    key: str
    noun: str
    create: str
    created: dict[str, Any]
    change: str
    changed: dict[str, Any]
    under: str = ""  # list options naming the parent


# In creation order; deleted in reverse.
KINDS = (
    Kind("bridge", "bridge", "--name cli-b --tenant-id tenant-x", {"name": "cli-b"},
         "--name cli-b2 --no-admin-state-up", {"name": "cli-b2", "adminStateUp": False}),
    Kind("router", "router", "--name cli-r", {"name": "cli-r", "adminStateUp": True},
         "--name cli-r2", {"name": "cli-r2"}),
    Kind("port_b", "port", "--bridge {bridge} --name pb --vlan-id 5",
         {"type": "Bridge", "deviceId": "{bridge}", "vlanId": 5},
         "--name pb2 --vlan-id 6", {"name": "pb2", "vlanId": 6}, "--bridge {bridge}"),
    Kind("port_r", "port", "--router {router} --port-address 10.0.0.1 --network-address 10.0.0.0 "
         "--network-length 24 --port-mac 02:00:00:00:00:01",
         {"type": "Router", "portSubnet": "10.0.0.0/24", "portAddress": "10.0.0.1"},
         # the port's subnet is also networkAddress/networkLength: see options.ALIASES
         "--port-subnet 10.1.0.0/24 --port-address 10.1.0.1",
         {"portSubnet": "10.1.0.0/24", "networkAddress": "10.1.0.0", "networkLength": 24},
         "--router {router}"),
    Kind("chain", "chain", "--name cli-c", {"name": "cli-c"}, "--name cli-c2",
         {"name": "cli-c2"}),
    Kind("rule", "rule", "--chain {chain} --type accept --nw-proto 6 --tp-dst 22:22 --position 1",
         {"type": "accept", "chainId": "{chain}", "nwProto": 6,
          "tpDst": {"start": 22, "end": 22}},
         "--nw-proto 17 --tp-dst 53 --nw-src-address 10.0.0.0 --nw-src-length 8",
         {"nwProto": 17, "tpDst": {"start": 53, "end": 53}, "nwSrcAddress": "10.0.0.0",
          "nwSrcLength": 8, "type": "accept"}, "--chain {chain}"),
    Kind("route", "route", "--router {router} --type Normal --dst-network-addr 10.2.0.0 "
         "--dst-network-length 16 --next-hop-port {port_r} --weight 10",
         {"dstNetworkAddr": "10.2.0.0", "dstNetworkLength": 16, "nextHopPort": "{port_r}",
          "routerId": "{router}"},
         "--weight 20", {"weight": 20, "dstNetworkAddr": "10.2.0.0"}, "--router {router}"),
    Kind("port_group", "port-group", "--name cli-pg --stateful", {"stateful": True},
         "--no-stateful --name cli-pg2", {"stateful": False, "name": "cli-pg2"}),
    Kind("ip_addr_group", "ip-addr-group", "--name cli-ig", {"name": "cli-ig"},
         "--name cli-ig2", {"name": "cli-ig2"}),
    Kind("tunnel_zone", "tunnel-zone", "--name cli-tz --type vxlan", {"type": "vxlan"},
         "--type gre", {"type": "gre", "name": "cli-tz"}),
    Kind("load_balancer", "load-balancer", "--router-id {router}", {"routerId": "{router}"},
         "--no-admin-state-up", {"adminStateUp": False}),
    Kind("pool", "pool", "--load-balancer {load_balancer}",
         {"loadBalancerId": "{load_balancer}", "lbMethod": "round_robin"},
         "--no-admin-state-up", {"adminStateUp": False}, "--load-balancer {load_balancer}"),
    Kind("pool_member", "pool-member", "--pool {pool} --address 10.0.0.5 --protocol-port 80",
         {"address": "10.0.0.5", "protocolPort": 80, "poolId": "{pool}"},
         "--weight 5", {"weight": 5, "address": "10.0.0.5"}, "--pool {pool}"),
    Kind("vip", "vip", "--pool {pool} --address 10.0.0.100 --protocol-port 443",
         {"address": "10.0.0.100", "protocolPort": 443, "sessionPersistence": None},
         "--session-persistence source_ip", {"sessionPersistence": "source_ip"},
         "--pool {pool}"),
    Kind("trace", "trace", "--name cli-t --device-type bridge --device-id {bridge} "
         "--nw-proto 6 --limit 5", {"deviceType": "bridge", "limit": 5, "enabled": False},
         "--enabled --limit 7", {"enabled": True, "limit": 7, "nwProto": 6}),
    Kind("dhcp", "dhcp", "--bridge {bridge} --subnet-address 10.3.0.0/24 --server-address "
         "10.3.0.1 --hosts mac=02:00:00:00:00:05,ip-address=10.3.0.5 "
         "--dns-server-address 8.8.8.8,8.8.4.4",
         {"networkId": "{bridge}", "dnsServerAddress": ["8.8.8.8", "8.8.4.4"],
          "hosts": [{"mac": "02:00:00:00:00:05", "ip_address": "10.3.0.5", "name": ""}]},
         "--default-gateway 10.3.0.1 --dns-server-address ''",
         {"defaultGateway": "10.3.0.1", "dnsServerAddress": []}, "--bridge {bridge}"),
)


def filled(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, dict):
        return {k: filled(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [filled(v, ids) for v in value]
    return value


def subset(expected: dict[str, Any], got: dict[str, Any]) -> dict[str, Any]:
    """The fields of ``got`` that differ from ``expected`` (empty: all match)."""
    return {k: got.get(k, "(absent)") for k, v in expected.items() if got.get(k) != v}


def test_every_resource_kind_create_list_show_set_delete(cli: Cli) -> None:
    ids = {k.key: new_id() for k in KINDS}
    lines = [f"{k.noun} create --id {ids[k.key]} {filled(k.create, ids)} -f json" for k in KINDS]
    for k in KINDS:
        lines += [f"{k.noun} list {filled(k.under, ids)} -f json",
                  f"{k.noun} show {ids[k.key]} -f json",
                  f"{k.noun} set {ids[k.key]} {filled(k.change, ids)} -f json"]
    lines += [f"{k.noun} delete {ids[k.key]}" for k in reversed(KINDS)]
    lines += [f"{k.noun} list -f json" for k in KINDS]
    result = cli.batch(lines)
    assert result.code == 0 and result.err == "", result.err
    docs = result.docs()
    n = len(KINDS)
    assert len(docs) == 5 * n, result.out
    created, rounds, after = docs[:n], docs[n:4 * n], docs[4 * n:]
    for i, k in enumerate(KINDS):
        obj_id = ids[k.key]
        assert created[i]["id"] == obj_id, k.key
        assert subset(filled(k.created, ids), created[i]) == {}, k.key
        listed, shown, changed = rounds[3 * i: 3 * i + 3]
        assert obj_id in [o["id"] for o in listed], k.key
        # as created, but for the back-references the later kinds filled in
        assert shown["id"] == obj_id and subset(filled(k.created, ids), shown) == {}, k.key
        assert subset(filled(k.changed, ids), changed) == {}, (k.key, changed)
        assert obj_id not in [o["id"] for o in after[i]], k.key


def test_bridge_round_one_process_per_command(cli: Cli) -> None:
    created = cli.json("bridge", "create", "--name", "argv-b", "--tenant-id", "tenant-y")
    bridge = created["id"]
    assert created["name"] == "argv-b" and created["adminStateUp"] is True
    assert "uri" not in created and "ports" not in created  # links are not shown
    table = cli.run("bridge", "list", "--tenant-id", "tenant-y")
    assert table.code == 0
    rows = [[c.strip() for c in line.split("|")[1:-1]] for line in table.out.splitlines()
            if line.startswith("|")]
    assert rows == [["id", "name", "tenantId", "adminStateUp"],
                    [bridge, "argv-b", "tenant-y", "true"]]
    assert cli.json("bridge", "show", "argv-b") == created  # by name
    changed = cli.json("bridge", "set", "argv-b", "--name", "argv-b2", "--no-admin-state-up")
    assert changed == dict(created, name="argv-b2", adminStateUp=False)
    value = cli.run("bridge", "show", bridge, "-f", "value", "-c", "name", "-c", "tenantId")
    assert value.out.split() == ["argv-b2", "tenant-y"]
    assert cli.run("bridge", "delete", bridge).code == 0
    gone = cli.run("bridge", "show", bridge)
    assert gone.code == 1
    assert gone.err.strip() == f"Bridge {bridge} does not exist (HTTP 404)"
    assert "Traceback" not in gone.err


# What the relation and state tests start from: name -> (command, options)
TOPOLOGY = {
    "bind-b": ("bridge", "--name bind-b"), "bind-p": ("port", "--bridge {bind-b}"),
    "link-r": ("router", "--name link-r"), "link-b": ("bridge", "--name link-b"),
    "pg-b": ("bridge", "--name pg-b"), "pg-p": ("port", "--bridge {pg-b}"),
    "cli-ingress": ("port-group", "--name cli-ingress"),
    "st-b": ("bridge", "--name st-b"), "st-r": ("router", "--name st-r"),
    "st-p": ("port", "--bridge {st-b}"), "err-r": ("router", "--name err-r"),
    "sim-b": ("bridge", "--name sim-b"), "sim-p1": ("port", "--bridge {sim-b}"),
    "sim-p2": ("port", "--bridge {sim-b}"), "tr-b": ("bridge", "--name tr-b"),
}


@pytest.fixture(scope="module")
def topo(cli: Cli) -> dict[str, str]:
    """The objects of :data:`TOPOLOGY`, made by one CLI process (ids chosen
    here), by name."""
    ids = {name: new_id() for name in TOPOLOGY}
    result = cli.batch([f"{noun} create --id {ids[name]} {opts.format_map(ids)} -f value -c id"
                        for name, (noun, opts) in TOPOLOGY.items()])
    assert result.code == 0 and result.out.split() == list(ids.values()), result.err
    return ids


@pytest.fixture(scope="module")
def hosts(cli_nsdb: Nsdb) -> dict[str, str]:
    """One host registered as its agent registers it (alive while our session
    lasts), one known but down, and the interfaces the first one reports."""
    alive, down = uuid.uuid4(), uuid.uuid4()
    keys = StateKeys(cli_nsdb.client, cli_nsdb.paths, alive)
    register_host(cli_nsdb.store, keys, alive, "hv-cli-1")
    keys.set("Host", alive, "interfaces", json.dumps([
        {"name": "tap-cli", "mac": "02:00:00:00:01:01", "mtu": 1500, "status": 1,
         "type": "Virtual", "addresses": ["169.254.0.1"]}]).encode())
    cli_nsdb.store.create(Host(id=down, name="hv-cli-2"))
    return {"alive": str(alive), "down": str(down)}


def test_hosts_alive_interfaces_set_and_delete(cli: Cli, hosts: dict[str, str]) -> None:
    alive = hosts["alive"]
    result = cli.batch(["host list -f json", "host interface list hv-cli-1 -f json",
                        f"host set {alive} --flooding-proxy-weight 3 -f json",
                        f"host delete {alive}"])
    listed, interfaces, changed = result.docs()
    assert {h["id"]: h for h in listed}[alive] == {"id": alive, "name": "hv-cli-1",
                                                  "alive": True}
    assert {h["id"]: h for h in listed}[hosts["down"]]["alive"] is False
    assert interfaces == [
        {"name": "tap-cli", "mac": "02:00:00:00:01:01", "mtu": 1500, "status": 1,
         "type": "Virtual", "addresses": ["169.254.0.1"], "portId": None}]
    assert changed["floodingProxyWeight"] == 3 and changed["name"] == "hv-cli-1"
    assert result.code == 1  # the refused delete
    assert result.err.strip() == (f"{alive}: host {alive} is alive: stop its agent before "
                                  "deleting it (HTTP 409)")
    header = cli.run("host", "list").out.splitlines()[1]
    assert [c.strip() for c in header.split("|")[1:-1]] == ["id", "name", "alive"]


def test_bind_and_unbind_a_port(cli: Cli, hosts: dict[str, str], topo: dict[str, str]) -> None:
    port = topo["bind-p"]
    binding = cli.json("port", "bind", port, "--host", "hv-cli-1", "--interface", "tap-cli")
    assert binding == {"hostId": hosts["alive"], "portId": port, "interfaceName": "tap-cli"}
    bound = cli.batch([f"host binding list {hosts['alive']} -f json", f"port show {port} -f json"])
    listed, shown = bound.docs()
    assert listed == [{"portId": port, "interfaceName": "tap-cli", "hostId": hosts["alive"]}]
    assert (shown["hostId"], shown["interfaceName"]) == (hosts["alive"], "tap-cli")
    assert cli.run("port", "unbind", port).code == 0
    after = cli.batch([f"port show {port} -f json", f"port unbind {port}"])
    shown, = after.docs()
    assert (shown["hostId"], shown["interfaceName"]) == (None, None)
    assert (after.code, after.err.strip()) == (1, f"port {port} is not bound to a host")


def test_link_and_unlink_ports(cli: Cli, topo: dict[str, str]) -> None:
    router, bridge = topo["link-r"], topo["link-b"]
    rp, bp = new_id(), new_id()
    result = cli.batch([
        f"port create --router {router} --id {rp} --port-address 10.9.0.1 "
        "--network-address 10.9.0.0 --network-length 24 -f json",
        f"port create --bridge {bridge} --id {bp} -f json",
        f"port link {rp} {bp} -f json",
        f"port show {rp} -f json",
        f"port unlink {rp}",
        f"port show {bp} -f json",
    ])
    assert result.code == 0, result.err
    *_, link, linked, unlinked = result.docs()
    assert (link["portId"], link["peerId"]) == (rp, bp)
    assert linked["peerId"] == bp and unlinked["peerId"] is None
    again = cli.run("port", "unlink", rp)
    assert (again.code, again.err.strip()) == (1, f"port {rp} is not linked (HTTP 404)")


def test_port_group_ip_addr_group_and_tunnel_zone_members(
        cli: Cli, hosts: dict[str, str], topo: dict[str, str]) -> None:
    port = topo["pg-p"]
    added = cli.json("port-group", "add-member", "cli-ingress", port)
    assert added == {"portGroupId": topo["cli-ingress"], "portId": port}
    result = cli.batch([
        "port-group member list cli-ingress -f json",
        f"port show {port} -f json",
        f"port-group remove-member cli-ingress {port}",
        "port-group member list cli-ingress -f json",
        "ip-addr-group create --name cli-addrs -f json",
        "ip-addr-group add-addr cli-addrs 10.0.0.7 -f json",
        "ip-addr-group add-addr cli-addrs fd00::7 -f json",
        "ip-addr-group addr list cli-addrs -f json",
        "ip-addr-group remove-addr cli-addrs fd00::7",
        "ip-addr-group addr list cli-addrs -f json",
        "tunnel-zone create --name cli-overlay -f json",
        f"tunnel-zone add-member cli-overlay --host {hosts['alive']} --address 192.0.2.10 -f json",
        "tunnel-zone member list cli-overlay -f json",
        f"host show {hosts['alive']} -f json",
        f"tunnel-zone remove-member cli-overlay --host {hosts['alive']}",
        "tunnel-zone member list cli-overlay -f json",
    ])
    assert result.code == 0 and result.err == "", result.err
    (members_before, port_shown, members, _, _, _, addrs, addrs_after, zone, tz_member,
     tz_members, host, tz_after) = result.docs()
    assert [m["portId"] for m in members_before] == [port]
    assert port_shown["portGroupIds"] == [topo["cli-ingress"]]
    assert members == []
    assert [(a["addr"], a["version"]) for a in addrs] == [("10.0.0.7", 4), ("fd00::7", 6)]
    assert [a["addr"] for a in addrs_after] == ["10.0.0.7"]
    assert tz_member == {"tunnelZoneId": zone["id"], "hostId": hosts["alive"],
                         "ipAddress": "192.0.2.10"}
    assert tz_members == [{"hostId": hosts["alive"], "ipAddress": "192.0.2.10"}]
    assert zone["id"] in host["tunnelZoneIds"]
    assert tz_after == []
    dup = cli.run("ip-addr-group", "add-addr", "cli-addrs", "10.0.0.7")
    assert dup.code == 1 and "10.0.0.7 is already in IP address group" in dup.err


def test_state_tables_show_what_agents_learned(cli: Cli, cli_nsdb: Nsdb,
                                               topo: dict[str, str]) -> None:
    bridge, router, port = topo["st-b"], topo["st-r"], topo["st-p"]
    provider = StateTableProvider(cli_nsdb.client, cli_nsdb.paths, DIRECT_ONLY)
    # direct tables: the readable views are also the agent's writers
    tables: list[Any] = [provider.bridge_mac_table(uuid.UUID(bridge), 0),
                         provider.bridge_ip4_mac_table(uuid.UUID(bridge)),
                         provider.router_arp_table(uuid.UUID(router))]
    try:
        mac, ip4mac, arp = tables
        mac.add("02:00:00:00:aa:01", uuid.UUID(port))  # untagged: the agent writes VLAN 0
        ip4mac.add(ipaddress.IPv4Address("10.0.0.5"), "02:00:00:00:aa:01")
        arp.add(ipaddress.IPv4Address("10.0.0.1"), nsdb_arp_entry("02:00:00:00:aa:02",
                                                                  time.time()))
        result = cli.batch(["state-table show --bridge st-b -f json",
                            f"state-table show --bridge {bridge} --table ip4mac -f json",
                            "state-table show --router st-r --table arp -f json"])
        macs, ip4macs, arps = result.docs()
        assert macs == [{"macAddr": "02:00:00:00:aa:01", "portId": port, "vlanId": None}]
        assert ip4macs == [{"ip": "10.0.0.5", "mac": "02:00:00:00:aa:01"}]
        assert [(e["ip"], e["mac"]) for e in arps] == [("10.0.0.1", "02:00:00:00:aa:02")]
        table = cli.run("state-table", "show", "--bridge", bridge)
        assert "02:00:00:00:aa:01" in table.out and "macAddr" in table.out
    finally:
        for t in tables:
            t.stop()
        provider.stop()


def test_system_state(cli: Cli) -> None:
    assert cli.json("system-state", "show") == {
        "state": "ACTIVE", "availability": "READWRITE", "writeVersion": "5.0"}


def test_settings_precedence_rc_env_flags(cli: Cli, cli_cluster: ClusterProcess,
                                          tmp_path: Any) -> None:
    dead = f"http://127.0.0.1:{free_port()}/midonet-api"
    # the rc file alone (every other test relies on it too)
    assert cli.run("system-state", "show").code == 0
    # the environment beats the rc file...
    down = cli.run("system-state", "show", env={"MIDO_API_URL": dead})
    assert (down.code, down.err.strip()) == (
        1, f"cannot reach the API at {dead}: Connection refused")
    wrong = cli.run("system-state", "show", env={"MIDO_PASSWORD": "wrong"})
    assert wrong.err.strip() == "wrong user name or password (HTTP 401)"
    # ...and flags beat the environment
    ok = cli.run("--api-url", cli_cluster.api_url, "--password", ADMIN[1], "system-state", "show",
                 env={"MIDO_API_URL": dead, "MIDO_PASSWORD": "wrong"})
    assert ok.code == 0, ok.err
    # the environment alone, without any rc file; ~/.midonetrc when MIDONETRC is unset
    env_only = cli.run("system-state", "show", env={
        "MIDONETRC": str(tmp_path / "none"), "MIDO_API_URL": cli_cluster.api_url,
        "MIDO_USER": "alice", "MIDO_PASSWORD": LAB_USERS["alice"][0],
        "MIDO_PROJECT_ID": "tenant-a"})
    assert env_only.code == 0, env_only.err
    cli.write_rc(cli.home / ".midonetrc", api_url=dead, username="admin", password="x")
    home = cli.run("system-state", "show", env={"MIDONETRC": None})
    assert home.err.strip() == f"cannot reach the API at {dead}: Connection refused"


def test_a_tenant_gets_the_apis_403_for_another_tenants_bridge(cli: Cli) -> None:
    bob = ["--user", "bob", "--password", LAB_USERS["bob"][0]]
    alice = ["--user", "alice", "--password", LAB_USERS["alice"][0]]
    bridge = cli.json(*bob, "bridge", "create", "--name", "bobs")
    assert bridge["tenantId"] == "tenant-b"  # a tenant's objects are its own
    refused = cli.run(*alice, "bridge", "show", bridge["id"])
    assert refused.code == 1
    assert refused.err == f"Bridge {bridge['id']} belongs to another tenant (HTTP 403)\n"
    # alice's lists leave bob's objects out rather than refusing
    listed = cli.batch(["bridge list -f json", "port list -f json"], *alice)
    assert listed.code == 0 and bridge["id"] not in [b["id"] for b in listed.docs()[0]]
    scoped = cli.run(*alice, "--project", "tenant-b", "bridge", "list")
    assert scoped.err.strip() == "user 'alice' is not a member of project 'tenant-b' (HTTP 403)"


def test_cluster_down_and_silent_are_one_line_errors(cli: Cli) -> None:
    dead = f"http://127.0.0.1:{free_port()}/midonet-api"
    down = cli.run("--api-url", dead, "bridge", "list")
    assert (down.code, down.out) == (1, "")
    assert down.err == f"cannot reach the API at {dead}: Connection refused\n"
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/midonet-api"
        slow = cli.run("--api-url", url, "--timeout", "0.5", "bridge", "list")
    assert (slow.code, slow.err) == (1, f"the API at {url} did not answer within 0.5 s\n")


def test_api_refusals_are_reported_as_the_api_words_them(cli: Cli,
                                                         topo: dict[str, str]) -> None:
    router = topo["err-r"]
    missing = new_id()
    bad = cli.run("route", "create", "--router", router, "--next-hop-port", missing,
                  "--dst-network-addr", "10.0.0.0", "--dst-network-length", "8")
    assert bad.code == 1 and "(HTTP 400)" in bad.err and missing in bad.err
    assert bad.err.count("\n") == 1
    typo = cli.run("route", "create", "--router", router, "--weight", "-1")
    assert typo.code == 2 and "argument --weight: -1 is not between 0 and 65535" in typo.err


def test_a_nat_rule_made_literal_loses_its_targets(cli: Cli) -> None:
    chain, rule = new_id(), new_id()
    result = cli.batch([
        f"chain create --id {chain} --name nat-c -f json",
        f"rule create --chain {chain} --id {rule} --type snat --flow-action accept "
        "--nat-targets addressFrom=1.1.1.1,addressTo=1.1.1.1 -f json",
        f"rule set {rule} --type accept -f json",
    ])
    assert result.code == 0, result.err
    changed = result.docs()[-1]
    assert changed["type"] == "accept" and changed["flowAction"] is None
    assert not changed["natTargets"]


# --- traces: the simulate and flows endpoints arrive separately -----------------------

def _served(cluster: ClusterProcess, method: str, path: str) -> bool:
    """False when the API has no route there (404 "no resource at ..."), as
    opposed to answering for a missing object."""
    token = requests.post(f"{cluster.api_url}/login", auth=ADMIN, timeout=10).json()["key"]
    resp = requests.request(method, f"{cluster.api_url}/{path}", json={}, timeout=10,
                            headers={"X-Auth-Token": token})
    return not (resp.status_code == 404 and "no resource at" in resp.text)


@pytest.fixture(scope="module")
def simulate_served(cli_cluster: ClusterProcess) -> None:
    if not _served(cli_cluster, "POST", "traces/simulate"):
        pytest.skip("the API does not serve POST traces/simulate yet")


def test_trace_simulate(cli: Cli, simulate_served: None, topo: dict[str, str]) -> None:
    p1 = topo["sim-p1"]
    packet = ["--src-mac", "02:00:00:00:0b:01", "--dst-mac", "ff:ff:ff:ff:ff:ff",
              "--src-ip", "10.0.0.1", "--dst-ip", "10.0.0.2", "--proto", "udp",
              "--src-port", "68", "--dst-port", "67", "--ethertype", "ipv4"]
    simulate = f"trace simulate --port {p1} {' '.join(packet)}"
    result = cli.batch([f"{simulate} --mode detailed -f json", f"{simulate} --mode summary "
                        "-f json"])
    answer, summary = result.docs()
    assert answer["mode"] == "detailed" and answer["result"]
    assert answer["steps"] and all({"kind", "text"} <= set(s) for s in answer["steps"])
    assert summary["mode"] == "summary" and isinstance(summary["lines"], list)
    table = cli.run("trace", "simulate", "--port", p1, *packet)
    assert table.code == 0, table.err
    assert f"result: {answer['result']}" in table.out


def test_trace_requests_and_flows(cli: Cli, cli_cluster: ClusterProcess,
                                  topo: dict[str, str]) -> None:
    bridge, trace_id = topo["tr-b"], new_id()
    flows_served = _served(cli_cluster, "GET", f"traces/{new_id()}/flows")
    result = cli.batch([f"trace create --id {trace_id} --name cli-trace --device-type bridge "
                        f"--device-id {bridge} --enabled -f json", "trace list -f json"]
                       + (["trace flows cli-trace -f json"] if flows_served else []))
    trace, listed, *flows = result.docs()
    assert trace["enabled"] is True and trace["deviceId"] == bridge
    assert trace_id in [t["id"] for t in listed]
    if not flows_served:
        pytest.skip("the API does not serve GET traces/{id}/flows yet")
    assert flows == [[]]
