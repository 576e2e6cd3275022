"""A floating IP (static 1:1 NAT on the router), both directions, across hosts."""
import subprocess
import sys

import pytest

from midonet_ryu.topology.router import Router
from midonet_ryu.topology.rules import NatTarget
from tools.lab.cloud import nat_rule
from tools.lab.procs import wait_until

pytestmark = pytest.mark.functional

FIP = "203.0.113.50"
PRIVATE_A = "198.51.100.1"
EXT = "203.0.113.1"

UDP_ECHO_PEER = """import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", 7000))
s.settimeout(15); data, peer = s.recvfrom(100); print(peer[0], flush=True)
"""


def test_floating_ip_both_directions(routed):
    cloud, router, _, (pa, a), (pb, ext) = routed
    # the outside host reaches the floating IP through the router
    ext.exec("ip", "route", "add", f"{FIP}/32", "via", "203.0.113.254")
    inbound = cloud.chain(nat_rule((NatTarget(PRIVATE_A, PRIVATE_A),), dnat=True,
                                   nw_dst_ip=f"{FIP}/32"), name="fip-in")
    outbound = cloud.chain(nat_rule((NatTarget(FIP, FIP),), nw_src_ip=f"{PRIVATE_A}/32"),
                           name="fip-out")
    cloud.store.update_with(Router, router.id, lambda r: r.replace(
        inbound_filter_id=inbound.id, outbound_filter_id=outbound.id))
    # outside -> floating IP reaches A
    out = wait_until(lambda: (lambda o: o if o.returncode == 0 else None)(
        ext.exec("ping", "-n", "-c", "1", "-W", "1", FIP, check=False)), 15,
        what="the floating IP to answer")
    assert "ttl=63" in out.stdout
    # A -> outside leaves with the floating IP as its source
    listener = ext.popen(sys.executable, "-c", UDP_ECHO_PEER, stdout=subprocess.PIPE,
                         text=True)
    try:
        wait_until(lambda: "7000" in ext.exec("ss", "-uln", check=False).stdout, 5,
                   what="the listener")
        a.exec(sys.executable, "-c", "import socket; socket.socket(socket.AF_INET, "
               f"socket.SOCK_DGRAM).sendto(b'hi', ('{EXT}', 7000))")
        seen, _ = listener.communicate(timeout=15)
    finally:
        if listener.poll() is None:
            listener.kill()
            listener.wait(5)
    assert seen.strip() == FIP
