"""Flow state across hosts: return traffic simulated on another host than its
connection's forward traffic works only with the replicated state.

Real kernel VMs in namespaces, real agents. The forward packet of a
connection is simulated where it enters (host of the sender); its reply is
simulated where *it* enters (host of the replier), which only has the
conntrack/NAT keys because the first host sent them.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid

import pytest

from midonet_ryu.nsdb import hosts
from midonet_ryu.nsdb.paths import Paths
from midonet_ryu.nsdb.state_keys import StateKeys
from midonet_ryu.topology.rules import (
    Chain,
    PortGroup,
    RuleAction,
)
from tools.lab.procs import wait_until
from tools.lab.tcp_streams import Stream, echo_server
from tools.scenario import rule

pytestmark = pytest.mark.functional

PY = sys.executable

# Answers each TCP connection and UDP datagram with "<peer ip>:<peer port> <what it sent>".
SERVER = r"""
import socket, sys, threading
port = int(sys.argv[1])
def tcp():
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port)); s.listen(16)
    while True:
        c, peer = s.accept()
        c.settimeout(5)
        try:
            data = c.recv(100)
            c.sendall(f"{peer[0]}:{peer[1]} ".encode() + data)
        except OSError:
            pass
        c.close()
def udp():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", port + 1))
    while True:
        data, peer = s.recvfrom(100)
        s.sendto(f"{peer[0]}:{peer[1]} ".encode() + data, peer)
threading.Thread(target=udp, daemon=True).start()
print("listening", flush=True)
tcp()
"""

# One TCP exchange and one UDP exchange with the server; prints a JSON report.
CLIENT = r"""
import json, socket, sys, time
host, port, name, deadline = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
out = {"tcp": None, "udp": None, "tcp_error": None, "connect_s": None}
end = time.time() + deadline
while time.time() < end and out["tcp"] is None:
    s = socket.socket(); s.settimeout(max(0.1, min(3.0, end - time.time())))
    t0 = time.time()
    try:
        s.connect((host, port))
        out["connect_s"] = time.time() - t0
        s.sendall(name.encode())
        out["tcp"] = s.recv(100).decode()
    except OSError as e:
        out["tcp_error"] = type(e).__name__
    finally:
        s.close()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(0.5)
while time.time() < end and out["udp"] is None and "udp" in sys.argv[5:]:
    u.sendto(name.encode(), (host, port + 1))
    try:
        out["udp"] = u.recvfrom(100)[0].decode()
    except OSError:
        pass
print(json.dumps(out))
"""


def chain(cloud, name: str, *rules) -> Chain:
    """A chain with ``rules`` in order (the store keeps rule_ids in creation order)."""
    ch = cloud.store.create(Chain(id=uuid.uuid4(), name=name))
    for r in rules:
        cloud.store.create(r.replace(chain_id=ch.id))
    return ch


def serve(vm, port: int) -> subprocess.Popen:
    proc = vm.popen(PY, "-c", SERVER, str(port), stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout.readline().strip() == "listening"
    return proc


def client(vm, host: str, port: int, name: str, deadline: float, udp: bool = True) -> dict:
    args = [PY, "-c", CLIENT, host, str(port), name, str(deadline)] + (["udp"] if udp else [])
    out = vm.exec(*args, timeout=deadline + 10)
    return json.loads(out.stdout)


def end(proc: subprocess.Popen) -> None:
    proc.kill()
    proc.wait(timeout=5)


def counter(hv, name: str) -> int:
    return hv.agent.ctl("counters").get(name, 0)


def ping(vm, dst: str, count: int = 3, deadline: int = 8) -> subprocess.CompletedProcess:
    return vm.exec("ping", "-n", "-c", str(count), "-i", "0.2", "-w", str(deadline), dst,
                   check=False, timeout=deadline + 5)


@pytest.fixture
def guarded(ns_cloud):
    return guard(ns_cloud(2))


def guard(cloud):
    """VM A (host 1) and VM B (host 2) on one network; B's port has a security
    group: its outbound filter (towards B) accepts return flows and drops other
    IPv4; its inbound filter asks conntrack, so B's connections create state."""
    hv1, hv2 = cloud.hosts
    net = cloud.network("sg")
    to_b = chain(cloud, "sg-b-out",
                 rule(RuleAction.ACCEPT, match_return_flow=True),
                 rule(RuleAction.DROP, dl_type=0x0800))
    from_b = chain(cloud, "sg-b-in", rule(RuleAction.ACCEPT, match_forward_flow=True))
    pa, a = cloud.kernel_vm(hv1, net, "fsa", "198.51.100.1/24")
    pb, b = cloud.kernel_vm(hv2, net, "fsb", "198.51.100.2/24",
                            inbound_filter_id=from_b.id, outbound_filter_id=to_b.id)
    cloud.settle((hv1, pa), (hv2, pb))
    return cloud, a, b


def test_security_group_lets_replies_in_across_hosts(guarded):
    cloud, a, b = guarded
    hv1, hv2 = cloud.hosts
    servers = [serve(a, 7000), serve(b, 7000)]
    try:
        # B opens: its request is simulated on host 2, A's reply on host 1,
        # where B's outbound filter sees a return flow only thanks to host 2's state
        out = ping(b, a.ip)
        assert out.returncode == 0, out.stdout
        got = client(b, a.ip, 7000, "from-b", deadline=8)
        assert got["tcp"] is not None, got
        peer, said = got["tcp"].split()
        assert peer.startswith(f"{b.ip}:") and said == "from-b", got
        rtt = out.stdout.strip().splitlines()[-1]
        print(f"\nB->A ping, every packet simulated on both hosts: {rtt}; "
              f"TCP connect B->A {got['connect_s'] * 1000:.1f} ms")
        assert counter(hv2, "flow_state_sent") > 0
        assert counter(hv1, "flow_state_received") > 0
        assert counter(hv1, "flow_state_malformed") == 0
        # A opens: nothing B started, so B's security group drops it
        out = ping(a, b.ip, count=2, deadline=3)
        assert out.returncode != 0 and " 0 received" in out.stdout, out.stdout
        got = client(a, b.ip, 7000, "from-a", deadline=3, udp=False)
        assert got["tcp"] is None and got["tcp_error"] in ("timeout", "TimeoutError"), got
    finally:
        for proc in servers:
            end(proc)


# Sends one datagram from a fresh port, printing the send time (same clock as the test).
PROBE = r"""
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 0))
t = time.time()
s.sendto(b"probe", (sys.argv[1], 9))
print(repr(t))
"""


def test_state_reaches_the_peer_within_milliseconds(guarded):
    """Time from a state-creating packet leaving B to host 1 having imported its
    state (host 1's flow_state_received counter moving), over fresh UDP flows."""
    cloud, a, b = guarded
    hv1, _ = cloud.hosts
    assert ping(b, a.ip, count=1).returncode == 0  # ARP and MAC learning done
    samples = []
    for _ in range(8):
        before = counter(hv1, "flow_state_received")
        seen: list[float] = []
        stop = threading.Event()

        def poll(before=before, seen=seen, stop=stop) -> None:
            while not stop.is_set():
                if counter(hv1, "flow_state_received") > before:
                    seen.append(time.time())
                    return
                time.sleep(0.0005)

        poller = threading.Thread(target=poll)
        poller.start()
        sent_at = float(b.exec(PY, "-c", PROBE, a.ip).stdout)
        poller.join(timeout=5)
        stop.set()
        assert seen, "host 1 never received the state of B's new flow"
        samples.append(seen[0] - sent_at)
    median = statistics.median(samples)
    rtts = []
    for _ in range(20):
        t0 = time.time()
        counter(hv1, "flow_state_received")
        rtts.append(time.time() - t0)
    print(f"\nflow state usable on the peer after: median {median * 1000:.1f} ms, "
          f"max {max(samples) * 1000:.1f} ms over {len(samples)} new flows "
          f"(the counter poll itself takes {statistics.median(rtts) * 1000:.1f} ms)")
    assert median < 0.5


@pytest.fixture
def masquerade(masquerade_ports):
    """VMs v1, v2 (10.0.0.0/24, host 1) behind router gw masquerading as
    203.0.113.1 on the public network, where VM pub (203.0.113.10) is on host 2."""
    return masquerade_ports[:3]


@pytest.fixture
def masquerade_ports(ns_cloud):
    """masquerade, and the VMs' ports (v1's, v2's, pub's)."""
    return masquerading(ns_cloud(2))


def masquerading(cloud):
    hv1, hv2 = cloud.hosts[:2]
    private, public = cloud.network("private"), cloud.network("public")
    cloud.masquerading_router(private, public)
    p1, v1 = cloud.kernel_vm(hv1, private, "fsv1", "10.0.0.1/24", gateway="10.0.0.254")
    p2, v2 = cloud.kernel_vm(hv1, private, "fsv2", "10.0.0.2/24", gateway="10.0.0.254")
    pp, pub = cloud.kernel_vm(hv2, public, "fspub", "203.0.113.10/24")
    for hv, port in ((hv1, p1), (hv1, p2), (hv2, pp)):
        cloud.wait_bound(hv, port)
    cloud.wait_converged([p1, p2, pp])
    return cloud, (v1, v2), pub, (p1, p2, pp)


def test_snat_replies_return_to_the_right_vm_across_hosts(masquerade):
    cloud, (v1, v2), pub = masquerade
    hv1, hv2 = cloud.hosts
    server = serve(pub, 7000)
    try:
        got = {vm.name: client(vm, pub.ip, 7000, vm.name, deadline=12) for vm in (v1, v2)}
    finally:
        end(server)
    seen = {}
    for name, report in got.items():
        for proto in ("tcp", "udp"):
            text = report[proto]
            assert text is not None, (name, proto, report)
            peer, said = text.split()
            # the reply reached the VM that asked, carrying what it sent
            assert said == name, report
            ip, port = peer.split(":")
            assert ip == "203.0.113.1", report  # the server saw the public address
            seen[name, proto] = int(port)
    # two VMs behind one address: told apart by their translated ports
    assert seen["fsv1", "tcp"] != seen["fsv2", "tcp"]
    assert seen["fsv1", "udp"] != seen["fsv2", "udp"]
    assert counter(hv1, "flow_state_sent") > 0 and counter(hv2, "flow_state_received") > 0


def test_stateful_port_group_widens_the_interested_set(ns_cloud):
    """A's connections to B reach host 3 too once B shares a stateful port
    group with C (host 3): return traffic could enter through either."""
    cloud = ns_cloud(3)
    hv1, hv2, hv3 = cloud.hosts
    net = cloud.network("ingress-set")
    from_a = chain(cloud, "a-in", rule(RuleAction.ACCEPT, match_forward_flow=True))
    pa, a = cloud.kernel_vm(hv1, net, "fsga", "198.51.100.1/24", inbound_filter_id=from_a.id)
    pb, b = cloud.kernel_vm(hv2, net, "fsgb", "198.51.100.2/24")
    pc, _c = cloud.kernel_vm(hv3, net, "fsgc", "198.51.100.3/24")
    for hv, port in ((hv1, pa), (hv2, pb), (hv3, pc)):
        cloud.wait_bound(hv, port)
    cloud.wait_converged([pa, pb, pc])
    group = cloud.store.create(PortGroup(id=uuid.uuid4(), name="bc", stateful=False,
                                         port_ids=(pb.id, pc.id)))
    assert ping(a, b.ip, count=2).returncode == 0  # MACs learned: no more floods
    base2, base3 = counter(hv2, "flow_state_received"), counter(hv3, "flow_state_received")
    assert ping(a, b.ip, count=2).returncode == 0  # a new echo id: a new connection
    assert counter(hv2, "flow_state_received") > base2
    assert counter(hv3, "flow_state_received") == base3  # not stateful: not interested
    cloud.store.update(cloud.store.get(PortGroup, group.id).replace(stateful=True))
    deadline = time.time() + 10
    while counter(hv3, "flow_state_received") == base3 and time.time() < deadline:
        assert ping(a, b.ip, count=1).returncode == 0
    assert counter(hv3, "flow_state_received") > base3


# Sends one raw Ethernet frame (hex) out of the VM's eth0.
RAW_SEND = r"""
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("eth0", 0))
s.send(bytes.fromhex(sys.argv[1]))
"""


def n_packets(flow: str) -> int:
    return int(flow.split("n_packets=")[1].split(",")[0])


def state_flows(hv) -> list[str]:
    """The switch's flow-state flows, with their counters."""
    return [line.strip() for line in hv.ovs.ofctl(
        "dump-flows", "br-int", "table=0,tun_id=0xffffff").splitlines() if "priority=" in line]


def test_state_comes_only_from_zone_members_over_the_zones_tunnel(ns_cloud):
    """A GRE zone: state travels over the GRE port, and host 1 takes it only
    from host 2's address with host 2's name on it. State from an address in
    no zone is dropped in the switch, state from host 2's address under
    another host's name is dropped by the agent, and a VM that sends a state
    packet is only sending traffic."""
    from midonet_ryu.flowstate.payload import FlowStateMessage
    from midonet_ryu.flowstate.state_packet import encode_frames
    from midonet_ryu.simulation.state import ConntrackKey

    cloud, a, b = guard(ns_cloud(2, tunnel_type="gre"))
    hv1, hv2 = cloud.hosts
    servers = [serve(a, 7000)]
    try:
        got = client(b, a.ip, 7000, "from-b", deadline=8)
        assert got["tcp"] is not None, got
    finally:
        for proc in servers:
            end(proc)
    gre = hv1.ovs.ofport("tun-gre")
    (trusted,) = [f for f in state_flows(hv1) if f"tun_src={hv2.ip}" in f]
    assert f"in_port={gre}" in trusted and n_packets(trusted) > 0, trusted
    (untrusted,) = [f for f in state_flows(hv1) if "priority=399" in f
                    and f"in_port={gre}" in f]
    assert n_packets(untrusted) == 0
    # (the replicator's counts reach the agent's counters once a second)
    imported = wait_until(lambda: counter(hv1, "flow_state_keys_imported"), 5,
                          what="host 2's state imported on host 1")
    received = counter(hv1, "flow_state_received")

    def state(sender):
        key = ConntrackKey(uuid.uuid4(), 0xC6336402, 7000, 0xC6336401, 40000, 6)
        return encode_frames(FlowStateMessage(sender, (key,)))[0]

    def inject(frame, tun_src):
        hv1.ovs.ofctl("packet-out", "br-int",
                      f"in_port={gre} packet={frame.hex()} actions=set_field:0xffffff->tun_id,"
                      f"set_field:{tun_src}->tun_src,resubmit(,0)")

    inject(state(hv2.host_id), "198.51.100.250")  # host 2's name, from no member
    wait_until(lambda: n_packets(next(f for f in state_flows(hv1)
                                      if "priority=399" in f and f"in_port={gre}" in f)) == 1,
               5, what="the switch to drop state from a stranger")
    assert counter(hv1, "flow_state_received") == received
    inject(state(uuid.uuid4()), hv2.ip)  # host 2's address, someone else's name
    wait_until(lambda: counter(hv1, "flow_state_untrusted") == 1, 5,
               what="the agent to refuse a sender that is not at its address")
    before = [counter(hv, "flow_state_received") for hv in (hv1, hv2)]
    simulated = counter(hv1, "packet_in")
    a.exec(PY, "-c", RAW_SEND, state(hv2.host_id).hex())  # a VM's forgery
    wait_until(lambda: counter(hv1, "packet_in") > simulated, 5,
               what="A's frame to be simulated as A's traffic")
    time.sleep(1.5)  # had it been taken for state, it would be counted by now
    assert [counter(hv, "flow_state_received") for hv in (hv1, hv2)] == before
    assert counter(hv1, "flow_state_keys_imported") == imported
    assert counter(hv2, "flow_state_untrusted") == 0


def test_flow_state_dscp_marks_the_outer_header(ns_cloud):
    """[agent] flow_state_dscp = 46: the state packets host 2 sends leave its
    underlay NIC with DSCP 46 (TOS 0xb8) on the outer header."""
    cloud, a, b = guard(ns_cloud(2, agent_extra={"agent": {"flow_state_dscp": "46"}}))
    hv1, hv2 = cloud.hosts
    # VXLAN with VNI 0xffffff (the flow-state key), as it leaves host 2
    capture = subprocess.Popen(
        ["ip", "netns", "exec", hv2.ovs.netns, "tcpdump", "-n", "-v", "-l", "-c", "1",
         "-i", "ul0", "udp port 4789 and (udp[12:4] >> 8) = 0xffffff"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # tcpdump says so on stderr once it captures
        while "listening on" not in (line := capture.stderr.readline()):
            assert line, "tcpdump did not start"
        server = serve(a, 7000)
        try:
            for attempt in range(3):  # each connection is new state for host 1
                got = client(b, a.ip, 7000, f"marked-{attempt}", deadline=8)
                assert got["tcp"] is not None, got
                if capture.poll() is not None:
                    break
                time.sleep(1)
        finally:
            end(server)
        out, _ = capture.communicate(timeout=10)
    finally:
        if capture.poll() is None:
            end(capture)
    assert "tos 0xb8" in out.splitlines()[0], out


# Sends ONE datagram and waits for the answer: prints it, or "none".
ONE_SHOT = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
s.sendto(b"first", (sys.argv[1], int(sys.argv[2])))
try:
    print(s.recvfrom(100)[0].decode())
except OSError:
    print("none")
"""


def test_the_first_packet_through_snat_waits_for_its_lease(masquerade):
    """No SNAT block is leased before the first connection: its first packet
    waits for the lease instead of being dropped and left to a retransmit
    (a single UDP datagram has none)."""
    cloud, (v1, _v2), pub = masquerade
    hv1, _ = cloud.hosts
    # the router learns pub's MAC without any translation (pub pings it)
    assert ping(pub, "203.0.113.1").returncode == 0
    assert counter(hv1, "snat_blocks_leased") == 0
    server = serve(pub, 7000)
    try:
        answer = v1.exec(PY, "-c", ONE_SHOT, pub.ip, "7001", timeout=10).stdout.strip()
    finally:
        end(server)
    assert answer.startswith("203.0.113.1:") and answer.endswith(" first"), answer
    assert counter(hv1, "snat_held") >= 1 and counter(hv1, "snat_blocks_leased") >= 1


def saved(hv) -> tuple[set[int], set[int]]:
    """Server ports of the connections in the agent's flow-state file: tracked
    (conntrack keys hold the reply's tuple: the server's port is its source),
    and translated by SNAT."""
    try:
        with open(os.path.join(hv.agent.workdir, "flow-state.json")) as f:
            doc = json.load(f)
    except (OSError, ValueError):
        return set(), set()
    return ({entry[2] for entry in doc["conntrack"]},
            {entry[4] for entry in doc["nat"] if entry[0] == "fwd_snat"})


@pytest.mark.parametrize("expire", [False, True], ids=["restart", "after session expiry"])
def test_established_connections_survive_an_agent_kill_and_restart(masquerade_ports, expire):
    """kill -9 of the agent on the host that simulates both connections: one
    through SNAT to another host, one into a VM whose filter admits only
    return traffic from a VM on the same host. The restarted agent reloads
    its flow state (and takes its SNAT block back) before its reconcile
    removes the old run's flows: both go on, same translation, no gap above
    1 s. Restarted 1 s after the kill, or 1 s after its ZooKeeper session
    (10 s) expired, which freed its SNAT block in the NSDB."""
    cloud, (v1, v2), pub, (p1, _p2, _pp) = masquerade_ports
    hv1, _hv2 = cloud.hosts
    # v1's security group, as guard(): its own connections create state,
    # towards it only their replies pass
    to_v1 = chain(cloud, "sg-v1-out", rule(RuleAction.ACCEPT, match_return_flow=True),
                  rule(RuleAction.DROP, dl_type=0x0800))
    from_v1 = chain(cloud, "sg-v1-in", rule(RuleAction.ACCEPT, match_forward_flow=True))
    cloud.store.update(cloud.store.get(type(p1), p1.id).replace(
        inbound_filter_id=from_v1.id, outbound_filter_id=to_v1.id))
    servers = [echo_server(pub, 7100), echo_server(v2, 7200)]
    try:
        # v2 cannot open a connection to v1: the filter works
        assert ping(v2, v1.ip, count=1, deadline=2).returncode != 0
        streams = [Stream(v1, pub.ip, 7100), Stream(v1, v2.ip, 7200)]
        wait_until(lambda: saved(hv1) == ({7100, 7200}, {7100}), 5,
                   what="the flow state of both connections in the agent's file")
        hv1.agent.kill()
        if expire:
            observer = StateKeys(cloud.client, Paths(cloud.root_key), uuid.uuid4())
            wait_until(lambda: not hosts.host_alive(observer, hv1.host_id), 20, 0.1,
                       what="the killed agent's session expired")
        time.sleep(1.0)
        hv1.agent.start()
        cloud.wait_agent_ready(hv1)
        reloaded = hv1.agent.ctl("counters").get("flow_state_reloaded", 0)
        # past the reconcile (2 s in the lab): the old run's flows are gone
        time.sleep(6.0)
        results = [s.stop() for s in streams]
    finally:
        for proc in servers:
            end(proc)
    peers = [proc.stdout.read().split() for proc in servers]
    print(f"\nlongest wait for an echo across the restart: SNAT "
          f"{results[0]['max_gap']:.3f} s, return-only filter {results[1]['max_gap']:.3f} s")
    for what, got in zip(("through SNAT", "into a return-only filter"), results,
                         strict=True):
        assert got["error"] is None, (what, got)
        assert got["max_gap"] < 1.0, (what, got)
        assert got["echoed"] >= got["sent"] - 2, (what, got)
    # one connection each, the SNAT one seen from the public address all along
    assert len(peers[0]) == 1 and peers[0][0].startswith("203.0.113.1:"), peers
    assert len(peers[1]) == 1, peers
    assert reloaded >= 4, hv1.agent.tail()  # two conntrack keys, two NAT keys
    assert "1 of 1 SNAT blocks taken back" in hv1.agent.log()


def test_a_migrating_vm_takes_its_connections_state_along(ns_cloud):
    """v1 moves live from host 1 to host 3 (its namespace and connection stay,
    its veth moves): host 1 hands the keys v1's traffic made there to host 3,
    which had none of them (the server's host 2 had), so the connection
    through SNAT keeps its translation on the new host."""
    cloud, (v1, _v2), pub, (p1, _p2, _pp) = masquerading(ns_cloud(3))
    hv1, _hv2, hv3 = cloud.hosts
    server = echo_server(pub, 7300)
    try:
        stream = Stream(v1, pub.ip, 7300)
        wait_until(lambda: 7300 in saved(hv1)[1], 5, what="the connection's SNAT key")
        hv1.ovs.migrate_vm("fsv1", hv3.ovs)
        hosts.bind_port(cloud.store, p1.id, hv3.host_id, None)
        cloud.wait_bound(hv3, p1)
        time.sleep(4.0)
        got = stream.stop()
    finally:
        end(server)
    peers = server.stdout.read().split()
    print(f"\nlongest wait for an echo across the migration: {got['max_gap']:.3f} s")
    assert got["error"] is None, got
    assert got["echoed"] >= got["sent"] - 2, got
    assert len(peers) == 1 and peers[0].startswith("203.0.113.1:"), peers
    # the forward and reverse SNAT keys at least
    wait_until(lambda: counter(hv1, "flow_state_handed_over") >= 2, 3, what="keys handed over")


# Opens a UDP "connection" from each given local port to (host, port) and
# prints each datagram that comes back: "<local port> <payload> <time>".
OPENER = r"""
import select, socket, sys, time
host, port, listen_s = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
socks = []
for local in sys.argv[4:]:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", int(local)))
    s.sendto(b"open", (host, port))
    socks.append(s)
print("opened", repr(time.time()), flush=True)
end = time.time() + listen_s
while time.time() < end:
    for s in select.select(socks, [], [], 0.1)[0]:
        data, _ = s.recvfrom(100)
        print(s.getsockname()[1], data.decode(), repr(time.time()), flush=True)
"""
# One datagram from a fixed local port (a reply in the connection's tuple).
REPLY = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[3])))
s.sendto(sys.argv[4].encode(), (sys.argv[1], int(sys.argv[2])))
"""
KEY_TTL = 8


def test_a_peer_forgets_a_connection_when_its_origin_does(ns_cloud):
    """[agent] flow_state_key_ttl = 8 s. B opens two UDP connections to A; its
    host (2) makes their conntrack keys and sends them to A's host (1). A
    answers the first at once. The second stays silent until host 2's keys
    have expired and host 1 has been told: host 1 imported them for 1.5 TTL
    (12 s), but drops A's late answer as soon as the withdrawal arrives."""
    cloud, a, b = guard(ns_cloud(2, agent_extra={
        "agent": {"flow_state_key_ttl": str(KEY_TTL)}}))
    hv1, hv2 = cloud.hosts
    applied = counter(hv1, "flow_state_withdrawals_applied")
    opener = b.popen(PY, "-c", OPENER, a.ip, "7100", str(2 * KEY_TTL), "40001", "40002",
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        opened = float(opener.stdout.readline().split()[1])
        wait_until(lambda: counter(hv1, "flow_state_keys_imported") >= 2, 5,
                   what="host 1 has both connections' keys")
        a.exec(PY, "-c", REPLY, b.ip, "40001", "7100", "early")
        wait_until(lambda: counter(hv1, "flow_state_withdrawals_applied") > applied,
                   2 * KEY_TTL, what="host 1 applied host 2's withdrawal")
        withdrawn_after = time.time() - opened
        a.exec(PY, "-c", REPLY, b.ip, "40002", "7100", "late")
        late_sent = time.time() - opened
        out, err = opener.communicate(timeout=3 * KEY_TTL)
    finally:
        if opener.poll() is None:
            end(opener)
    got = {line.split()[0]: line.split()[1] for line in out.splitlines()}
    print(f"\nwithdrawal applied {withdrawn_after:.1f} s after the connections opened "
          f"(TTL {KEY_TTL} s, imported for {1.5 * KEY_TTL:g} s); late reply sent at "
          f"{late_sent:.1f} s")
    assert got.get("40001") == "early", (out, err)  # the state works...
    assert late_sent < 1.5 * KEY_TTL - 1, "too late to tell a withdrawal from an expiry"
    assert "40002" not in got, (out, hv1.agent.tail())  # ...and is gone with its origin's
    assert counter(hv2, "flow_state_keys_withdrawn") >= 2
