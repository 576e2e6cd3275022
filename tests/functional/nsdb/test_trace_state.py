"""The trace state view reads what agents wrote to the NSDB's state tables."""
import ipaddress
import time
import uuid

import pytest

from midonet_ryu.datapath.agent_state import nsdb_arp_entry
from midonet_ryu.nsdb.paths import Paths
from midonet_ryu.nsdb.state_table_provider import DIRECT_ONLY, StateTableProvider
from midonet_ryu.nsdb.trace_state import NsdbTraceState
from midonet_ryu.simulation.addr import ip_to_int
from midonet_ryu.simulation.state import ConntrackKey
from midonet_ryu.simulation.trace import PacketDescription, render, trace_packet
from midonet_ryu.topology.model import Network, Port
from midonet_ryu.topology.snapshot import TopologySnapshot

pytestmark = pytest.mark.functional

MAC = "02:00:00:00:aa:01"


@pytest.fixture
def provider(zk_client, zk_root):
    """Tables written the way the agent writes them (``AgentNsdb.write_learned``)."""
    p = StateTableProvider(zk_client, Paths(zk_root), DIRECT_ONLY)
    opened = []

    def table(kind, device_id, vlan=0):
        t = {"mac": lambda: p.bridge_mac_table(device_id, vlan),
             "ip4mac": lambda: p.bridge_ip4_mac_table(device_id),
             "arp": lambda: p.router_arp_table(device_id)}[kind]()
        opened.append(t)
        return t

    yield table
    for t in opened:
        t.stop()
    p.stop()


def test_sees_entries_agents_learned(provider, zk_client, zk_root):
    net, router, port = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    provider("mac", net).add(MAC, port)  # untagged: the agent writes VLAN 0
    provider("mac", net, 10).add("02:00:00:00:aa:02", port)
    provider("ip4mac", net).add(ipaddress.IPv4Address("10.0.0.5"), MAC)
    now = time.time()
    provider("arp", router).add(ipaddress.IPv4Address("10.0.0.1"), nsdb_arp_entry(MAC, now))

    view = NsdbTraceState(zk_client, Paths(zk_root))
    assert view.mac_table(net, None) == {MAC: port}
    assert view.mac_table(net, 10) == {"02:00:00:00:aa:02": port}
    assert view.ip4_mac_table(net) == {ip_to_int("10.0.0.5"): MAC}
    entry = view.arp_table(router).get(ip_to_int("10.0.0.1"))
    assert entry.mac == MAC and entry.expiry == pytest.approx(now + 90, abs=1)
    assert view.mac_table(uuid.uuid4(), None) == {}  # a table never written
    assert ConntrackKey(net, 1, 2, 3, 4, 6) not in view.conntrack and not view.nat
    # SNAT is traced as for a new flow on a free address: every block leasable, none used.
    assert len(view.snat_blocks(router, 1)) == 1024 and 2000 not in view.snat_ports_in_use(
        router, 1)


def test_tables_are_read_once_per_view(provider, zk_client, zk_root):
    net, port = uuid.uuid4(), uuid.uuid4()
    table = provider("mac", net)
    table.add(MAC, port)
    view = NsdbTraceState(zk_client, Paths(zk_root))
    assert view.mac_table(net, None).get(MAC) == port
    table.add("02:00:00:00:aa:03", port)
    assert "02:00:00:00:aa:03" not in view.mac_table(net, None)  # one snapshot per trace
    assert view.reads == 1
    assert "02:00:00:00:aa:03" in NsdbTraceState(zk_client, Paths(zk_root)).mac_table(net, None)


def test_a_trace_follows_a_mac_an_agent_learned(provider, zk_client, zk_root):
    net = Network(id=uuid.uuid4(), name="net")
    a = Port(id=uuid.uuid4(), name="a", network_id=net.id, host_id=uuid.uuid4(),
             interface_name="tap-a")
    b = Port(id=uuid.uuid4(), name="b", network_id=net.id, host_id=uuid.uuid4(),
             interface_name="tap-b")
    topology = TopologySnapshot([net.replace(port_ids=(a.id, b.id)), a, b])
    provider("mac", net.id).add(MAC, b.id)
    desc = PacketDescription.from_json({"port": str(a.id), "dstMac": MAC,
                                        "srcIp": "10.0.0.4", "dstIp": "10.0.0.5"})
    trace = trace_packet(desc, topology, NsdbTraceState(zk_client, Paths(zk_root)),
                         time.time())
    assert render(trace, "minimal") == [
        "ingress bridge net port a",
        "mac-learn 02:00:00:00:00:01 on a",
        f"mac-lookup {MAC} hit b",
        "egress b",
        "forward b",
    ]
    # A trace writes nothing back: the source MAC it "learned" is not in the table.
    assert "02:00:00:00:00:01" not in NsdbTraceState(zk_client, Paths(zk_root)).mac_table(
        net.id, None)
