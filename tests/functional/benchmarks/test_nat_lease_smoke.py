"""Smoke test of ``python -m benchmarks nat_lease --quick --json``: it runs and
reports every figure (not how fast: the machine running the suite may be busy)."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))

pytestmark = pytest.mark.functional


def test_quick_run_prints_every_figure():
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "nat_lease", "--quick", "--json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    figures = json.loads(proc.stdout)
    for key in ("pipelined_p50_ms", "pipelined_max_ms", "sequential_p50_ms",
                "sequential_max_ms", "speedup_p50"):
        assert figures[key] > 0, key
    assert figures["blocks_per_burst"] == 16 and figures["bursts"] == 20
