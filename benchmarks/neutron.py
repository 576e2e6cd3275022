"""A Neutron port's way to ACTIVE, and how fast Neutron's ports reach the NSDB.

``python -m benchmarks neutron [--quick] --json``

Neutron 29.0.0's ML2 plugin runs in process (in-memory sqlite, WebTest API)
with our mechanism driver and L3 plugin, its journal worker sending to one
real ``midonet-cluster``; two real agents on dummy-datapath Open vSwitch
hypervisors bind the ports. Neutron lives in its own venv, so this runs
``benchmarks/_neutron_ports.py`` there (``tools/neutron-venv`` builds it)
and the agents and cluster from the project's venv.

* ``port_active_p50_ms`` / ``port_active_p99_ms``: from ``POST /v2.0/ports``
  (bound to a hypervisor, in the default security group) through the
  journal, the translation, the agent binding the tap that is plugged when
  the create returns (as Nova's os-vif does), to the port's status ACTIVE in
  Neutron's database; 200 ports one after another (30 with ``--quick``).
* ``ports_per_s_1000``: 1,000 ports created back to back through Neutron's
  API, counted when the last is in the NSDB (100 with ``--quick``).
* ``ports_lost``: ports of either run missing from the NSDB (or never ACTIVE)
  once the journal is drained.

The baseline is the figure the issue names: OVN 23.03's one-more-port time
on this kind of lab, p50 126 ms (``baseline_ovn_port_p50_ms``).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NEUTRON_PYTHON = os.path.join(REPO, ".venv-neutron", "bin", "python")
BASELINE_OVN_P50_MS = 126.0


def run(quick: bool = False) -> dict[str, Any]:
    if not os.path.exists(NEUTRON_PYTHON):
        raise SystemExit("Neutron's venv is missing: build it with tools/neutron-venv")
    latency, rate = (30, 100) if quick else (200, 1000)
    env = dict(os.environ, MIDONET_LAB_PYTHON=sys.executable)
    proc = subprocess.run(
        [NEUTRON_PYTHON, "-m", "benchmarks._neutron_ports", "--latency-ports", str(latency),
         "--rate-ports", str(rate)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        raise SystemExit(f"the Neutron benchmark failed:\n{proc.stdout[-3000:]}\n"
                         f"{proc.stderr[-5000:]}")
    figures: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    figures["baseline_ovn_port_p50_ms"] = BASELINE_OVN_P50_MS
    figures["target_met"] = (figures["port_active_p50_ms"] <= BASELINE_OVN_P50_MS
                             and figures["ports_lost"] == 0)
    return figures
