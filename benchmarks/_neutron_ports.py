"""The Neutron side of ``benchmarks/neutron.py``; runs in Neutron's venv.

Prints one JSON object: the figures that module documents.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import uuid
from typing import Any


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency-ports", type=int, default=200)
    parser.add_argument("--rate-ports", type=int, default=1000)
    args = parser.parse_args(argv)

    from neutron_lib.plugins import directory

    from tools.lab import neutron_journal as journal
    from tools.lab.cloud import Cloud
    from tools.lab.cluster import LAB_USERS
    from tools.lab.neutron_server import InProcessNeutron
    from tools.lab.zookeeper import TemporaryZooKeeper

    zk = TemporaryZooKeeper().start()
    cloud = neutron = None
    try:
        cloud = Cloud(2, zookeeper=zk, cluster=True).start()
        neutron = InProcessNeutron(cloud.cluster.api_url, "admin",
                                   LAB_USERS["admin"][0]).start()
        plugin = directory.get_plugin()
        ctx = neutron.context
        net = neutron.create("networks", name="bench")
        neutron.create("subnets", network_id=net["id"], ip_version=4, cidr="198.18.0.0/15",
                       gateway_ip="198.18.0.1")
        hosts = cloud.hosts

        def status(port_id: str) -> str:
            return str(plugin.get_port(ctx, port_id)["status"])

        def one_port(i: int, warm: bool = False) -> float | None:
            hv = hosts[i % len(hosts)]
            started = time.perf_counter()
            port = neutron.create("ports", network_id=net["id"], device_owner="compute:bench",
                                  device_id=str(uuid.uuid4()),
                                  **{"binding:host_id": hv.name})
            hv.ovs.add_vm_port(f"b{i}"[:15], mac=port["mac_address"], iface_id=port["id"])
            deadline = started + 30
            while status(port["id"]) != "ACTIVE":
                if time.perf_counter() > deadline:
                    return None
                time.sleep(0.001)
            took = (time.perf_counter() - started) * 1000
            return None if warm else took

        for i in range(5):  # the first ports warm caches, connections and flows
            one_port(10_000 + i, warm=True)
        latencies: list[float] = []
        never_active = 0
        for i in range(args.latency_ports):
            took = one_port(i)
            if took is None:
                never_active += 1
            else:
                latencies.append(took)

        created: list[str] = []
        started = time.perf_counter()
        for _ in range(args.rate_ports):
            created.append(neutron.create("ports", network_id=net["id"],
                                          device_owner="compute:bench")["id"])
        wanted = set(created)
        zk_client = cloud.client
        root = f"{cloud.root_key}/neutron/ports"
        deadline = time.perf_counter() + 300
        while not wanted <= set(zk_client.get_children(root)):
            if time.perf_counter() > deadline:
                break
            time.sleep(0.005)
        rate_elapsed = time.perf_counter() - started
        journal.drain(neutron, timeout=120)
        stored = set(zk_client.get_children(root))
        every = set(p["id"] for p in plugin.get_ports(ctx, filters={"network_id": [net["id"]]}
                                                      ) if p["device_owner"] == "compute:bench")
        figures: dict[str, Any] = {
            "port_active_p50_ms": round(statistics.median(latencies), 1) if latencies else None,
            "port_active_p99_ms": round(percentile(latencies, 0.99), 1) if latencies else None,
            "port_active_max_ms": round(max(latencies), 1) if latencies else None,
            "latency_ports": args.latency_ports,
            "ports_per_s_1000": round(len(wanted & stored) / rate_elapsed, 1),
            "rate_ports": args.rate_ports,
            "ports_lost": len(every - stored) + never_active,
            "journal_failed": len(journal.failed_entries(neutron)),
        }
    finally:
        if neutron is not None:
            neutron.stop()
        if cloud is not None:
            cloud.stop()
        zk.stop()
    print(json.dumps(figures, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
