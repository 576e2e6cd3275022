"""SNAT block leases through a real ZooKeeper: ``python -m benchmarks nat_lease``.

A burst of new connections through SNAT asks the agent for many port blocks
at once (``SnatLeases``, up to 16 per request). Side by side in one run on
one standalone ZooKeeper: ``NatLeaser.lease_many(count=16)`` (the creates
pipelined, one round trip per wave) against the same look at the free
blocks followed by one create at a time (``sequential``: what
``lease_many`` did before 2026-12-03, kept here as the baseline). Figures:
the median and worst milliseconds per 16 blocks over 100 bursts (``--quick``
20), each on a fresh address so every block is free.
"""
from __future__ import annotations

import statistics
import time
import uuid
from typing import Any

from kazoo.client import KazooClient

from midonet_ryu.nsdb.nat_lease import TAKEN, NatLeaser, blocks_for
from midonet_ryu.nsdb.paths import Paths
from tools.lab.zookeeper import TemporaryZooKeeper

BLOCKS = 16


def sequential(leaser: NatLeaser, device: uuid.UUID, ip: str) -> list[int]:
    """The baseline: one create, and one round trip, per block."""
    base = leaser._ip_path(device, ip)
    leaser.client.retry(leaser.client.ensure_path, base)
    got = []
    for block in leaser._candidates(base, blocks_for(1024, 65535))[:BLOCKS]:
        leaser.client.create(f"{base}/{block}/{TAKEN}", leaser.owner, ephemeral=True,
                             makepath=True)
        got.append(block)
    return got


def run(quick: bool = False) -> dict[str, Any]:
    rounds = 20 if quick else 100
    zk = TemporaryZooKeeper()
    zk.start()
    client = KazooClient(hosts=zk.hosts, timeout=10)
    client.start(timeout=15)
    try:
        leaser = NatLeaser(client, Paths(f"/bench-{uuid.uuid4().hex[:8]}"), uuid.uuid4())
        device = uuid.uuid4()
        times: dict[str, list[float]] = {"pipelined": [], "sequential": []}
        for i in range(rounds):
            for way in times:  # alternating, so both see the same server state
                ip = f"198.18.{i // 200}.{(i % 200) + (0 if way == 'pipelined' else 50)}"
                started = time.perf_counter()
                if way == "pipelined":
                    got = leaser.lease_many(device, ip, 1024, 65535, BLOCKS)
                else:
                    got = sequential(leaser, device, ip)
                times[way].append((time.perf_counter() - started) * 1000)
                assert len(set(got)) == BLOCKS, got
    finally:
        client.stop()
        client.close()
        zk.stop()
    out: dict[str, Any] = {"blocks_per_burst": BLOCKS, "bursts": rounds}
    for way, values in times.items():
        out[f"{way}_p50_ms"] = round(statistics.median(values), 2)
        out[f"{way}_max_ms"] = round(max(values), 2)
    out["speedup_p50"] = round(out["sequential_p50_ms"] / out["pipelined_p50_ms"], 1)
    return out
