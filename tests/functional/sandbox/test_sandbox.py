"""The README's sandbox command builds its demo through the REST API and the
CLI, proves each claim with real traffic, and leaves nothing behind."""
import os
import subprocess
import sys

import pytest

from tools.lab.netns import leftover_netns, netns_unavailable

pytestmark = pytest.mark.functional
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))


def test_sandbox_check_proves_the_demo_and_cleans_up():
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
    for claim in ("pings vm2", "TCP to vm2:8080 connects", "TCP to vm2:9090 is dropped",
                  "(SNAT)", "pings vm2 at its floating IP", "from its floating IP",
                  "stateful port group", "tunnels to vm2", "trace simulate shows"):
        assert any(claim in line for line in proved), f"not proved: {claim}\n{out}"
    assert leftover_netns() == before
