"""Faults under live traffic: ``python -m benchmarks chaos [--quick] [--json]``.

The deployment and the traffic are ``tools/lab/chaos.py``'s: three netns
hypervisors with their agents, a three-server ZooKeeper ensemble, two
cluster nodes; long-lived TCP streams through SNAT and a security group (three through
the whole run, three more for each fault),
new connections on the same paths every half second, REST API writes.
Faults, one at a time, each once everything is healthy again: agent
SIGKILL, ZooKeeper leader and follower kills, a cluster node (State Proxy)
kill, an ovs-vswitchd restart, an agent stopped beyond its session timeout,
every ZooKeeper server down for twice the grace time, a hypervisor cut off
from ZooKeeper (not from its peers) long enough to be taken for down.

``--quick`` injects each kind once (about 5 minutes); the full run three
times each, in an order shuffled by ``CHAOS_SEED`` (default 1).
``CHAOS_FAULTS=agent_kill,zk_outage`` picks kinds.

Figures: ``faults_injected``, ``established_broken`` (streams that ended in
an error or had no echo any more at the end), ``new_connections_failed``
(of ``new_connections``) and ``new_connections_failed_late`` (those that
started more than 2 s after the fault was undone), ``nsdb_writes_lost``
(acknowledged API writes not in the NSDB, of ``nsdb_writes_acknowledged``),
``max_recovery_s`` (undoing a fault to every agent connected, every VM
reachable from every agent, new connections working), ``max_interruption_s``
(the longest any stream waited for an echo, or new connections failed in a
row) and the ``per_fault`` table.
"""
from __future__ import annotations

import logging
import os
import random
from typing import Any

from tools.lab.chaos import KINDS, ChaosLab
from tools.lab.netns import netns_unavailable


def schedule(quick: bool) -> list[str]:
    kinds = [k for k in os.environ.get("CHAOS_FAULTS", ",".join(KINDS)).split(",") if k]
    unknown = set(kinds) - set(KINDS)
    if unknown:
        raise SystemExit(f"CHAOS_FAULTS: unknown {', '.join(sorted(unknown))}; "
                         f"known: {', '.join(KINDS)}")
    if quick:
        return kinds
    rounds = kinds * 3
    random.Random(int(os.environ.get("CHAOS_SEED", "1"))).shuffle(rounds)
    return rounds


def run(quick: bool = False) -> dict[str, Any]:
    reason = netns_unavailable()
    if reason:
        raise SystemExit(f"chaos needs network namespaces: {reason}")
    # the lab's own ZooKeeper client warns through every outage it is shown
    logging.getLogger("kazoo").setLevel(logging.ERROR)
    lab = ChaosLab(seed=int(os.environ.get("CHAOS_SEED", "1"))).start()
    try:
        lab.run(schedule(quick))
        return lab.report()
    finally:
        lab.stop()
