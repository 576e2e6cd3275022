"""The README's sandbox command comes up, proves traffic flows, and leaves
nothing behind."""
import os
import subprocess
import sys

import pytest

from tools.lab.netns import leftover_netns, netns_unavailable

pytestmark = pytest.mark.functional
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))


def test_sandbox_check_proves_traffic_and_cleans_up():
    reason = netns_unavailable()
    if reason:
        pytest.skip(reason)
    before = leftover_netns()
    proc = subprocess.run([sys.executable, "-m", "tools.sandbox", "--check"], cwd=ROOT,
                          capture_output=True, text=True, timeout=240)
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    assert "FAILED" not in out
    proved = [line for line in out.splitlines() if "PROVED:" in line]
    for claim in ("pings VM B", "pings VM A", "TCP stream", "tunnels to VM B"):
        assert any(claim in line for line in proved), f"not proved: {claim}\n{out}"
    assert leftover_netns() == before
