"""A big bridge on real agents: ``python -m benchmarks scale [--quick] [--json]``.

The lab of issue 11's first figures, tried as a new user would: three
hypervisors on the dummy datapath (real Open vSwitch, real agents, one
ZooKeeper), one bridge of N ports, the odd ones bound on hv1 and the even
ones on hv2 (their interfaces created first, the ports written in one NSDB
transaction), and hv3 serving one port on a network of its own (the
"unrelated" agent). Run twice in the same run: with the topology loaded on
demand (the default) and with ``[agent] topology_on_demand = false`` (every
object of the cloud loaded and watched: the behaviour before).

Per mode and N:

* ``nsdb_write_s``: the transaction writing the N ports;
* ``ready_all_s``: from the write until every port is bound on its host and
  a broadcast from each sampled VM on hv1 reaches its partner on hv2;
* ``one_more_port_p50_ms`` / ``_p99_ms``: a new interface on hv2 and its port
  written, until a VM on hv1 reaches it (an ARP request it receives);
* ``agent_rss_mb`` (hv1), ``zk_watches_per_agent`` (hv1's session, from
  ZooKeeper's ``wchc``), and the same two for the unrelated agent.

``SCALE_PORTS`` (default 1,000) and ``SCALE_MODES`` (``on,full``) choose
the size and the modes. Not here yet (issue 11): 10,000 and 50,000 ports with simulated hosts, the
10/25/50-hypervisor run, and OVN in the same run.
"""
from __future__ import annotations

import os
import statistics
import time
import uuid
from typing import Any

from midonet_ryu.topology.model import Port
from tools.lab import traffic
from tools.lab.cloud import Cloud
from tools.lab.procs import wait_until
from tools.lab.zookeeper import TemporaryZooKeeper, four_letter

SAMPLES = 4  # VM pairs whose traffic proves the bridge ready


def _rss_mb(pid: int | None) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def _watches(zk: Any, session: str) -> int:
    port = int(zk.hosts.rsplit(":", 1)[1])
    count, current = 0, None
    for line in four_letter(port, "wchc", timeout=10).splitlines():
        if line.startswith("0x"):
            current = line.strip()
        elif line.strip() and current == session:
            count += 1
    return count


def _add_interfaces(hv: Any, names: list[str]) -> None:
    """Interfaces with no VM behind them, many per ovs-vsctl call."""
    for start in range(0, len(names), 200):
        args: list[str] = []
        for name in names[start:start + 200]:
            args += ["--", "--may-exist", "add-port", "br-int", name,
                     "--", "set", "Interface", name, "type=dummy"]
        hv.ovs.vsctl(*args[1:], timeout=120)


def _reaches(src: Any, dst: Any, ip: str, timeout: float) -> bool:
    """A unicast from ``src`` reaches ``dst``, which announces itself (a
    broadcast ARP request) so the bridge learns its MAC."""
    deadline = time.monotonic() + timeout
    frame = traffic.ipv4_udp(src.mac, dst.mac, "198.51.100.1", ip)
    while time.monotonic() < deadline:
        dst.send(traffic.arp_request(dst.mac, ip, "198.51.100.1"))
        src.send(frame)
        if any(traffic.matches(f, ethernet_src=src.mac) for f in dst.recv_all(0.01)):
            return True
    return False


def _local_ports(hv: Any) -> int:
    try:
        return hv.agent.ctl("status", timeout=20)["local_ports"]
    except (OSError, RuntimeError, ValueError):
        return -1


def _mode(zk: Any, n: int, on_demand: bool, more: int) -> dict[str, Any]:
    extra = {"agent": {"topology_on_demand": "true" if on_demand else "false"}}
    cloud = Cloud(3, zookeeper=zk, agent_extra=extra).start()
    try:
        hv1, hv2, hv3 = cloud.hosts
        net = cloud.network("big")
        lone = cloud.network("lone")
        placed = [(hv3, cloud.vm(hv3, lone, "lone")[0])]
        pairs = []
        for i in range(SAMPLES):
            (pa, a), (pb, b) = cloud.vm(hv1, net, f"sa{i}"), cloud.vm(hv2, net, f"sb{i}")
            placed += [(hv1, pa), (hv2, pb)]
            pairs.append((a, b))
        cloud.settle(*placed)
        names = {hv1: [f"p{i}" for i in range(1, n, 2)], hv2: [f"p{i}" for i in range(0, n, 2)]}
        for hv, ifaces in names.items():
            _add_interfaces(hv, ifaces)
        started = time.monotonic()
        with cloud.store.transaction() as tx:
            for hv, ifaces in names.items():
                for name in ifaces:
                    tx.create(Port(id=uuid.uuid4(), network_id=net.id, host_id=hv.host_id,
                                   interface_name=name))
        written = time.monotonic()
        want = {hv1: len(names[hv1]) + SAMPLES, hv2: len(names[hv2]) + SAMPLES}
        for hv, count in want.items():
            wait_until(lambda hv=hv, count=count: _local_ports(hv) >= count, 300,
                       interval=0.2, what=f"{hv.name} to bind its {count} ports")
        for a, b in pairs:
            assert _reaches(a, b, "198.51.100.99", 60), "a sampled pair never reached"
        ready = time.monotonic()
        a = pairs[0][0]
        times = []
        for i in range(more):
            vm = hv2.ovs.add_vm_port(f"m{i}")
            t0 = time.monotonic()
            cloud.store.create(Port(id=uuid.uuid4(), network_id=net.id, host_id=hv2.host_id,
                                    interface_name=f"m{i}"))
            assert _reaches(a, vm, f"198.51.100.{100 + i % 100}", 30), "one more port unreached"
            times.append(time.monotonic() - t0)
        time.sleep(1.5)  # a tick after the last change, then the figures
        out = {
            "nsdb_write_s": round(written - started, 2),
            "ready_all_s": round(ready - started, 2),
            "one_more_port_p50_ms": round(statistics.median(times) * 1000, 1),
            "one_more_port_p99_ms": round(_p99(times) * 1000, 1),
            "agent_rss_mb": _rss_mb(hv1.agent.pid),
            "zk_watches_per_agent": _session_watches(zk, hv1),
            "unrelated_agent_rss_mb": _rss_mb(hv3.agent.pid),
            "unrelated_agent_watches": _session_watches(zk, hv3),
        }
        return out
    finally:
        cloud.stop()


def _session_watches(zk: Any, hv: Any) -> int:
    """Watches ZooKeeper holds for ``hv``'s agent's session."""
    return _watches(zk, hv.agent.ctl("topology")["session_id"])


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def run(quick: bool = False) -> dict[str, Any]:
    n, more = (int(os.environ.get("SCALE_PORTS", 1000)), 10) if quick else (1000, 30)
    out: dict[str, Any] = {"ports": n, "one_more_port_samples": more}
    zk = TemporaryZooKeeper(heap_mb=2048).start()
    try:
        for on_demand in [m == "on" for m in os.environ.get("SCALE_MODES", "on,full").split(",")]:
            figures = _mode(zk, n, on_demand, more)
            suffix = "1k" if n == 1000 else str(n)
            prefix = "" if on_demand else "full_load_"
            out[f"{prefix}ready_all_s_{suffix}"] = figures["ready_all_s"]
            out[f"{prefix}nsdb_write_s_{suffix}"] = figures["nsdb_write_s"]
            out[f"{prefix}one_more_port_p50_ms_{suffix}"] = figures["one_more_port_p50_ms"]
            out[f"{prefix}one_more_port_p99_ms_{suffix}"] = figures["one_more_port_p99_ms"]
            out[f"{prefix}agent_rss_mb_{suffix}"] = figures["agent_rss_mb"]
            out[f"{prefix}zk_watches_per_agent_{suffix}"] = figures["zk_watches_per_agent"]
            out[f"{prefix}unrelated_agent_rss_mb_{suffix}"] = figures["unrelated_agent_rss_mb"]
            out[f"{prefix}unrelated_agent_watches_{suffix}"] = figures["unrelated_agent_watches"]
    finally:
        zk.stop()
    return out
