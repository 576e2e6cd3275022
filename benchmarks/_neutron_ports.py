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


def _median(runs: list[dict[str, float]], key: str) -> float | None:
    values = [r[key] for r in runs if key in r]
    return round(statistics.median(values), 1) if values else None


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

    # 256 MB (the tests' size) runs out near a thousand ports on one
    # network: each port rewrites the network's, the DHCP subnet's and the
    # security group's objects, which every agent reads again
    zk = TemporaryZooKeeper(heap_mb=2048).start()
    cloud = neutron = None
    try:
        cloud = Cloud(2, zookeeper=zk, cluster=True).start()
        neutron = InProcessNeutron(cloud.cluster.api_url, "admin",
                                   LAB_USERS["admin"][0]).start()
        plugin = directory.get_plugin()
        ctx = neutron.context
        # the plugin's own dicts (for the final count; polling reads one column)
        net = neutron.create("networks", name="bench")
        neutron.create("subnets", network_id=net["id"], ip_version=4, cidr="198.18.0.0/15",
                       gateway_ip="198.18.0.1")
        hosts = cloud.hosts

        zk_client = cloud.client
        stored_root = f"{cloud.root_key}/neutron/ports"
        state_root = f"{cloud.root_key}/zoom/0/state"
        from neutron.db.models_v2 import Port as PortRow
        from neutron_lib.db import api as db_api

        def status(port_id: str) -> str:
            # one column, not the plugin's whole port dict: polling must not
            # take the database away from the journal worker for long
            with db_api.CONTEXT_READER.using(ctx):
                row = ctx.session.query(PortRow.status).filter_by(id=port_id).one()
            return str(row[0])

        def bound(hv: Any, port_id: str) -> bool:
            return zk_client.exists(f"{state_root}/{hv.host_id}/Port/{port_id}/active") is not None

        def one_port(i: int) -> dict[str, float] | None:
            hv = hosts[i % len(hosts)]
            started = time.perf_counter()
            port = neutron.create("ports", network_id=net["id"], device_owner="compute:bench",
                                  device_id=str(uuid.uuid4()),
                                  **{"binding:host_id": hv.name})
            marks = {"created": time.perf_counter()}
            hv.ovs.add_vm_port(f"b{i}"[:15], mac=port["mac_address"], iface_id=port["id"])
            deadline = started + 30
            while time.perf_counter() < deadline:
                now = time.perf_counter()
                if "nsdb" not in marks:
                    if zk_client.exists(f"{stored_root}/{port['id']}"):
                        marks["nsdb"] = now
                elif "bound" not in marks:
                    if bound(hv, port["id"]):
                        marks["bound"] = now
                elif status(port["id"]) == "ACTIVE":
                    marks["active"] = now
                    return {k: (v - started) * 1000 for k, v in marks.items()}
                time.sleep(0.002)
            return None

        for i in range(5):  # the first ports warm caches, connections and flows
            one_port(10_000 + i)
        runs: list[dict[str, float]] = []
        never_active = 0
        for i in range(args.latency_ports):
            marks = one_port(i)
            if marks is None:
                never_active += 1
            else:
                runs.append(marks)
        latencies = [m["active"] for m in runs]

        created: list[str] = []
        started = time.perf_counter()
        for _ in range(args.rate_ports):
            created.append(neutron.create("ports", network_id=net["id"],
                                          device_owner="compute:bench")["id"])
        wanted = set(created)
        deadline = time.perf_counter() + 300
        while not wanted <= set(zk_client.get_children(stored_root)):
            if time.perf_counter() > deadline:
                break
            time.sleep(0.005)
        rate_elapsed = time.perf_counter() - started
        journal.drain(neutron, timeout=120)
        stored = set(zk_client.get_children(stored_root))
        every = set(p["id"] for p in plugin.get_ports(ctx, filters={"network_id": [net["id"]]}
                                                      ) if p["device_owner"] == "compute:bench")
        figures: dict[str, Any] = {
            "port_active_p50_ms": round(statistics.median(latencies), 1) if latencies else None,
            "port_active_p99_ms": round(percentile(latencies, 0.99), 1) if latencies else None,
            "port_active_max_ms": round(max(latencies), 1) if latencies else None,
            "latency_ports": args.latency_ports,
            # where the time goes (medians, from the POST): Neutron's create
            # returned, the cluster stored the port, the agent bound it
            "created_p50_ms": _median(runs, "created"),
            "in_nsdb_p50_ms": _median(runs, "nsdb"),
            "agent_bound_p50_ms": _median(runs, "bound"),
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
