"""Smoke test of the API benchmark: ``python -m benchmarks api --quick --json``
runs end to end against a real ZooKeeper and cluster and prints every figure
the issue names. It checks that the benchmark works, not how fast anything is
(the machine running the suite may be busy)."""
import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.functional
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
REQUIRED = ("get_port_p99_ms", "bare_read_p99_ms", "create_port_p99_ms", "bare_write_p99_ms",
            "list_ports_10k_ms")


def test_quick_run_prints_every_figure():
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "api", "--quick", "--json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    figures = json.loads(proc.stdout)
    for key in REQUIRED:
        assert 0 < figures[key] < 60_000, (key, figures.get(key))
    assert figures["ports_listed"] == 10_000
    assert figures["elapsed_s"] < 60
