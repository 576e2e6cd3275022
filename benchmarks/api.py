"""The REST API against the bare NSDB it stands on.

``python -m benchmarks api [--quick] --json``

A private ZooKeeper and one real ``midonet-cluster`` (REST API with token
authentication, as deployed). The topology holds 10,000 ports over 100
bridges, written straight into ZooKeeper. Measured, interleaved in rounds so
a drift of the machine's speed hits both sides alike:

* ``get_port_p99_ms``: ``GET /ports/{id}`` of random ports over one kept-alive
  HTTP connection; the floor ``bare_read_p99_ms``: a kazoo ``get`` of the same
  znodes from this process.
* ``create_port_p99_ms``: ``POST /bridges/{id}/ports``; the floor
  ``bare_write_p99_ms``: the same znodes written by kazoo as the API writes
  them, one version-checked multi-op creating the port and updating its
  bridge's back-reference.
* ``list_ports_10k_ms``: ``GET /ports`` answering all 10,000 (median of the
  rounds, before any port is created).

The API reads from its in-memory model cache (``midonet_ryu/nsdb/model_cache.py``,
kept current by a persistent watch and refreshed by every commit); a GET of an
object the cache does not hold is checked in ZooKeeper.

The HTTP client is the standard library's ``http.client`` (what it costs is
part of the figure; ``requests`` would add about 0.3 ms per call).
"""
from __future__ import annotations

import base64
import http.client
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

BRIDGES = 100
PORTS_PER_BRIDGE = 100


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _populate(zk: Any, paths: Any) -> tuple[list[uuid.UUID], list[uuid.UUID]]:
    """100 bridges of 100 ports, each bridge and its ports in one multi-op."""
    from midonet_ryu.topology import base
    from midonet_ryu.topology.model import Network, Port

    for kind in ("Network", "Port"):
        zk.ensure_path(paths.models(kind))
    bridges, ports = [], []
    pending = []
    for b in range(BRIDGES):
        net_id = uuid.uuid4()
        port_ids = tuple(uuid.uuid4() for _ in range(PORTS_PER_BRIDGE))
        tx = zk.transaction()
        tx.create(paths.model("Network", net_id), base.serialize(
            Network(id=net_id, name=f"bench-{b}", port_ids=port_ids)))
        for pid in port_ids:
            tx.create(paths.model("Port", pid), base.serialize(
                Port(id=pid, network_id=net_id, name=f"p-{pid.hex[:6]}")))
        pending.append(tx.commit_async())
        bridges.append(net_id)
        ports.extend(port_ids)
    for result in pending:
        failures = [r for r in result.get() if isinstance(r, Exception)]
        if failures:
            raise RuntimeError(f"populating failed: {failures[0]!r}")
    return bridges, ports


class Api:
    """One kept-alive connection with a token, as a client would hold."""

    def __init__(self, port: int, user: str, password: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        basic = base64.b64encode(f"{user}:{password}".encode()).decode()
        status, body = self.call("POST", "/midonet-api/login",
                                 headers={"Authorization": f"Basic {basic}"})
        if status != 200:
            raise RuntimeError(f"login: {status} {body!r}")
        self.token = json.loads(body)["key"]

    def call(self, method: str, path: str, body: Any = None,
             headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        hdrs = dict(headers or {})
        if getattr(self, "token", None):
            hdrs["X-Auth-Token"] = self.token
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        self.conn.request(method, path, body=data, headers=hdrs)
        resp = self.conn.getresponse()
        return resp.status, resp.read()


def run(quick: bool = False) -> dict[str, Any]:
    from midonet_ryu.nsdb.client import make_client
    from midonet_ryu.nsdb.paths import Paths
    from midonet_ryu.topology import base
    from midonet_ryu.topology.model import Network, Port
    from tools.lab.cluster import LAB_USERS, ClusterProcess
    from tools.lab.zookeeper import ZooKeeperServer

    rounds = 3 if quick else 5
    samples = 200 if quick else 1000  # per round and operation
    workdir = tempfile.mkdtemp(prefix="mr-bench-api-")
    zk_server = ZooKeeperServer(workdir).start()
    cluster = None
    zk = make_client(zk_server.hosts, 10000)
    zk.start()
    try:
        root = "/bench-api"
        paths = Paths(root)
        bridges, ports = _populate(zk, paths)
        cluster = ClusterProcess(zk_server.hosts, root=root, metrics_port=0).start()
        loaded = time.monotonic()
        while not cluster.health()["services"]["rest_api"].get("cache_ready"):
            if time.monotonic() - loaded > 30:
                raise RuntimeError("the REST API's model cache did not load")
            time.sleep(0.1)
        cache_load_s = time.monotonic() - loaded
        api = Api(cluster.api_port, "admin", LAB_USERS["admin"][0])
        rng = random.Random(7)
        reads, bare_reads, creates, bare_writes, lists = [], [], [], [], []
        status, _ = api.call("GET", f"/midonet-api/ports/{ports[0]}")
        assert status == 200, status
        # the listing first, while there are exactly 10,000 ports
        listed = 0
        for _ in range(rounds):
            t = time.perf_counter()
            status, body = api.call("GET", "/midonet-api/ports")
            lists.append(time.perf_counter() - t)
            if status != 200:
                raise RuntimeError(f"GET ports: {status}")
            listed = len(json.loads(body))
        for _ in range(rounds):
            for _ in range(samples):
                pid = rng.choice(ports)
                t = time.perf_counter()
                zk.get(paths.model("Port", pid))
                bare_reads.append(time.perf_counter() - t)
                t = time.perf_counter()
                status, _ = api.call("GET", f"/midonet-api/ports/{pid}")
                reads.append(time.perf_counter() - t)
                if status != 200:
                    raise RuntimeError(f"GET port: {status}")
            for i in range(samples // 4):
                net_id = bridges[i % len(bridges)]
                # the floor: what the API's transaction writes, done by hand
                t = time.perf_counter()
                data, stat = zk.get(paths.model("Network", net_id))
                net = base.deserialize(Network, data)
                pid = uuid.uuid4()
                tx = zk.transaction()
                tx.create(paths.model("Port", pid), base.serialize(
                    Port(id=pid, network_id=net_id)))
                tx.set_data(paths.model("Network", net_id), base.serialize(
                    net.replace(port_ids=net.port_ids + (pid,))), version=stat.version)
                results = tx.commit()
                bare_writes.append(time.perf_counter() - t)
                if any(isinstance(r, Exception) for r in results):
                    raise RuntimeError(f"bare write failed: {results}")
                t = time.perf_counter()
                status, _ = api.call("POST", f"/midonet-api/bridges/{net_id}/ports", {})
                creates.append(time.perf_counter() - t)
                if status != 201:
                    raise RuntimeError(f"POST port: {status}")
        figures = {
            "get_port_p99_ms": round(_p(reads, 0.99) * 1000, 3),
            "get_port_p50_ms": round(_p(reads, 0.5) * 1000, 3),
            "bare_read_p99_ms": round(_p(bare_reads, 0.99) * 1000, 3),
            "bare_read_p50_ms": round(_p(bare_reads, 0.5) * 1000, 3),
            "create_port_p99_ms": round(_p(creates, 0.99) * 1000, 3),
            "create_port_p50_ms": round(_p(creates, 0.5) * 1000, 3),
            "bare_write_p99_ms": round(_p(bare_writes, 0.99) * 1000, 3),
            "bare_write_p50_ms": round(_p(bare_writes, 0.5) * 1000, 3),
            "list_ports_10k_ms": round(statistics.median(lists) * 1000, 1),
            "ports_listed": listed,
            "samples": {"reads": len(reads), "creates": len(creates), "lists": len(lists)},
        }
        figures["get_ratio_p99"] = round(figures["get_port_p99_ms"]
                                         / figures["bare_read_p99_ms"], 2)
        figures["create_ratio_p99"] = round(figures["create_port_p99_ms"]
                                            / figures["bare_write_p99_ms"], 2)
        figures["targets"] = {"get_ratio_p99": 2.0, "create_ratio_p99": 3.0,
                              "list_ports_10k_ms": 1000}
        figures["cluster_rss_kb"] = cluster.rss_kb()
        figures["cache_load_s"] = round(cache_load_s, 2)  # 10,000 ports and 100 bridges
        return figures
    finally:
        zk.stop()
        zk.close()
        if cluster is not None:
            cluster.cleanup()
        zk_server.stop()
