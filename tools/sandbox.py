"""The sandbox: a working midonet-ryu deployment on one machine.

ZooKeeper, the cluster daemon, N hypervisors (Open vSwitch in network
namespaces, each with its own agent), a demo network with two VMs that have
real kernel stacks, and live traffic between them. It proves what it can
(ping both ways, TCP, the tunnel flows) and prints how to look around.

    tools/sandbox                 # install, bring it up, keep it running (Ctrl-C ends it)
    python -m tools.sandbox --check   # bring it up, prove, tear down, exit 0/1

Everything it starts is ended by PID on exit.
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from tools.lab.cloud import Cloud
from tools.lab.netns import netns_unavailable
from tools.lab.ovs import OvsCommandError
from tools.lab.procs import end_popen
from tools.lab.zookeeper import TemporaryZooKeeper

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VM_NET = "198.51.100.0/24"


class Proofs:
    def __init__(self) -> None:
        self.passed: list[str] = []
        self.failed: list[str] = []

    def check(self, what: str, ok: bool, detail: str = "") -> bool:
        line = what + (f" ({detail})" if detail else "")
        (self.passed if ok else self.failed).append(line)
        print(f"  {'PROVED' if ok else 'FAILED'}: {line}", flush=True)
        return ok


def start_cluster(zk_hosts: str, root_key: str):
    """The cluster daemon with its State Proxy service (a real process)."""
    from tools.lab.cluster import ClusterProcess

    cluster = ClusterProcess(zk_hosts, root=root_key)
    cluster.start()
    print(f"  cluster daemon: pid {cluster.pid}, State Proxy on 127.0.0.1:{cluster.port}")
    return cluster


def run(args: argparse.Namespace) -> int:
    reason = netns_unavailable()
    if reason:
        print(f"sandbox needs network namespaces and root: {reason}", file=sys.stderr)
        return 2
    workdir = args.workdir or tempfile.mkdtemp(prefix="mr-sandbox-")
    os.makedirs(workdir, exist_ok=True)
    proofs = Proofs()
    zk = cluster = cloud = traffic = None
    started = time.monotonic()
    try:
        print(f"== midonet-ryu sandbox in {workdir}", flush=True)
        zk = TemporaryZooKeeper().start()
        print(f"  ZooKeeper: pid {zk.pid}, {zk.hosts}")
        root = "/midonet"
        cluster = start_cluster(zk.hosts, root)
        cloud = Cloud(args.hosts, workdir=os.path.join(workdir, "cloud"), zookeeper=zk,
                      root_key=root, netns=True).start()
        for hv in cloud.hosts:
            print(f"  {hv.name}: namespace {hv.ovs.netns}, underlay {hv.ip}, "
                  f"agent pid {hv.agent.pid} (host {hv.host_id})")

        print("== demo topology: network 'demo' 198.51.100.0/24, VM A on hv1, VM B on hv2")
        net = cloud.network("demo")
        hv_a, hv_b = cloud.hosts[0], cloud.hosts[-1]
        port_a, vm_a = cloud.kernel_vm(hv_a, net, "vma", "198.51.100.1/24")
        port_b, vm_b = cloud.kernel_vm(hv_b, net, "vmb", "198.51.100.2/24")
        cloud.wait_bound(hv_a, port_a)
        cloud.wait_bound(hv_b, port_b)
        cloud.wait_converged([port_a, port_b])

        print("== traffic", flush=True)
        ping = vm_a.exec("ping", "-c", "5", "-i", "0.2", "-W", "2", "198.51.100.2",
                         check=False)
        proofs.check("VM A (hv1) pings VM B (hv2) across the tunnel", ping.returncode == 0,
                     _loss(ping.stdout))
        ping = vm_b.exec("ping", "-c", "5", "-i", "0.2", "-W", "2", "198.51.100.1",
                         check=False)
        proofs.check("VM B (hv2) pings VM A (hv1)", ping.returncode == 0, _loss(ping.stdout))
        proofs.check("a TCP stream of 1 MB from A to B arrives whole", _tcp(vm_a, vm_b))
        flows = [f for f in hv_a.ovs.dump_flows() if "tun_dst" in f and "table=1" in f]
        key_b = cloud.hosts[-1].agent.ctl("ports")["local"][str(port_b.id)]["tunnel_key"]
        proofs.check("hv1 tunnels to VM B with B's tunnel key and hv2's underlay address",
                     any(f"set_field:{key_b:#x}->tun_id" in f and f"{hv_b.ip}->tun_dst" in f
                         for f in flows), f"key {key_b:#x}, {hv_b.ip}")
        learned = hv_a.agent.ctl("counters").get("macs_learned", 0)
        proofs.check("the agents learned the VMs' MACs into the NSDB", learned >= 1)
        proxied = [hv.agent.ctl("status").get("state_proxy") for hv in cloud.hosts]
        proofs.check("the agents read their state tables through the cluster's State Proxy",
                     all(state == "connected" for state in proxied), ", ".join(proxied))

        print("== look around")
        for hv in cloud.hosts:
            print(f"  ovs-ofctl -O OpenFlow13 dump-flows unix:{hv.ovs.mgmt_sock()}")
            print(f"  {REPO}/.venv/bin/midonet-agent-ctl --socket "
                  f"{hv.agent.control_socket} flows")
        print(f"  ip netns exec {vm_a.netns} ping 198.51.100.2")
        print(f"  agent logs: {cloud.hosts[0].agent.log_path} (and the other hosts')")

        if args.check:
            return 0 if not proofs.failed else 1
        traffic = vm_a.popen("ping", "-i", "1", "198.51.100.2", stdout=subprocess.DEVNULL)
        print("== live traffic: VM A pings VM B every second. "
              + ("Ctrl-C to stop." if not args.duration else f"Up for {args.duration}s."),
              flush=True)
        deadline = time.monotonic() + args.duration if args.duration else None
        stop = []
        signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
        try:
            while not stop and (deadline is None or time.monotonic() < deadline):
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        return 0 if not proofs.failed else 1
    except Exception as e:  # noqa: BLE001 - report, then tear down
        proofs.check("the sandbox came up", False, f"{type(e).__name__}: {e}")
        return 1
    finally:
        print("== tearing down", flush=True)
        if traffic is not None:
            end_popen(traffic)
        if cloud is not None:
            cloud.stop()
        if cluster is not None:
            cluster.stop()
        if zk is not None:
            zk.stop()
        if not args.workdir and not proofs.failed:
            shutil.rmtree(workdir, ignore_errors=True)
        print(f"== {len(proofs.passed)} proved, {len(proofs.failed)} failed, "
              f"{time.monotonic() - started:.1f}s")


def _loss(ping_output: str) -> str:
    for line in ping_output.splitlines():
        if "packet loss" in line:
            return line.strip()
    return "no answer"


_TCP_SERVER = """import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 5001)); s.listen(1); c, _ = s.accept(); n = 0
while True:
    d = c.recv(65536)
    if not d:
        break
    n += len(d)
print(n)
"""
_TCP_CLIENT = """import socket, sys, time
for _ in range(50):
    try:
        s = socket.create_connection((sys.argv[1], 5001), timeout=5)
        break
    except OSError:
        time.sleep(0.1)
s.sendall(b"x" * int(sys.argv[2])); s.close()
"""


def _tcp(src, dst, size: int = 1 << 20) -> bool:
    """Send ``size`` bytes from ``src`` to ``dst`` over TCP; the receiver counts them."""
    server = dst.popen(sys.executable, "-c", _TCP_SERVER, stdout=subprocess.PIPE, text=True)
    try:
        src.exec(sys.executable, "-c", _TCP_CLIENT, dst.ip, str(size), timeout=30)
        out, _ = server.communicate(timeout=30)
        return out.strip() == str(size)
    except (subprocess.TimeoutExpired, OvsCommandError):
        return False
    finally:
        end_popen(server)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.sandbox")
    parser.add_argument("--hosts", type=int, default=2, help="hypervisors (>= 2)")
    parser.add_argument("--check", action="store_true",
                        help="prove and exit (0 when everything was proved)")
    parser.add_argument("--duration", type=float, default=0,
                        help="keep the live traffic up this many seconds (0: until Ctrl-C)")
    parser.add_argument("--workdir", help="keep everything here (default: a temp dir)")
    args = parser.parse_args(argv)
    if args.hosts < 2:
        parser.error("--hosts must be at least 2")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
