"""The chaos lab: a small production-like deployment under live traffic,
one fault at a time, and what each fault cost the users.

Three netns hypervisors with real agents, a three-server ZooKeeper
ensemble, two ``midonet-cluster`` nodes (State Proxy and REST API). VM v1
(hypervisor 1) has a security group that lets only replies in; v3
(hypervisor 3) is on the same private network; both reach the public VM
pub (hypervisor 2) through a masquerading router. Traffic:

* long-lived TCP streams, 100 echoed records a second each, on three
  paths: v1 to pub through SNAT, v1 to v3 through v1's security group (the
  replies are simulated on hypervisor 3 and admitted only with hypervisor
  1's conntrack keys), v3 to pub through SNAT; one per path for the whole
  schedule, and one per path opened for each fault;
* a new connection every half second on each of those three paths;
* REST API writes (a chain every half second, to the two cluster nodes in
  turn), each acknowledged one checked in the NSDB at the end.

For each fault, fresh streams are opened once everything is healthy, the
fault is injected, held, and undone, and the run waits until the agents
report a connected NSDB and switch, reach every VM, and the traffic flows.
Reported per fault: streams broken (an error, or no echo any more at the
end), new connections failed (and those that started more than 2 s after
the fault was undone), the longest interruption any probe saw, and the time
from undoing the fault to full health. Used by ``python -m benchmarks
chaos`` and the functional chaos test.
"""
from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

from midonet_ryu.topology.model import Port
from midonet_ryu.topology.rules import Chain, RuleAction
from tools.lab.cloud import Cloud, Hypervisor, rule
from tools.lab.cluster import ClusterProcess
from tools.lab.netns import NetnsVm
from tools.lab.procs import wait_until
from tools.lab.tcp_relay import TcpRelay
from tools.lab.tcp_streams import NewConnections, Stream, echo_server, outage
from tools.lab.zookeeper import ZooKeeperEnsemble, ZooKeeperServer

GRACE_S = 5.0  # the agents' session_gracetime
SESSION_S = 10.0  # the lab agents' ZooKeeper session timeout
HOST_DOWN_HOLD_S = 3.0  # [agent] host_down_hold's default
SNAT_PORT, SG_PORT = 7100, 7200
LATE_S = 2.0  # a new connection failing this long after the fault was undone is late
RECOVERY_TIMEOUT_S = 60.0
# traffic goes on this long after health is back: past a restarted agent's
# reconcile (the lab's reconcile_grace, 2 s), which removes the flows of its
# previous run, so connections that relied on them are seen either way
TAIL_S = 4.0
# a stream that waited out a long fault (a partition: 8 s) may still sit in
# TCP's retransmission backoff when the tail ends: it is given this long to
# echo again before it counts as broken
RESUME_TIMEOUT_S = 15.0
_SWITCH_CONNECTED = "integration bridge connected"  # the agent's log line
KINDS = ("agent_kill", "zk_leader_kill", "zk_follower_kill", "state_proxy_kill",
         "ovs_restart", "session_expiry", "zk_outage", "zk_partition")


@dataclass
class Fault:
    """One fault: what ``inject`` breaks, ``restore`` undoes after ``hold`` s."""

    kind: str
    what: str
    inject: Callable[[], None]
    restore: Callable[[], None]
    hold: float


@dataclass
class FaultResult:
    kind: str
    what: str
    hold_s: float
    streams: list[dict[str, Any]]
    established_broken: int
    new_connections: int
    new_connections_failed: int
    new_connections_failed_late: int
    max_interruption_s: float
    recovery_s: float | None  # from undoing the fault (restarting what it killed) to health
    api_writes_refused: int
    notes: list[str] = field(default_factory=list)

    def row(self) -> dict[str, Any]:
        return {"kind": self.kind, "what": self.what, "hold_s": self.hold_s,
                "established_broken": self.established_broken,
                "new_connections": self.new_connections,
                "new_connections_failed": self.new_connections_failed,
                "new_connections_failed_late": self.new_connections_failed_late,
                "max_interruption_s": round(self.max_interruption_s, 3),
                "recovery_s": None if self.recovery_s is None else round(self.recovery_s, 2),
                "api_writes_refused": self.api_writes_refused,
                "stream_max_gaps_s": [round(s["max_gap"], 3) for s in self.streams],
                "notes": self.notes}


class ApiWriter:
    """Creates a chain every ``interval`` s through the cluster nodes in turn
    and remembers which the API acknowledged (201)."""

    def __init__(self, clusters: list[ClusterProcess], interval: float = 0.5) -> None:
        self.clusters = clusters
        self.interval = interval
        self.acknowledged: list[tuple[float, uuid.UUID]] = []
        self.refused: list[tuple[float, str]] = []
        self._tokens: dict[int, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> ApiWriter:
        self._thread.start()
        return self

    def _token(self, i: int) -> str:
        if i not in self._tokens:
            resp = requests.post(self.clusters[i].api_url + "/login",
                                 auth=("admin", "admin-secret"), timeout=3)
            resp.raise_for_status()
            self._tokens[i] = resp.json()["key"]
        return self._tokens[i]

    def _run(self) -> None:
        n = 0
        while not self._stop.wait(self.interval):
            i = n % len(self.clusters)
            t = time.time()
            try:
                resp = requests.post(self.clusters[i].api_url + "/chains",
                                     json={"name": f"chaos-{n}"}, timeout=3,
                                     headers={"X-Auth-Token": self._token(i)})
                if resp.status_code == 201:
                    self.acknowledged.append((t, uuid.UUID(resp.json()["id"])))
                else:
                    if resp.status_code == 401:
                        self._tokens.pop(i, None)
                    self.refused.append((t, str(resp.status_code)))
            except (requests.RequestException, ValueError, KeyError) as e:
                self._tokens.pop(i, None)
                self.refused.append((t, type(e).__name__))
            n += 1

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)


class ChaosLab:
    def __init__(self, seed: int = 1) -> None:
        self.rng = random.Random(seed)
        self.workdir = tempfile.mkdtemp(prefix="mr-chaos-")
        self.ensemble: ZooKeeperEnsemble | None = None
        self.relays: list[TcpRelay] = []
        self.clusters: list[ClusterProcess] = []
        self.cloud: Cloud | None = None
        self.servers: list[subprocess.Popen] = []
        self.probers: list[NewConnections] = []
        self.writer: ApiWriter | None = None
        self.long_lived: list[Stream] = []  # through the whole schedule
        self.results: list[FaultResult] = []

    # -- bring-up -----------------------------------------------------------------
    def start(self) -> ChaosLab:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        self.ensemble = ZooKeeperEnsemble(os.path.join(self.workdir, "zk")).start()
        root = f"/midonet-{uuid.uuid4().hex[:8]}"
        # hypervisor 2's agent reaches ZooKeeper only through relays it can be cut off by
        self.relays = [TcpRelay("127.0.0.1", s.client_port, self.workdir).start()
                       for s in self.ensemble.servers]
        self.clusters = [ClusterProcess(self.ensemble.hosts, root=root).start()
                         for _ in range(2)]
        self.cloud = Cloud(3, workdir=os.path.join(self.workdir, "cloud"),
                           zookeeper=self.ensemble, root_key=root, netns=True,
                           agent_extra={"zookeeper": {
                               "session_gracetime": str(int(GRACE_S * 1000))}},
                           host_extra={"hv2": {"zookeeper": {"zookeeper_hosts": ",".join(
                               r.address for r in self.relays)}}}).start()
        cloud = self.cloud
        hv1, hv2, hv3 = cloud.hosts
        private, public = cloud.network("private"), cloud.network("public")
        cloud.masquerading_router(private, public)
        # v1's security group: its own connections create state, towards it
        # only their replies pass
        to_v1 = cloud.chain(rule(RuleAction.ACCEPT, match_return_flow=True),
                            rule(RuleAction.DROP, dl_type=0x0800), name="sg-v1-egress")
        from_v1 = cloud.chain(rule(RuleAction.ACCEPT, match_forward_flow=True),
                              name="sg-v1-ingress")
        p1, self.v1 = cloud.kernel_vm(hv1, private, "cv1", "10.0.0.1/24", gateway="10.0.0.254",
                                      inbound_filter_id=from_v1.id, outbound_filter_id=to_v1.id)
        p3, self.v3 = cloud.kernel_vm(hv3, private, "cv3", "10.0.0.3/24", gateway="10.0.0.254")
        pp, self.pub = cloud.kernel_vm(hv2, public, "cpub", "203.0.113.10/24")
        self.ports: list[Port] = [p1, p3, pp]
        cloud.settle((hv1, p1), (hv3, p3), (hv2, pp), timeout=30)
        for hv in cloud.hosts:
            wait_until(lambda hv=hv: self._status(hv).get("state_proxy") == "connected", 30,
                       what=f"{hv.name}'s agent on the State Proxy")
        self.servers = [echo_server(self.pub, SNAT_PORT), echo_server(self.v3, SG_PORT)]
        self.probers = [NewConnections(vm, host, port) for vm, host, port in self._paths()]
        self.long_lived = [Stream(vm, host, port) for vm, host, port in self._paths()]
        self.writer = ApiWriter(self.clusters).start()

    def _paths(self) -> list[tuple[NetnsVm, str, int]]:
        """(client VM, server address, port): through SNAT, the security
        group, and SNAT from the other hypervisor."""
        return [(self.v1, self.pub.ip, SNAT_PORT), (self.v1, self.v3.ip, SG_PORT),
                (self.v3, self.pub.ip, SNAT_PORT)]

    # -- health -------------------------------------------------------------------
    @staticmethod
    def _status(hv: Hypervisor) -> dict[str, Any]:
        try:
            return hv.agent.ctl("status", timeout=2)
        except (OSError, RuntimeError, ValueError):
            return {}

    def unhealthy(self) -> list[str]:
        """What is not back yet (empty: all is)."""
        assert self.cloud is not None
        wrong = []
        for hv in self.cloud.hosts:
            st = self._status(hv)
            if not hv.agent.alive() or not st:
                wrong.append(f"{hv.name}: agent not answering")
                continue
            if not st.get("switch_connected"):
                wrong.append(f"{hv.name}: switch not connected")
            if st.get("nsdb", {}).get("state") != "connected":
                wrong.append(f"{hv.name}: NSDB {st.get('nsdb', {}).get('state')}")
            if st.get("state_proxy") != "connected":
                wrong.append(f"{hv.name}: State Proxy {st.get('state_proxy')}")
            for port in self.ports:
                if not self.cloud.knows(hv, port):
                    wrong.append(f"{hv.name}: cannot reach port {port.id}")
        for prober in self.probers:
            tail = prober.reports[-2:]
            if len(tail) < 2 or not all(a["ok"] for a in tail):
                wrong.append("new connections failing")
                break
        return wrong

    def wait_healthy(self, timeout: float = RECOVERY_TIMEOUT_S) -> float | None:
        """Seconds until all is back, None if it was not within ``timeout``."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if not self.unhealthy():
                return time.monotonic() - t0
            time.sleep(0.2)
        return None

    # -- faults -------------------------------------------------------------------
    def fault(self, kind: str) -> Fault:
        assert self.cloud is not None and self.ensemble is not None
        hv1, hv2, hv3 = self.cloud.hosts
        ensemble = self.ensemble
        if kind == "agent_kill":
            return Fault(kind, "SIGKILL of hv1's agent (the SNAT and security-group host), "
                         "restarted 1 s later", hv1.agent.kill,
                         lambda: self._restart_agent(hv1), 1.0)
        if kind == "zk_leader_kill":
            leader = ensemble.leader()
            return Fault(kind, "SIGKILL of the ZooKeeper leader, restarted 3 s later",
                         leader.kill, leader.start, 3.0)
        if kind == "zk_follower_kill":
            leader = ensemble.leader()
            follower = self.rng.choice([s for s in ensemble.servers if s is not leader])
            return Fault(kind, "SIGKILL of a ZooKeeper follower, restarted 3 s later",
                         follower.kill, follower.start, 3.0)
        if kind == "state_proxy_kill":
            node = max(self.clusters, key=_state_proxy_clients)
            return Fault(kind, f"SIGKILL of the cluster node most agents use "
                         f"({_state_proxy_clients(node)} State Proxy clients), restarted 2 s "
                         "later", node.kill, node.start, 2.0)
        if kind == "ovs_restart":
            connects = hv1.agent.log().count(_SWITCH_CONNECTED)
            return Fault(kind, "SIGKILL and restart of hv1's ovs-vswitchd (its flows are gone)",
                         hv1.ovs.restart_vswitchd,
                         lambda: wait_until(  # else the agent may not have noticed yet
                             lambda: hv1.agent.log().count(_SWITCH_CONNECTED) > connects, 30,
                             what="hv1's agent to see its bridge again"), 0.0)
        if kind == "session_expiry":
            pid = hv3.agent.pid
            assert pid is not None
            return Fault(kind, f"SIGSTOP of hv3's agent for {SESSION_S + 1:.0f} s (its session, "
                         f"{SESSION_S:.0f} s, expires), then SIGCONT",
                         lambda: os.kill(pid, signal.SIGSTOP),
                         lambda: os.kill(pid, signal.SIGCONT), SESSION_S + 1.0)
        if kind == "zk_outage":
            return Fault(kind, f"every ZooKeeper server down for {2 * GRACE_S:.0f} s "
                         "(twice the grace time)", lambda: _each(ensemble.servers, "kill"),
                         lambda: _start_all(ensemble.servers), 2 * GRACE_S)
        if kind == "zk_partition":
            hold = SESSION_S + HOST_DOWN_HOLD_S + 4.0
            return Fault(kind, f"hv2 cut off from ZooKeeper for {hold:.0f} s (its session "
                         "expires and its peers take it for down), not from its peers",
                         lambda: _each(self.relays, "cut"), lambda: _each(self.relays, "heal"),
                         hold)
        raise ValueError(f"unknown fault {kind!r}; known: {', '.join(KINDS)}")

    def _restart_agent(self, hv: Hypervisor) -> None:
        assert self.cloud is not None
        hv.agent.start()
        self.cloud.wait_agent_ready(hv)

    def run_fault(self, kind: str) -> FaultResult:
        assert self.cloud is not None and self.writer is not None
        if self.wait_healthy() is None:
            raise RuntimeError(f"not healthy before {kind}: {self.unhealthy()}")
        fault = self.fault(kind)
        streams = [Stream(vm, host, port) for vm, host, port in self._paths()]
        time.sleep(1.0)
        notes: list[str] = []
        lost_before = {hv.name: _counter(hv, "zookeeper_sessions_lost") for hv in self.cloud.hosts}
        injected = time.time()
        fault.inject()
        time.sleep(fault.hold)
        undoing = time.time()
        fault.restore()
        restored = time.time()  # (the restarted process is up)
        healthy_in = self.wait_healthy()
        recovery = None if healthy_in is None else time.time() - undoing
        if recovery is None:
            notes.append(f"not recovered within {RECOVERY_TIMEOUT_S:.0f} s: "
                         + "; ".join(self.unhealthy()))
        time.sleep(TAIL_S)
        _settle(streams)
        ended = time.time()
        finals = [s.stop() for s in streams]
        broken = sum(1 for f in finals if _broken(f))
        attempts = [p.attempts(injected, ended) for p in self.probers]
        failed = [a for per in attempts for a in per if not a["ok"]]
        late = [a for a in failed if a["t"] > restored + LATE_S]
        interruption = max([f["max_gap"] for f in finals] + [outage(per) for per in attempts])
        refused = [r for r in self.writer.refused if injected <= r[0] < ended]
        for hv in self.cloud.hosts:
            lost = _counter(hv, "zookeeper_sessions_lost") - lost_before[hv.name]
            if lost > 0:
                notes.append(f"{hv.name}'s agent lost its ZooKeeper session {lost} time(s)")
        if failed:
            notes.append("new connections failed: " + ", ".join(sorted(
                {a["err"] or "?" for a in failed})))
        result = FaultResult(kind, fault.what, fault.hold, finals, broken,
                             sum(len(per) for per in attempts), len(failed), len(late),
                             interruption, recovery, len(refused), notes)
        self.results.append(result)
        return result

    def run(self, kinds: list[str]) -> list[FaultResult]:
        return [self.run_fault(kind) for kind in kinds]

    def writes_lost(self) -> tuple[int, int]:
        """(acknowledged API writes, of them not in the NSDB)."""
        assert self.writer is not None and self.cloud is not None
        self.writer.stop()
        store = self.cloud.store
        acked = [cid for _, cid in self.writer.acknowledged]
        missing = [cid for cid in acked if store.find(Chain, cid) is None]
        return len(acked), len(missing)

    def report(self) -> dict[str, Any]:
        """The figures of every fault run so far (ends the long-lived streams
        and the API writer)."""
        acked, lost = self.writes_lost()
        _settle(self.long_lived)
        whole = [s.stop() for s in self.long_lived]
        self.long_lived = []
        rows = [r.row() for r in self.results]
        recoveries = [r.recovery_s for r in self.results]
        return {
            "faults_injected": len(self.results),
            "established_broken": (sum(r.established_broken for r in self.results)
                                   + sum(1 for f in whole if _broken(f))),
            "long_lived_streams": [{"echoed": f["echoed"], "max_gap_s": round(f["max_gap"], 3),
                                    "since_echo_s": round(f["since_echo"], 3),
                                    "error": f["error"]} for f in whole],
            "new_connections": sum(r.new_connections for r in self.results),
            "new_connections_failed": sum(r.new_connections_failed for r in self.results),
            "new_connections_failed_late": sum(r.new_connections_failed_late
                                               for r in self.results),
            "nsdb_writes_acknowledged": acked,
            "nsdb_writes_lost": lost,
            "max_recovery_s": (None if any(v is None for v in recoveries)
                               else round(max(recoveries, default=0.0), 2)),
            "max_interruption_s": round(max((r.max_interruption_s for r in self.results),
                                            default=0.0), 3),
            "per_fault": rows,
        }

    def stop(self) -> None:
        if self.writer is not None:
            self.writer.stop()
        for stream in self.long_lived:
            stream.stop()
        for prober in self.probers:
            prober.stop()
        for proc in self.servers:
            proc.kill()
            proc.wait(5)
        if self.cloud is not None:
            for hv in self.cloud.hosts:  # a stopped agent cannot be ended
                if hv.agent.pid and hv.agent.alive():
                    os.kill(hv.agent.pid, signal.SIGCONT)
            self.cloud.stop()
        for node in self.clusters:
            node.cleanup()
        for relay in self.relays:
            relay.cut()
        if self.ensemble is not None:
            self.ensemble.stop()
        if not os.environ.get("MR_LAB_KEEP"):
            shutil.rmtree(self.workdir, ignore_errors=True)


def _settle(streams: list[Stream]) -> None:
    """Wait until every stream echoes again or has failed (at most
    RESUME_TIMEOUT_S); the ones that do neither are broken all the same."""
    def settled() -> bool:
        return all(s.flowing() or (s.latest or {}).get("error") is not None for s in streams)
    try:
        wait_until(settled, RESUME_TIMEOUT_S, interval=0.1, what="streams echoing again")
    except TimeoutError:
        pass


def _broken(final: dict[str, Any]) -> bool:
    """A stream that ended in an error, or whose echoes had stopped."""
    return final["error"] is not None or final["since_echo"] > 2.0


def _each(things: list[Any], method: str) -> None:
    for thing in things:
        getattr(thing, method)()


def _start_all(servers: list[ZooKeeperServer]) -> None:
    """Start every server, then wait until a quorum serves."""
    for s in servers:
        s.start(wait=False)
    for s in servers:
        s.wait_serving(60)


def _counter(hv: Hypervisor, name: str) -> int:
    try:
        return int(hv.agent.ctl("counters", timeout=2).get(name, 0))
    except (OSError, RuntimeError, ValueError):
        return 0


def _state_proxy_clients(node: ClusterProcess) -> int:
    """Established connections to the node's State Proxy port."""
    out = subprocess.run(["ss", "-Htn", "state", "established", f"( sport = :{node.port} )"],
                         capture_output=True, text=True, check=False).stdout
    return len(out.splitlines())

