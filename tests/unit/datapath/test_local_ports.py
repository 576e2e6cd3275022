import uuid

from midonet_ryu.datapath.local_ports import Interface, assign_tunnel_keys, desired_bindings
from midonet_ryu.datapath.pipeline import TUNNEL_KEY_LOCAL_BASE
from midonet_ryu.topology.model import Host, Network, Port
from midonet_ryu.topology.snapshot import TopologySnapshot

HOST = uuid.uuid4()
OTHER = uuid.uuid4()


def topo(*ports):
    net = Network(id=uuid.uuid4())
    host = Host(id=HOST, port_ids=tuple(p.id for p in ports if p.host_id == HOST))
    return TopologySnapshot([net, host, *ports])


def test_binds_by_interface_name_and_by_iface_id_only_here():
    by_name = Port(id=uuid.uuid4(), host_id=HOST, interface_name="tap-a")
    by_id = Port(id=uuid.uuid4(), host_id=HOST)
    elsewhere = Port(id=uuid.uuid4(), host_id=OTHER, interface_name="tap-c")
    ifaces = [Interface("tap-a", 5), Interface("whatever", 6, iface_id=str(by_id.id)),
              Interface("tap-c", 7)]
    got = desired_bindings(topo(by_name, by_id, elsewhere), HOST, ifaces, {})
    assert {p: b.ofport for p, b in got.items()} == {by_name.id: 5, by_id.id: 6}


def test_missing_or_unattached_interface_waits():
    port = Port(id=uuid.uuid4(), host_id=HOST, interface_name="tap-a")
    assert desired_bindings(topo(port), HOST, [], {}) == {}
    assert desired_bindings(topo(port), HOST, [Interface("tap-a", -1)], {}) == {}
    assert port.id in desired_bindings(topo(port), HOST, [Interface("tap-a", 3)], {})


def test_tunnel_keys_unique_stable_and_type_1():
    ports = {uuid.uuid4(): Interface(f"t{i}", i + 1) for i in range(2000)}
    keys = assign_tunnel_keys(ports, {})
    assert len(set(keys.values())) == len(ports)
    assert all(k >> 20 == 1 and k & 0xFFFFF for k in keys.values())
    assert assign_tunnel_keys(ports, {}) == keys  # deterministic


def test_remembered_key_survives_restart_and_collisions_are_resolved():
    a, b = uuid.uuid4(), uuid.uuid4()
    key = TUNNEL_KEY_LOCAL_BASE | 42
    wanted = {a: Interface("a", 1, tunnel_key=key), b: Interface("b", 2, tunnel_key=key)}
    keys = assign_tunnel_keys(wanted, {})
    assert sorted([keys[a] == key, keys[b] == key]) == [False, True]
    assert keys[a] != keys[b]
    # the key held in memory wins over one remembered on the interface
    assert assign_tunnel_keys(wanted, {b: key})[b] == key
    # a key outside our type-1 space is not reused
    keys = assign_tunnel_keys({a: Interface("a", 1, tunnel_key=0xFFFFFF)}, {})
    assert keys[a] != 0xFFFFFF
