"""Smoke test of ``python -m benchmarks invalidation --quick --json``: it runs,
reports every figure, and its oracle finds no stale flow (a flow that had to
go and stayed would be a correctness bug, not a speed figure)."""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
CHANGES = ("boot_vm", "disable_vm", "move_vm", "more_specific_route", "unrelated_route")


def test_quick_run_reports_every_change_and_no_stale_flow():
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "invalidation", "--quick",
                           "--json"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    figures = json.loads(proc.stdout)
    for change in CHANGES:
        assert figures[f"{change}_flows"] > 0
        assert figures[f"{change}_stale"] == 0, change
    assert figures["stale_flows"] == 0
    assert 0 < figures["invalidation_precision"] <= 1
