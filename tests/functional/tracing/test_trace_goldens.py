"""``POST /traces/simulate`` against a real cluster: a topology built through the
API, traced as a user would ask, and the minimal rendering compared with
goldens (names, not ids, so they do not depend on random UUIDs)."""
from __future__ import annotations

import ipaddress
import time
import uuid

import pytest

from midonet_ryu.datapath.agent_state import nsdb_arp_entry
from midonet_ryu.nsdb.client import make_client
from midonet_ryu.nsdb.paths import Paths
from midonet_ryu.nsdb.state_table_provider import DIRECT_ONLY, StateTableProvider
from midonet_ryu.nsdb.store import Store
from midonet_ryu.topology.model import Host
from tests.functional.checked_api import CheckedApi as Api
from tools.lab.cluster import LAB_USERS, ClusterProcess

pytestmark = pytest.mark.functional

VM_MAC = "02:00:00:00:00:0a"
GW_MAC = "02:ee:00:00:00:01"
BACK_GW_MAC = "02:ee:00:00:00:02"


ROOT = "/trace-goldens"
MACS = {"web": "02:00:00:00:00:0b", "db": "02:00:00:00:00:0c",
        "internet": "02:00:00:00:00:0d"}
IPS = {"web": "198.51.100.11", "db": "198.51.100.140", "internet": "203.0.113.100"}


@pytest.fixture(scope="module")
def api(zk_server):
    cluster = ClusterProcess(zk_server.hosts, root=ROOT, metrics_port=0).start()
    try:
        yield Api(cluster.api_url, "admin", LAB_USERS["admin"][0])
    finally:
        cluster.cleanup()


@pytest.fixture(scope="module")
def learned(zk_server):
    """The state tables, written the way agents write what they learn."""
    zk = make_client(zk_server.hosts, 10000)
    zk.start()
    provider = StateTableProvider(zk, Paths(ROOT), DIRECT_ONLY)
    opened = []

    host = Store(zk, Paths(ROOT)).create(Host(id=uuid.uuid4(), name="hv1"))  # as agents do

    def learn(kind, device_id, key, value):
        if kind == "host":
            return host
        table = {"mac": provider.bridge_mac_table, "arp": provider.router_arp_table}[kind](
            uuid.UUID(device_id), *((0,) if kind == "mac" else ()))
        opened.append(table)
        table.add(key, value)

    yield learn
    for table in opened:
        table.stop()
    provider.stop()
    zk.stop()
    zk.close()


@pytest.fixture(scope="module")
def topo(api, learned):
    """front (198.51.100.0/25: vm1, web) -- router edge -- back (198.51.100.128/25:
    db), uplink on public (203.0.113.0/24); a security group on web; SNAT on the
    uplink; a VIP 203.0.113.80:80 balanced to db:8080."""
    t: dict = {}
    for name in ("front", "back", "public"):
        t[name] = api.post("/bridges", {"name": name})
    t["edge"] = api.post("/routers", {"name": "edge"})
    for net, addr, cidr, mac in (("front", "198.51.100.1", "198.51.100.0/25", GW_MAC),
                                 ("back", "198.51.100.129", "198.51.100.128/25", BACK_GW_MAC),
                                 ("public", "203.0.113.1", "203.0.113.0/24",
                                  "02:ee:00:00:00:03")):
        prefix, plen = cidr.split("/")
        rp = api.post(t["edge"]["ports"], {"name": f"edge-{net}", "portAddress": addr,
                                           "networkAddress": prefix,
                                           "networkLength": int(plen), "portMac": mac})
        bp = api.post(t[net]["ports"], {"name": f"{net}-edge"})
        api.post(rp["link"], {"peerId": bp["id"]})
        t[f"edge-{net}"] = rp
    for vm, net in (("vm1", "front"), ("web", "front"), ("db", "back"),
                    ("internet", "public")):
        t[vm] = api.post(t[net]["ports"], {"name": vm})
    host = learned("host", None, None, None)
    for vm in ("vm1", "web", "db", "internet"):
        api.post(f"/hosts/{host.id}/ports", {"portId": t[vm]["id"], "interfaceName": f"tap{vm}"})
    now = time.time()
    for vm, net in (("web", "front"), ("db", "back"), ("internet", "public")):
        learned("mac", t[net]["id"], MACS[vm], uuid.UUID(t[vm]["id"]))
        learned("arp", t["edge"]["id"], ipaddress.IPv4Address(IPS[vm]),
                nsdb_arp_entry(MACS[vm], now))
    sg = api.post("/chains", {"name": "sg"})
    api.post(sg["rules"], {"type": "accept", "dlType": 0x0800, "nwProto": 6,
                           "tpDst": {"start": 22, "end": 22}})
    api.post(sg["rules"], {"type": "drop", "dlType": 0x0800, "nwProto": 6,
                           "tpDst": {"start": 23, "end": 23}})
    web = t["web"]
    api.put(web["uri"], dict(web, outboundFilterId=sg["id"]))
    out = api.post("/chains", {"name": "snat"})
    api.post(out["rules"], {"type": "snat", "flowAction": "accept",
                            "outPorts": [t["edge-public"]["id"]],
                            "nwSrcAddress": "198.51.100.0", "nwSrcLength": 24,
                            "natTargets": [{"addressFrom": "203.0.113.1",
                                            "addressTo": "203.0.113.1",
                                            "portFrom": 1024, "portTo": 65535}]})
    edge = api.get(t["edge"]["uri"])
    api.put(edge["uri"], dict(edge, outboundFilterId=out["id"]))
    lb = api.post("/load_balancers", {"routerId": t["edge"]["id"]})
    pool = api.post(lb["pools"], {})
    api.post(pool["poolMembers"], {"address": "198.51.100.140", "protocolPort": 8080})
    api.post(pool["vips"], {"address": "203.0.113.80", "protocolPort": 80})
    return t


def _trace(api, port, **packet):
    body = {"port": port["id"], "srcMac": VM_MAC, "mode": "minimal", **packet}
    answer = api.post("/traces/simulate", body)
    return answer["result"], answer["lines"]


def test_l2_to_a_learned_mac(api, topo):
    result, lines = _trace(api, topo["vm1"], dstMac=MACS["web"],
                           srcIp="198.51.100.10", dstIp="198.51.100.11")
    assert (result, lines) == GOLDEN["l2"]


def test_routed_to_the_other_network(api, topo):
    result, lines = _trace(api, topo["vm1"], dstMac=GW_MAC, srcIp="198.51.100.10",
                           dstIp="198.51.100.140", proto="icmp")
    assert (result, lines) == GOLDEN["routed"]


def test_security_group_drops_telnet_and_lets_ssh_through(api, topo):
    web_ip = "198.51.100.11"
    result, lines = _trace(api, topo["vm1"], dstMac=MACS["web"], srcIp="198.51.100.10",
                           dstIp=web_ip, dstPort=22)
    assert result == "forward" and "rule sg#1 accept" in lines
    result, lines = _trace(api, topo["db"], srcMac="02:00:00:00:00:0c", dstMac=BACK_GW_MAC,
                           srcIp="198.51.100.140", dstIp=web_ip, dstPort=23)
    assert (result, lines) == GOLDEN["sg"]


def test_snat_on_the_uplink(api, topo):
    result, lines = _trace(api, topo["vm1"], dstMac=GW_MAC, srcIp="198.51.100.10",
                           dstIp="203.0.113.100", proto="udp", srcPort=5000, dstPort=53)
    assert (result, lines) == GOLDEN["snat"]


def test_load_balancer_vip(api, topo):
    result, lines = _trace(api, topo["vm1"], dstMac=GW_MAC, srcIp="198.51.100.10",
                           dstIp="203.0.113.80", dstPort=80)
    assert (result, lines) == GOLDEN["lb"]


def test_bad_requests_name_the_field(api, topo):
    from midonet_cli.client import ApiError

    for body, field in (({"port": topo["vm1"]["id"], "dstMac": "zz", "srcIp": "198.51.100.1",
                          "dstIp": "198.51.100.2"}, "dstMac"),
                        ({"port": "not-a-uuid"}, "port"),
                        ({"port": topo["vm1"]["id"], "dstMac": GW_MAC, "srcIp": "1.2.3",
                          "dstIp": "198.51.100.2"}, "srcIp"),
                        ({"port": topo["vm1"]["id"], "mode": "loud"}, "mode")):
        with pytest.raises(ApiError) as refused:
            api.post("/traces/simulate", body)
        assert refused.value.status == 400 and field in refused.value.message


_TO_EDGE = ["ingress bridge front port vm1", "mac-learn 02:00:00:00:00:0a on vm1",
            "mac-lookup 02:ee:00:00:00:01 router-port front-edge",
            "egress front-edge -> edge-front", "ingress router edge port edge-front"]
_TO_DB = ["next-hop 198.51.100.140 02:00:00:00:00:0c (arp-table)",
          "egress edge-back -> back-edge", "ingress bridge back port back-edge",
          "mac-lookup 02:00:00:00:00:0c hit db", "egress db", "forward db"]
_NO_SNAT = ["chain device-outbound snat: accept", "rule snat: no match"]
GOLDEN = {
    "l2": ("forward", [
        "ingress bridge front port vm1", "mac-learn 02:00:00:00:00:0a on vm1",
        "mac-lookup 02:00:00:00:00:0b hit web", "egress web",
        "chain port-outbound web sg: accept", "rule sg: no match", "forward web"]),
    "routed": ("forward", [
        *_TO_EDGE, "route 198.51.100.140 via 198.51.100.128/25 -> edge-back", *_NO_SNAT,
        *_TO_DB]),
    "sg": ("drop", [
        "ingress bridge back port db", "mac-lookup 02:ee:00:00:00:02 router-port back-edge",
        "egress back-edge -> edge-back", "ingress router edge port edge-back",
        "lb reverse-no-state", "route 198.51.100.11 via 198.51.100.0/25 -> edge-front",
        *_NO_SNAT, "next-hop 198.51.100.11 02:00:00:00:00:0b (arp-table)",
        "egress edge-front -> front-edge", "ingress bridge front port front-edge",
        "mac-lookup 02:00:00:00:00:0b hit web", "egress web",
        "chain port-outbound web sg: drop", "rule sg#2 drop", "drop: dropped by rule sg#2"]),
    "snat": ("forward", [
        *_TO_EDGE, "route 203.0.113.100 via 203.0.113.0/24 -> edge-public",
        "chain device-outbound snat: accept", "rule snat#1 accept (nat)",
        "nat snat 198.51.100.10:5000 -> 203.0.113.1:25551",
        "next-hop 203.0.113.100 02:00:00:00:00:0d (arp-table)",
        "egress edge-public -> public-edge", "ingress bridge public port public-edge",
        "mac-lookup 02:00:00:00:00:0d hit internet", "egress internet", "forward internet"]),
    "lb": ("forward", [
        *_TO_EDGE, "lb vip 203.0.113.80:80 -> 198.51.100.140:8080",
        "route 198.51.100.140 via 198.51.100.128/25 -> edge-back", *_NO_SNAT, *_TO_DB]),
}
