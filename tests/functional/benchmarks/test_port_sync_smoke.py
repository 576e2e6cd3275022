"""Smoke test of ``python -m benchmarks port_sync --quick --json``: it runs and
reports every figure (not how fast: the machine running the suite may be busy)."""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))


def test_quick_run_prints_every_figure():
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "port_sync", "--quick", "--json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    figures = json.loads(proc.stdout)
    for size in ("1k", "10k"):
        for key in ("idle_sync_ms", "walk_idle_sync_ms", "idle_cpu_percent"):
            assert figures[f"{key}_{size}"] > 0, key
    assert figures["bring_up_sync_s_1k"] > 0 and figures["walk_bring_up_sync_s_1k"] > 0
