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
import types
import uuid

from tools import demo
from tools.lab.cloud import Cloud
from tools.lab.cluster import LAB_USERS
from tools.lab.netns import netns_unavailable
from tools.lab.ovs import OvsCommandError
from tools.lab.procs import end_popen, wait_until
from tools.lab.zookeeper import TemporaryZooKeeper

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ADMIN = ("admin", LAB_USERS["admin"][0])


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

        api = demo.connect(cluster.api_url, *ADMIN)
        print(f"  REST API: {cluster.api_url} (user {ADMIN[0]}, password {ADMIN[1]})")
        hv1, hv2 = cloud.hosts[0], cloud.hosts[-1]
        placement = {"vm1": hv1, "internet": hv1, "vm2": hv2, "vm3": hv2}
        print("== demo tenant, built through the REST API and midonet-cli: networks front "
              f"{demo.FRONT} and back {demo.BACK} behind router edge, uplink on public "
              f"{demo.PUBLIC}", flush=True)
        built = demo.build(api, cluster.api_url, *ADMIN,
                           {vm: str(hv.host_id) for vm, hv in placement.items()})
        gateways = {"vm1": demo.FRONT_GW, "vm3": demo.FRONT_GW, "vm2": demo.BACK_GW,
                    "internet": demo.PUBLIC_GW}
        cidrs = {"vm1": f"{demo.VM1}/25", "vm3": f"{demo.VM3}/25", "vm2": f"{demo.VM2}/25",
                 "internet": f"{demo.INTERNET}/24"}
        vms = {name: hv.ovs.add_vm(name, cidrs[name], gateway=gateways[name])
               for name, hv in placement.items()}
        vms["internet"].exec("ip", "route", "add", f"{demo.FLOATING_IP}/32", "via",
                             demo.PUBLIC_GW)
        ports = {name: types.SimpleNamespace(id=uuid.UUID(built.vm_ports[name]["id"]))
                 for name in placement}
        for name, hv in placement.items():
            cloud.wait_bound(hv, ports[name])
        cloud.wait_converged(list(ports.values()))
        prove_demo(proofs, vms, ports, hv1, hv2)

        print("== the CLI's view")
        for cmd in (("bridge", "list", "-c", "id", "-c", "name", "-c", "tenantId"),
                    ("port-group", "member", "list", built.port_group["id"]),
                    ("host", "list", "-c", "id", "-c", "name", "-c", "alive"),
                    ("rule", "list", "--chain", built.sg["id"], "-c", "type", "-c", "nwProto",
                     "-c", "tpDst")):
            print(f"$ midonet-cli {' '.join(cmd)}")
            print(demo.cli(cluster.api_url, *ADMIN, *cmd), end="")
        trace = ("trace", "simulate", "--port", built.vm_ports["vm1"]["id"], "--src-mac",
                 vms["vm1"].mac, "--dst-mac", "02:ee:00:00:01:01", "--src-ip", demo.VM1,
                 "--dst-ip", demo.VM2, "--proto", "tcp", "--dst-port", str(demo.DROPPED_TCP),
                 "--mode", "summary")
        print(f"$ midonet-cli {' '.join(trace)}")
        traced = demo.cli(cluster.api_url, *ADMIN, *trace)
        print(traced, end="")
        proofs.check("trace simulate shows vm1's TCP 9090 to vm2 dropped by sg-web",
                     "drop" in traced and "sg-web" in traced)
        print(f"$ ovs-ofctl -O OpenFlow13 dump-flows unix:{hv1.ovs.mgmt_sock()} table=1")
        flows = [f for f in hv1.ovs.dump_flows() if "table=1" in f]
        print("\n".join("  " + f.strip() for f in flows[:12]))

        print("== look around")
        print(f"  export MIDO_API_URL={cluster.api_url} MIDO_USER={ADMIN[0]} "
              f"MIDO_PASSWORD={ADMIN[1]}")
        print(f"  {REPO}/.venv/bin/midonet-cli        # interactive; try: bridge list")
        for hv in cloud.hosts:
            print(f"  ovs-ofctl -O OpenFlow13 dump-flows unix:{hv.ovs.mgmt_sock()}")
            print(f"  {REPO}/.venv/bin/midonet-agent-ctl --socket "
                  f"{hv.agent.control_socket} flows")
        print(f"  ip netns exec {vms['vm1'].netns} ping {demo.VM2}")
        print(f"  agent logs: {cloud.hosts[0].agent.log_path} (and the other hosts')")
        vm_a, vm_b_ip = vms["vm1"], demo.VM2

        if args.check:
            return 0 if not proofs.failed else 1
        traffic = vm_a.popen("ping", "-i", "1", vm_b_ip, stdout=subprocess.DEVNULL)
        print("== live traffic: vm1 pings vm2 every second. "
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
        try:
            proofs.check("the sandbox came up", False, f"{type(e).__name__}: {e}")
        except OSError:
            pass  # stdout is gone (the reader quit): tear down all the same
        return 1
    finally:
        _say("== tearing down")
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
        _say(f"== {len(proofs.passed)} proved, {len(proofs.failed)} failed, "
             f"{time.monotonic() - started:.1f}s")


def _say(line: str) -> None:
    """Print, unless the reader is gone (``| head``): teardown must go on."""
    try:
        print(line, flush=True)
    except OSError:
        pass


def prove_demo(proofs: Proofs, vms: dict, ports: dict, hv1, hv2) -> None:
    """Every claim of the demo, with real packets between kernel stacks."""
    vm1, vm2, internet = vms["vm1"], vms["vm2"], vms["internet"]
    print("== traffic", flush=True)
    ping = vm1.exec("ping", "-c", "5", "-i", "0.2", "-W", "2", demo.VM2, check=False)
    proofs.check("vm1 (front, hv1) pings vm2 (back, hv2) through router edge: sg-web "
                 "accepts ping", ping.returncode == 0, _loss(ping.stdout))
    proofs.check(f"TCP to vm2:{demo.ALLOWED_TCP} connects and 1 MB arrives whole (sg-web "
                 "accepts it)", _tcp(vm1, vm2, port=demo.ALLOWED_TCP))
    proofs.check(f"TCP to vm2:{demo.DROPPED_TCP} is dropped by sg-web while vm2 listens",
                 _tcp_blocked(vm1, vm2, demo.DROPPED_TCP))
    before = hv2.agent.ctl("counters").get("flow_state_keys_imported", 0)
    seen = _udp_source(vm1, internet)
    proofs.check(f"vm1 reaches the internet host with the router's address {demo.PUBLIC_GW} "
                 "(SNAT)", seen == demo.PUBLIC_GW, f"seen as {seen}")
    # vm1 and the internet host are both on hv1: only the ingress set sends hv2 the state
    try:
        imported = wait_until(lambda: hv2.agent.ctl("counters").get(
            "flow_state_keys_imported", 0) - before, 5, what="hv2 to import state")
    except TimeoutError:
        imported = 0
    proofs.check("hv2 got the state of vm1's SNAT connection, which never crossed it: vm1 "
                 "and vm3 (on hv2) form the stateful port group ha-front", imported > 0,
                 f"{imported} keys imported")
    ping = internet.exec("ping", "-c", "3", "-i", "0.2", "-W", "2", demo.FLOATING_IP,
                         check=False)
    proofs.check(f"the internet host pings vm2 at its floating IP {demo.FLOATING_IP}",
                 ping.returncode == 0, _loss(ping.stdout))
    seen = _udp_source(vm2, internet)
    proofs.check("vm2 reaches the internet host from its floating IP",
                 seen == demo.FLOATING_IP, f"seen as {seen}")
    key = hv1.agent.ctl("ports")["remote"].get(str(ports["vm2"].id), {})
    flows = [f for f in hv1.ovs.dump_flows() if "tun_dst" in f]
    proofs.check("hv1 tunnels to vm2 with hv2's underlay address",
                 any(f"{hv2.ip}->tun_dst" in f for f in flows), str(key or hv2.ip))


_UDP_PEER = """import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", 7000))
s.settimeout(15); data, peer = s.recvfrom(100); print(peer[0], flush=True)
"""


def _udp_source(src, dst) -> str:
    """The source address ``dst`` sees on a datagram from ``src``."""
    listener = dst.popen(sys.executable, "-c", _UDP_PEER, stdout=subprocess.PIPE, text=True)
    try:
        for _ in range(50):
            if "7000" in dst.exec("ss", "-uln", check=False).stdout:
                break
            time.sleep(0.1)
        for _ in range(10):
            src.exec(sys.executable, "-c", "import socket; socket.socket(socket.AF_INET, "
                     f"socket.SOCK_DGRAM).sendto(b'hi', ('{dst.ip}', 7000))")
            try:
                out, _ = listener.communicate(timeout=1.5)
                return out.strip()
            except subprocess.TimeoutExpired:
                continue
        return "nothing"
    finally:
        end_popen(listener)


def _tcp_blocked(src, dst, port: int) -> bool:
    """A listener on ``dst:port`` that ``src`` cannot connect to."""
    server = dst.popen(sys.executable, "-c", _TCP_SERVER.replace("5001", str(port)),
                       stdout=subprocess.PIPE, text=True)
    try:
        for _ in range(50):
            if f":{port}" in dst.exec("ss", "-tln", check=False).stdout:
                break
            time.sleep(0.1)
        probe = src.exec(sys.executable, "-c", "import socket, sys\ntry:\n"
                         f"    socket.create_connection(('{dst.ip}', {port}), timeout=3)\n"
                         "    print('connected')\nexcept OSError as e:\n    print(e)",
                         check=False, timeout=15)
        return "connected" not in probe.stdout and "timed out" in probe.stdout
    finally:
        end_popen(server)


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
        s = socket.create_connection((sys.argv[1], int(sys.argv[3])), timeout=5)
        break
    except OSError:
        time.sleep(0.1)
s.sendall(b"x" * int(sys.argv[2])); s.close()
"""


def _tcp(src, dst, size: int = 1 << 20, port: int = 5001) -> bool:
    """Send ``size`` bytes from ``src`` to ``dst`` over TCP; the receiver counts them."""
    server = dst.popen(sys.executable, "-c", _TCP_SERVER.replace("5001", str(port)),
                       stdout=subprocess.PIPE, text=True)
    try:
        src.exec(sys.executable, "-c", _TCP_CLIENT, dst.ip, str(size), str(port), timeout=30)
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
