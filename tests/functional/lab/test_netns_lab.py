"""The namespace lab: VMs with a kernel stack ping and talk TCP across a VXLAN
tunnel between two hypervisor namespaces, with flows installed by hand."""
from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time

import pytest

from tools.lab.netns import NetnsLab, NetnsVm
from tools.lab.procs import free_port

pytestmark = pytest.mark.functional

VNI = 7001


def _tunnel_flows(lab: NetnsLab, vms: list[NetnsVm], kind: str = "vxlan") -> None:
    """Every VM reaches every other VM over the tunnel (one VNI, by destination MAC);
    ARP broadcasts go to every other hypervisor."""
    tun = {h.name: h.add_tunnel_port(f"{kind}0", kind) for h in lab.hosts}
    for h in lab.hosts:
        flows = ["priority=0,actions=drop"]
        local = [vm for vm in vms if vm.host is h]
        for vm in local:
            flows.append(f"priority=10,in_port={tun[h.name]},tunnel_id={VNI},"
                         f"dl_dst={vm.mac},actions=output:{vm.ofport}")
            others = [o for o in vms if o.host is not h]
            flood = ",".join(f"set_field:{o.host.underlay_ip}->tun_dst,output:{tun[h.name]}"
                             for o in others)
            flows.append(f"priority=10,in_port={vm.ofport},dl_dst=ff:ff:ff:ff:ff:ff,"
                         f"actions=set_field:{VNI}->tunnel_id,{flood}")
            for o in others:
                flows.append(f"priority=10,in_port={vm.ofport},dl_dst={o.mac},"
                             f"actions=set_field:{VNI}->tunnel_id,"
                             f"set_field:{o.host.underlay_ip}->tun_dst,output:{tun[h.name]}")
        flows.append(f"priority=5,in_port={tun[h.name]},tunnel_id={VNI},"
                     f"dl_dst=ff:ff:ff:ff:ff:ff,actions="
                     + ",".join(f"output:{vm.ofport}" for vm in local))
        h.add_flows("br-int", flows)


def test_vms_ping_and_tcp_across_vxlan(netns_lab):
    t0 = time.monotonic()
    lab = netns_lab(2)
    hv1, hv2 = lab.hosts
    vm1 = hv1.add_vm("vm1", "203.0.113.1/24", iface_id="port-vm1")
    vm2 = hv2.add_vm("vm2", "203.0.113.2/24")
    bring_up = time.monotonic() - t0
    assert hv1.vsctl("get", "Bridge", "br-int", "datapath_type").strip() == "netdev"
    assert hv1.vsctl("get", "Interface", vm1.port, "external_ids:iface-id").strip() == "port-vm1"

    # No flows on a secure br-int: nothing gets through.
    assert not vm1.ping(vm2.ip, count=1, timeout=0.5)

    _tunnel_flows(lab, [vm1, vm2])
    assert vm1.ping(vm2.ip, count=3), "ping across VXLAN failed"
    assert vm2.ping(vm1.ip, count=1)
    assert vm1.ping(vm2.ip, count=1, interval=0.2) and vm1.exec(
        "ping", "-c", "1", "-s", "1400", "-W", "2", vm2.ip, check=False).returncode == 0

    # TCP needs checksum offload off in the VMs (done by add_vm): move 1 MB.
    server = vm2.popen(sys.executable, "-c", (
        "import socket;s=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);"
        f"s.bind(('{vm2.ip}',5001));s.listen(1);c,_=s.accept();n=0\n"
        "while True:\n d=c.recv(65536)\n if not d: break\n n+=len(d)\n"
        "print(n)"), stdout=subprocess.PIPE, text=True)
    try:
        vm1.exec(sys.executable, "-c", (
            "import socket,time\n"
            "for i in range(50):\n"
            f" try: s=socket.create_connection(('{vm2.ip}',5001),timeout=5); break\n"
            " except OSError: time.sleep(0.1)\n"
            "s.sendall(b'x'*1048576);s.close()"), timeout=30)
        out, _ = server.communicate(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(5)
    assert out.strip() == "1048576"
    assert bring_up < 5.0, f"bring-up took {bring_up:.2f}s"


def test_three_hypervisors_on_a_switched_underlay(netns_lab):
    lab = netns_lab(3)
    vms = [h.add_vm(f"vm{i + 1}", f"203.0.113.{i + 1}/24") for i, h in enumerate(lab.hosts)]
    _tunnel_flows(lab, vms)
    assert vms[0].ping(vms[2].ip, count=1)
    assert vms[2].ping(vms[1].ip, count=1)


def test_controller_relay_reaches_a_root_namespace_listener(netns_lab):
    """vswitchd in a namespace reaches a TCP controller on the test's 127.0.0.1
    through the unix-socket relay inside its OVS_RUNDIR."""
    lab = netns_lab(2)
    hv1 = lab.hosts[0]
    port = free_port()
    listener = socket.create_server(("127.0.0.1", port))
    listener.settimeout(10)
    got: list[bytes] = []

    def accept() -> None:
        conn, _ = listener.accept()
        conn.settimeout(10)
        got.append(conn.recv(8))
        conn.close()

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        target = hv1.controller_relay(port)
        assert target.startswith(f"unix:{hv1.workdir}/")
        hv1.vsctl("set-controller", "br-int", target)
        t.join(10)
    finally:
        listener.close()
    assert got and got[0][1] == 0, "expected an OpenFlow HELLO from vswitchd"  # type 0 = HELLO
    hv1.vsctl("del-controller", "br-int")


def test_restart_of_a_namespaced_vswitchd(netns_lab):
    lab = netns_lab(2)
    hv1, hv2 = lab.hosts
    vm1 = hv1.add_vm("vm1", "203.0.113.1/24")
    vm2 = hv2.add_vm("vm2", "203.0.113.2/24")
    _tunnel_flows(lab, [vm1, vm2])
    assert vm1.ping(vm2.ip)
    hv1.restart_vswitchd()
    assert hv1.dump_flows() == []
    _tunnel_flows(lab, [vm1, vm2])
    assert vm1.ping(vm2.ip, count=1, timeout=3)
