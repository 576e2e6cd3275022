"""The dummy-datapath lab works: instances start and stop cleanly, VM ports carry
frames both ways, and flow-based VXLAN/GRE tunnels cross the dummy underlay."""
from __future__ import annotations

import socket
import time

import pytest
from os_ken.lib.packet import ipv4

from tools.lab import traffic
from tools.lab.ovs import OvsInstance, Underlay, leftover_pids
from tools.lab.procs import free_port, pid_alive

pytestmark = pytest.mark.functional

VNI = 5001


def test_instance_start_stop_leaves_nothing(tmp_path):
    inst = OvsInstance("solo", str(tmp_path / "solo"))
    t0 = time.monotonic()
    inst.start()
    took = time.monotonic() - t0
    pids = inst.pids
    assert len(pids) == 2 and all(pid_alive(p) for p in pids)
    assert inst.running
    assert "br-int" in inst.vsctl("list-br").split()
    assert inst.vsctl("get", "Bridge", "br-int", "datapath_type").strip() == "dummy"
    assert inst.ovsdb_connection == f"unix:{inst.db_sock}"
    assert inst.dump_flows() == []  # fail_mode=secure: no NORMAL flow
    inst.stop()
    assert not any(pid_alive(p) for p in pids)
    assert not set(pids) & set(leftover_pids())
    assert took < 2.0, f"bring-up took {took:.2f}s"


def test_vm_ports_carry_frames_both_ways(ovs_host):
    vm1 = ovs_host.add_vm_port("vm1", iface_id="port-1")
    vm2 = ovs_host.add_vm_port("vm2")
    assert vm1.ofport > 0 and vm2.ofport > 0 and vm1.ofport != vm2.ofport
    assert ovs_host.vsctl("get", "Interface", "vm1", "external_ids:iface-id").strip() == \
        "port-1"
    assert ovs_host.ofport("vm2") == vm2.ofport

    # No flows yet (secure bridge): frames are dropped, nothing arrives.
    f12 = traffic.ipv4_udp(vm1.mac, vm2.mac, "198.51.100.1", "198.51.100.2", payload=b"early")
    vm1.send(f12)
    assert vm2.recv(0.2) is None

    ovs_host.add_flows("br-int", [
        f"in_port={vm1.ofport},actions=output:{vm2.ofport}",
        f"in_port={vm2.ofport},actions=output:{vm1.ofport}",
    ])
    assert len(ovs_host.dump_flows()) == 2
    vm1.send(f12)
    assert vm2.recv(2.0) == f12
    f21 = traffic.ipv4_icmp_echo(vm2.mac, vm1.mac, "198.51.100.2", "198.51.100.1", reply=True)
    vm2.send(f21)
    got = vm1.expect(lambda f: traffic.matches(f, icmp_type=0), 2.0)
    assert traffic.parse(got).get_protocol(ipv4.ipv4).src == "198.51.100.2"

    for i in range(20):
        vm1.send(traffic.ipv4_tcp(vm1.mac, vm2.mac, "198.51.100.1", "198.51.100.2", seq=i))
    assert len(vm2.recv_all(0.5)) == 20
    stats = ovs_host.port_stats("br-int")
    assert stats[vm1.ofport]["rx_packets"] == 22
    assert stats[vm2.ofport]["tx_packets"] == 21
    assert vm1.drain() == 0


def test_new_bridge_is_created_for_a_vm_port(ovs_host):
    vm = ovs_host.add_vm_port("tap1", bridge="br-ex")
    assert ovs_host.has_bridge("br-ex")
    assert ovs_host.vsctl("port-to-br", "tap1").strip() == "br-ex"
    assert vm.ofport > 0


@pytest.mark.parametrize("kind", ["vxlan", "gre"])
def test_flow_based_tunnel_between_two_hosts(ovs_hosts, kind):
    hv1, hv2 = ovs_hosts(2)
    ul = hv1.underlay
    assert isinstance(ul, Underlay)
    assert (ul.ip_of(hv1), ul.ip_of(hv2)) == ("192.0.2.1", "192.0.2.2")
    vm1 = hv1.add_vm_port("vm1")
    vm2 = hv2.add_vm_port("vm2")
    t1 = hv1.add_tunnel_port(f"{kind}0", kind)
    t2 = hv2.add_tunnel_port(f"{kind}0", kind)

    for here, there, vm, tun in ((hv1, hv2, vm1, t1), (hv2, hv1, vm2, t2)):
        here.ofctl("add-flow", "br-int",
                   f"in_port={vm.ofport},actions=set_field:{VNI}->tunnel_id,"
                   f"set_field:{ul.ip_of(there)}->tun_dst,output:{tun}")
        here.ofctl("add-flow", "br-int",
                   f"in_port={tun},tunnel_id={VNI},actions=output:{vm.ofport}")

    f12 = traffic.ipv4_udp(vm1.mac, vm2.mac, "203.0.113.1", "203.0.113.2", dport=4242,
                          payload=b"across the underlay")
    vm1.send(f12)
    assert vm2.recv(2.0) == f12, "frame did not cross the tunnel"
    f21 = traffic.arp_reply(vm2.mac, "203.0.113.2", vm1.mac, "203.0.113.1")
    vm2.send(f21)
    assert vm1.recv(2.0) == f21

    # It really went through the tunnel port and the underlay.
    assert hv2.port_stats("br-int")[t2]["rx_packets"] == 1
    link = ul.link_name(hv2)
    assert hv1.port_stats("br-phy")[hv1.ofport(link)]["tx_packets"] >= 1

    # Another key does not match the receive flow: dropped. (A changed flow needs a
    # purge of the cached datapath flows, else the old actions apply for up to 0.5 s.)
    hv1.ofctl("mod-flows", "br-int",
              f"in_port={vm1.ofport},actions=set_field:{VNI + 1}->tunnel_id,"
              f"set_field:{ul.ip_of(hv2)}->tun_dst,output:{t1}")
    hv1.purge_datapath()
    vm1.send(f12)
    assert vm2.recv(0.3) is None


def test_three_hosts_mesh_and_partition(ovs_hosts):
    hosts = ovs_hosts(3)
    ul = hosts[0].underlay
    vms = [h.add_vm_port("vm") for h in hosts]
    tuns = [h.add_tunnel_port("vxlan0") for h in hosts]
    for h, vm, tun in zip(hosts, vms, tuns, strict=True):
        h.ofctl("add-flow", "br-int", f"in_port={tun},tunnel_id={VNI},actions=output:{vm.ofport}")

    def send(src: int, dst: int) -> bytes:
        f = traffic.ipv4_udp(vms[src].mac, vms[dst].mac, "203.0.113.10", "203.0.113.20",
                            sport=src, dport=dst)
        hosts[src].add_flows("br-int", [
            f"in_port={vms[src].ofport},actions=set_field:{VNI}->tunnel_id,"
            f"set_field:{ul.ip_of(hosts[dst])}->tun_dst,output:{tuns[src]}"])
        vms[src].send(f)
        return f

    for src, dst in ((0, 1), (0, 2), (1, 2), (2, 0)):
        f = send(src, dst)
        assert vms[dst].recv(2.0) == f, f"{src}->{dst}"

    ul.partition(hosts[0], hosts[2])
    send(0, 2)
    assert vms[2].recv(0.3) is None
    f = send(0, 1)
    assert vms[1].recv(2.0) == f
    ul.heal(hosts[0], hosts[2])
    f = send(0, 2)
    assert vms[2].recv(2.0) == f


@pytest.mark.parametrize("restarted", [0, 1], ids=["listening-side", "connecting-side"])
def test_vswitchd_restart_restores_ports_and_underlay(ovs_hosts, restarted):
    hv1, hv2 = ovs_hosts(2)
    ul = hv1.underlay
    vm1 = hv1.add_vm_port("vm1")
    vm2 = hv2.add_vm_port("vm2")
    t1 = hv1.add_tunnel_port("vxlan0")
    t2 = hv2.add_tunnel_port("vxlan0")
    flows1 = [f"in_port={vm1.ofport},actions=set_field:{VNI}->tunnel_id,"
              f"set_field:{ul.ip_of(hv2)}->tun_dst,output:{t1}"]
    hv1.add_flows("br-int", flows1)
    hv2.add_flows("br-int", [f"in_port={t2},tunnel_id={VNI},actions=output:{vm2.ofport}"])
    f = traffic.ipv4_udp(vm1.mac, vm2.mac, "203.0.113.1", "203.0.113.2")
    vm1.send(f)
    assert vm2.recv(2.0) == f

    # The underlay link is listened on by hv1 and connected to by hv2: restart either.
    victim, vm = ((hv1, vm1), (hv2, vm2))[restarted]
    old = victim.vswitchd_pid
    victim.kill_vswitchd()
    assert old and not pid_alive(old)
    t0 = time.monotonic()
    victim.restart_vswitchd()
    took = time.monotonic() - t0
    assert victim.vswitchd_pid != old
    assert victim.dump_flows() == []  # flows are gone: the agent must re-install them
    assert victim.ofport(vm.name) == vm.ofport and vm.connected
    hv1.add_flows("br-int", flows1)
    hv2.add_flows("br-int", [f"in_port={t2},tunnel_id={VNI},actions=output:{vm2.ofport}"])
    vm1.send(f)
    assert vm2.recv(2.0) == f
    assert took < 1.0, f"restart took {took:.2f}s"


def _read_of_message(conn) -> tuple[int, bytes]:
    header = b""
    while len(header) < 8:
        chunk = conn.recv(8 - len(header))
        assert chunk, "controller connection closed"
        header += chunk
    length = int.from_bytes(header[2:4], "big")
    body = b""
    while len(body) < length - 8:
        chunk = conn.recv(length - 8 - len(body))
        assert chunk, "controller connection closed"
        body += chunk
    return header[1], header + body


def test_vm_frame_reaches_a_controller_as_packet_in(ovs_host):
    """What agent tests rely on: a VM's frame before any forwarding flow becomes a
    packet-in at the controller on 127.0.0.1 (here a bare OpenFlow listener)."""
    port = free_port()
    listener = socket.create_server(("127.0.0.1", port))
    listener.settimeout(10)
    try:
        ovs_host.vsctl("set-controller", "br-int", f"tcp:127.0.0.1:{port}")
        conn, _ = listener.accept()
    finally:
        listener.close()
    with conn:
        conn.settimeout(5)
        conn.sendall(bytes.fromhex("0400000800000001"))  # OpenFlow 1.3 HELLO
        vm = ovs_host.add_vm_port("vm1")
        ovs_host.add_flows("br-int", ["priority=0,actions=CONTROLLER:65535"])
        frame = traffic.arp_request(vm.mac, "203.0.113.5", "203.0.113.1")
        vm.send(frame)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            kind, msg = _read_of_message(conn)
            if kind == 2:  # ECHO_REQUEST: answer so the connection stays up
                conn.sendall(bytes([4, 3]) + msg[2:])
            if kind == 10:  # PACKET_IN
                assert msg.endswith(frame)
                break
        else:
            raise AssertionError("no packet-in")
    ovs_host.vsctl("del-controller", "br-int")


def test_failed_start_leaves_nothing_running(tmp_path, monkeypatch):
    inst = OvsInstance("broken", str(tmp_path / "broken"))
    before = set(leftover_pids())

    def fail(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("bridge step failed")

    monkeypatch.setattr(inst, "add_bridge", fail)
    with pytest.raises(RuntimeError, match="bridge step failed"):
        inst.start()
    assert inst.pids == []
    assert set(leftover_pids()) == before
