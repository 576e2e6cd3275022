"""L4 load balancing and DNAT on a router, with kernel VMs: the client on one
host, the servers spread over both; return traffic is translated back on the
servers' hosts with the state the client's host pushed to them."""
import subprocess
import sys
import time
import uuid
from collections import Counter

import pytest

from midonet_ryu.topology.lb import (
    HealthMonitor,
    LBStatus,
    LoadBalancer,
    Pool,
    PoolMember,
    SessionPersistence,
    Vip,
)
from midonet_ryu.topology.model import Network
from midonet_ryu.topology.router import Router
from midonet_ryu.topology.rules import NatTarget, PortRange
from tools.lab.cloud import nat_rule
from tools.lab.procs import wait_until

pytestmark = pytest.mark.functional

VIP = "203.0.113.200"
SERVER = """import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[2]))); s.listen(64)
while True:
    c, peer = s.accept()
    c.sendall(f"{sys.argv[1]} {peer[0]}".encode()); c.close()
"""
CLIENT = """import socket, sys, time
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(n):
    for attempt in range(40):
        try:
            c = socket.create_connection((host, port), timeout=2)
            print(c.recv(100).decode(), flush=True); c.close(); break
        except OSError:
            time.sleep(0.25)
    else:
        print("FAILED", flush=True)
"""


def serve(vm, name, port=80):
    return vm.popen(sys.executable, "-c", SERVER, name, str(port), stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL)


def connect(vm, host, port, n):
    out = vm.exec(sys.executable, "-c", CLIENT, host, str(port), str(n), check=False,
                  timeout=60 + n * 2).stdout
    return [line.split() for line in out.splitlines() if line]


@pytest.fixture
def farm(routed):
    """routed + two more servers: M1, M2 on host 2 (right net), M3 on host 1."""
    cloud, router, _, (pa, a), (pb, m1) = routed
    hv1, hv2 = cloud.hosts
    right = cloud.store.get(Network, pb.network_id)
    pm2, m2 = cloud.kernel_vm(hv2, right, "vmm2", "203.0.113.2/24", gateway="203.0.113.254")
    pm3, m3 = cloud.kernel_vm(hv1, right, "vmm3", "203.0.113.3/24", gateway="203.0.113.254")
    cloud.wait_bound(hv2, pm2)
    cloud.wait_bound(hv1, pm3)
    cloud.wait_converged([pa, pb, pm2, pm3])
    # the server processes, by member; a test may replace one (teardown ends what is here)
    servers = [serve(vm, name) for vm, name in ((m1, "m1"), (m2, "m2"), (m3, "m3"))]
    yield cloud, router, a, [m1, m2, m3], servers
    for s in servers:
        s.kill()
        s.wait(5)


def balance(cloud, router, sticky: bool):
    lb = cloud.store.create(LoadBalancer(id=uuid.uuid4(), router_id=router.id))
    pool = cloud.store.create(Pool(id=uuid.uuid4(), load_balancer_id=lb.id))
    members = [cloud.store.create(PoolMember(id=uuid.uuid4(), pool_id=pool.id, address=ip,
                                             protocol_port=80))
               for ip in ("203.0.113.1", "203.0.113.2", "203.0.113.3")]
    cloud.store.create(Vip(id=uuid.uuid4(), pool_id=pool.id, address=VIP, protocol_port=80,
                           session_persistence=SessionPersistence.SOURCE_IP if sticky
                           else None))
    return members


def test_connections_spread_over_three_members(farm):
    cloud, router, a, _, _ = farm
    balance(cloud, router, sticky=False)
    answers = connect(a, VIP, 80, 30)
    assert ["FAILED"] not in answers, answers
    who = Counter(name for name, _ in answers)
    assert set(who) <= {"m1", "m2", "m3"} and len(who) >= 2, who
    # the servers saw the client's real address (no SNAT on the way in)
    assert {peer for _, peer in answers} == {"198.51.100.1"}


def test_source_ip_stickiness_and_unhealthy_member(farm):
    cloud, router, a, _, _ = farm
    members = balance(cloud, router, sticky=True)
    answers = connect(a, VIP, 80, 12)
    assert ["FAILED"] not in answers, answers
    chosen = {name for name, _ in answers}
    assert len(chosen) == 1, f"a sticky client was spread over {chosen}"
    # the chosen member goes unhealthy: the client moves to another one
    (name,) = chosen
    index = int(name[1]) - 1
    cloud.store.update_with(PoolMember, members[index].id,
                            lambda m: m.replace(status=LBStatus.INACTIVE))
    wait_until(lambda: {n for n, _ in connect(a, VIP, 80, 1)} - {name, "FAILED"}, 30,
               what="a connection to another member")
    later = {n for n, _ in connect(a, VIP, 80, 6)}
    assert name not in later and len(later) == 1, later


def test_dnat_with_port_translation(routed):
    cloud, router, _, (pa, a), (pb, ext) = routed
    public = "203.0.113.60"
    ext.exec("ip", "route", "add", f"{public}/32", "via", "203.0.113.254")
    inbound = cloud.chain(nat_rule((NatTarget("198.51.100.1", "198.51.100.1", 80, 80),),
                                   dnat=True, nw_dst_ip=f"{public}/32",
                                   tp_dst=PortRange(8080, 8080)), name="dnat")
    outbound = cloud.chain(nat_rule(dnat=True, reverse=True), name="dnat-reverse")
    cloud.store.update_with(Router, router.id, lambda r: r.replace(
        inbound_filter_id=inbound.id, outbound_filter_id=outbound.id))
    server = serve(a, "a", 80)
    try:
        answers = connect(ext, public, 8080, 3)
    finally:
        server.kill()
        server.wait(5)
    assert answers == [["a", "203.0.113.1"]] * 3, answers


def _probed(cloud) -> dict[str, str | None]:
    """Member id -> verdict, over every host's health probes."""
    return {p["member"]: p["verdict"] for hv in cloud.hosts
            for p in cloud._status(hv).get("health_probes", [])}


def test_health_monitor_takes_a_dead_member_out_and_back(farm):
    """Each member is probed by its own host; a member whose server stops is
    made INACTIVE within delay x max_retries and gets no new connection (the
    sticky client moves), and is ACTIVE again once it answers; a member
    marked down goes back to ACTIVE when its pool loses the monitor."""
    cloud, router, a, vms, servers = farm
    members = balance(cloud, router, sticky=True)
    monitor = cloud.store.create(HealthMonitor(id=uuid.uuid4(), delay=1, timeout=1,
                                               max_retries=2))
    pool_id = members[0].pool_id
    cloud.store.update_with(Pool, pool_id, lambda p: p.replace(health_monitor_id=monitor.id))
    ids = {str(m.id) for m in members}
    # nothing had resolved the members yet: the hosts ARP for them, then probe
    wait_until(lambda: _probed(cloud) == dict.fromkeys(ids, "up"), 30,
               what="every member probed up by its own host")
    answers = connect(a, VIP, 80, 4)
    assert ["FAILED"] not in answers, answers
    (name,) = {n for n, _ in answers}
    index = int(name[1]) - 1
    member = members[index]

    def status() -> LBStatus:
        return cloud.store.get(PoolMember, member.id).status

    servers[index].kill()
    servers[index].wait(5)
    killed = time.monotonic()
    wait_until(lambda: status() is LBStatus.INACTIVE, 10, 0.05,
               what="the dead member made INACTIVE")
    took = time.monotonic() - killed
    # two refused probes in a row, within delay x max_retries (written and read back)
    assert took <= 1 * 2, f"marked down after {took:.2f} s"
    later = connect(a, VIP, 80, 6)
    assert ["FAILED"] not in later, later
    moved = {n for n, _ in later}
    assert name not in moved and len(moved) == 1, moved
    # it answers again: ACTIVE
    servers[index] = serve(vms[index], name)
    wait_until(lambda: status() is LBStatus.ACTIVE, 10, 0.05, what="the member back up")
    # down again, then the pool loses its monitor: nobody probes it, it is ACTIVE
    servers[index].kill()
    servers[index].wait(5)
    wait_until(lambda: status() is LBStatus.INACTIVE, 10, 0.05, what="down again")
    cloud.store.update_with(Pool, pool_id, lambda p: p.replace(health_monitor_id=None))
    wait_until(lambda: status() is LBStatus.ACTIVE, 10, 0.05,
               what="ACTIVE once not monitored")
    wait_until(lambda: not _probed(cloud), 10, what="no probes left")
    servers[index] = serve(vms[index], name)
    cloud.assert_no_switch_errors()
