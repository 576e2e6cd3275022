"""New-flow setup through a real Open vSwitch: ``python -m benchmarks flow_setup``.

What it measures, in one run on one machine:

* **floor**: a bare OS-Ken app (``benchmarks/floor_app.py``, its own
  process, eventlet) on its own dummy-datapath OVS instance, answering each
  packet-in with one flow-mod and one packet-out;
* **l2**: a real ``midonet-agent`` (lab hypervisor 1) forwarding on one
  virtual network whose MAC table (in ZooKeeper) maps many MACs to the
  destination ports: every packet carries a new (source MAC, destination
  MAC) pair from an already-learned source, so each one misses the agent's
  ``in_port, vlan, dl_src, dl_dst`` flows and needs its own simulation, and
  none writes to the MAC table;
* **stateful**: a second agent (hypervisor 2): network A -> router ->
  network B with a 51-rule security-group chain and conntrack on the
  destination ports, return-flow rules on the source ports and SNAT on the
  router; every packet is a new TCP connection (new source port), so every
  flow is exact.

Frames are offered through the dummy ports' unix sockets at fixed rates
(``benchmarks/_flow_drive.py``), spread over several source and destination
ports (a dummy port's socket moves one frame per ovs-vswitchd main-loop
iteration). The rate sweep alternates the floor and the L2 path at each
rate, so load from elsewhere on the machine hits them alike, then sweeps the
stateful path on its own (its agent keeps leasing SNAT blocks in ZooKeeper
after its packets stop); every step starts once no agent counter has moved
for a moment. A path *sustains* a rate
when every frame arrives and delivery keeps up (>= 90 % of the offered
rate); ``*_flows_per_s`` is the highest sustained rate, ``*_peak_flows_per_s``
the most delivered per second at any rate (saturation).

``FLOW_SETUP_AGENT_CONF="agent.packet_in_rate_limit=0,..."`` overrides agent
options for diagnostic runs (the figures then say so in ``agent_conf``);
``FLOW_SETUP_SWEEP_PATHS=floor,l2`` sweeps only those paths.
With ``FLOW_SETUP_PROFILE_DIR=DIR`` (and ``py-spy`` on PATH or in
``FLOW_SETUP_PYSPY``), both agents and the floor app are sampled by py-spy
during the sweep; DIR receives collapsed stacks (``<name>.txt``). Profiled
runs perturb the figures: profile and measure in separate runs.

Also: first-packet latency (p50/p99) at a low rate, against packets on an
installed flow; packet-ins caused by packets of established flows (must be
0); flows in table 1 for 1,000 UDP connections between two VMs on the L2
path (must be O(1)); and invalidation: 10,000 installed flows through a
port's rule chain, one rule updated in the NSDB, time until OVS holds none
of them (polled with ``ovs-ofctl dump-aggregate``) and until the agent's
``flows_invalidated`` counter has counted them.
"""
from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from benchmarks._flow_drive import Endpoint, Outcome, drive, tcp_tagged, udp_tagged
from midonet_ryu.nsdb.state_codecs import ArpEntry as NsdbArpEntry
from midonet_ryu.nsdb.state_table import StateTables
from midonet_ryu.topology.model import Port
from midonet_ryu.topology.router import Router
from midonet_ryu.topology.rules import (
    Chain,
    Condition,
    IPAddrGroup,
    IPAddrPorts,
    NatRuleData,
    NatTarget,
    PortRange,
    Rule,
    RuleAction,
    RuleType,
)
from tools.lab.cloud import Cloud, Hypervisor
from tools.lab.ovs import OvsInstance, VmPort
from tools.lab.procs import end_popen, free_port, port_open, wait_until

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
K = 4  # source ports and destination ports per path (a power of two)
SRC_MACS = 128  # source MACs learned on each L2 source port
DST_MACS = 256  # destination MACs in the L2 MAC table, spread over the K ports
SIM_COOKIE = "0x0300000000000000/0xff00000000000000"


@dataclasses.dataclass(frozen=True)
class Config:
    rates: tuple[float, ...]  # offered new flows/s of the sweep, ascending
    step_s: float  # seconds of traffic per sweep step
    latency_rate: float  # offered rate of the latency measurement (well below the floor)
    latency_n: int
    conns: int = 1000
    invalidation_flows: int = 10_000
    settle_s: float = 0.5
    pause_s: float = 0.0  # after each step (the next one waits for the agents to go quiet)
    max_drain_s: float = 3.0  # after a step's last send, at most this long for stragglers
    quiet_timeout_s: float = 30.0
    step_quiet_s: float = 5.0  # at most this long for the agents to go quiet before a step
    stage_costs: bool = False  # time the packet-in path's steps in-process too


FULL = Config(rates=(500, 750, 1000, 1250, 1500, 1750, 2000, 2500, 3000, 4000),
              step_s=2.0, latency_rate=100, latency_n=400, stage_costs=True)
QUICK = Config(rates=(1000, 2000, 3000), step_s=1.0, latency_rate=200, latency_n=100,
               invalidation_flows=10_000, settle_s=0.3, pause_s=0.0, max_drain_s=1.0,
               quiet_timeout_s=8.0, step_quiet_s=1.5)
SMOKE = Config(rates=(500, 1500), step_s=0.6, latency_rate=200, latency_n=60, conns=200,
               invalidation_flows=1000, settle_s=0.3, pause_s=0.1, max_drain_s=1.0,
               quiet_timeout_s=5.0, step_quiet_s=1.0)


def _mac(*octets: int) -> str:
    return ":".join(f"{b & 0xFF:02x}" for b in octets)


def _ip(text: str) -> int:
    return int(ipaddress.IPv4Address(text))


# -- traffic generators ----------------------------------------------------------


class Path:
    """One forwarding path under test: where frames go in and come out, and
    how to make frames that each need a new flow."""

    name = ""

    def __init__(self, txs: list[Endpoint], rxs: list[Endpoint]) -> None:
        self.txs = txs
        self.rxs = rxs
        self.next_id = 1

    def frame(self, pid: int) -> tuple[int, bytes]:
        """(source port index, frame) of packet ``pid``: a flow no earlier pid used."""
        raise NotImplementedError

    def new_frames(self, n: int) -> tuple[list[bytes], list[int], list[int]]:
        frames, ids, ports = [], [], []
        for _ in range(n):
            pid = self.next_id
            self.next_id += 1
            port, frame = self.frame(pid)
            frames.append(frame)
            ids.append(pid)
            ports.append(port)
        return frames, ids, ports

    def replay(self, frames: list[bytes], ids: list[int], ports: list[int], rate: float,
               settle: float) -> Outcome:
        return drive(self.txs, self.rxs, frames, ids, rate, settle, tx_index=ports)

    def run_new(self, n: int, rate: float, settle: float) -> tuple[Outcome, tuple]:
        batch = self.new_frames(n)
        return self.replay(*batch, rate, settle), batch

    def packet_ins(self) -> int | None:
        return None

    def activity(self) -> Any:
        """Something that changes while the controller still works (its counters)."""
        return None

    def drain(self) -> None:
        for ep in self.rxs:
            ep.drain(0.0)


class L2Frames(Path):
    """Unique (in_port, dl_src, dl_dst) per packet id; used by the floor and the
    agent's L2 path alike, so both see the same frames."""

    capacity = K * SRC_MACS * DST_MACS

    @staticmethod
    def src_mac(port: int, s: int) -> str:
        return _mac(0x02, 0xA0 + port, 0, 0, s >> 8, s)

    @staticmethod
    def dst_mac(d: int) -> str:
        # last byte mod K == d mod K: the destination port, for the floor and the table
        return _mac(0x02, 0xB0, 0, 0, d >> 8, d)

    def frame(self, pid: int) -> tuple[int, bytes]:
        if pid >= self.capacity:
            raise RuntimeError("out of distinct L2 flows: raise SRC_MACS or DST_MACS")
        port, rest = pid % K, pid // K
        s, d = rest % SRC_MACS, (rest // SRC_MACS) % DST_MACS
        return port, udp_tagged(self.src_mac(port, s), self.dst_mac(d), 0x0A000001,
                                0x0A000002, 1000, 2000, pid)


class FloorPath(L2Frames):
    name = "floor"

    def __init__(self, txs: list[Endpoint], rxs: list[Endpoint], app: FloorApp) -> None:
        super().__init__(txs, rxs)
        self.app = app


class AgentL2Path(L2Frames):
    name = "l2"

    def __init__(self, txs: list[Endpoint], rxs: list[Endpoint], hv: Hypervisor) -> None:
        super().__init__(txs, rxs)
        self.hv = hv

    def packet_ins(self) -> int:
        return int(self.hv.agent.ctl("counters").get("packet_in", 0))

    def activity(self) -> Any:
        return self.hv.agent.ctl("counters")


class StatefulPath(Path):
    """TCP SYNs a_i -> router -> b_j, a new source port per packet id."""

    name = "stateful"

    def __init__(self, txs: list[Endpoint], rxs: list[Endpoint], hv: Hypervisor,
                 router_mac: str, src: list[tuple[str, int]], dst_ips: list[int]) -> None:
        super().__init__(txs, rxs)
        self.hv = hv
        self.router_mac = router_mac
        self.src = src
        self.dst_ips = dst_ips

    def frame(self, pid: int) -> tuple[int, bytes]:
        i, j, n = pid % K, (pid // K) % K, pid // (K * K)
        if n >= 64000:
            raise RuntimeError("out of distinct connections")
        mac, ip = self.src[i]
        return i, tcp_tagged(mac, self.router_mac, ip, self.dst_ips[j], 1024 + n, 80, pid)

    def packet_ins(self) -> int:
        return int(self.hv.agent.ctl("counters").get("packet_in", 0))

    def activity(self) -> Any:
        return self.hv.agent.ctl("counters")


# -- the floor controller ----------------------------------------------------------


class FloorApp:
    """``benchmarks/floor_app.py`` as a process on its own OVS instance.

    The instance has the shape of a lab hypervisor's: besides br-int, an
    underlay bridge ``br-phy`` with a link port. ovs-vswitchd runs every
    bridge at each main-loop wake-up, so a switch with one bridge spends
    about a quarter less CPU per new flow than a hypervisor's (measured: 3.1 s
    against 4.1 s over one sweep; 4.05 s against 4.46 s with the second
    bridge), and on two shared cores that alone moved the floor's peak.
    """

    BRIDGE = "br-int"
    UNDERLAY_BRIDGE = "br-phy"  # tools.lab.ovs.Underlay.BRIDGE

    def __init__(self, workdir: str) -> None:
        self.workdir = workdir
        self.ovs = OvsInstance("fl", os.path.join(workdir, "fl"))
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.vms: list[VmPort] = []
        self.dsts: list[VmPort] = []

    @property
    def log_path(self) -> str:
        return os.path.join(self.workdir, "floor.log")

    def start(self) -> FloorApp:
        self.ovs.start()
        self.vms = [self.ovs.add_vm_port(f"fa{i}") for i in range(K)]
        self.dsts = [self.ovs.add_vm_port(f"fb{j}") for j in range(K)]
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "benchmarks.floor_app", "--port", str(self.port),
                 "--out", ",".join(str(d.ofport) for d in self.dsts)],
                cwd=REPO, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        wait_until(lambda: self._up(), 20, what="the floor app's OpenFlow port")
        # The same controller settings the agent gives br-int.
        self.ovs.vsctl("set", "Bridge", self.BRIDGE, "protocols=OpenFlow13", "--",
                       "set-controller", self.BRIDGE, f"tcp:127.0.0.1:{self.port}")
        self.ovs.vsctl("set", "Controller", self.BRIDGE, "max_backoff=1000",
                       "inactivity_probe=5000")
        wait_until(lambda: "floor ready" in self._log(), 20, what="the floor app to connect")
        self.ovs.vsctl("add-br", self.UNDERLAY_BRIDGE, "--", "set", "Bridge",
                       self.UNDERLAY_BRIDGE, "datapath_type=dummy", "fail_mode=secure", "--",
                       "add-port", self.UNDERLAY_BRIDGE, "ul-floor", "--", "set", "Interface",
                       "ul-floor", "type=dummy")
        return self

    def _up(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"floor app exited: {self._log()[-2000:]}")
        return port_open("127.0.0.1", self.port)

    def _log(self) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def stop(self) -> None:
        if self.proc is not None:
            end_popen(self.proc)
        self.ovs.stop()


# -- topology in the NSDB -------------------------------------------------------------


def _endpoint(vm: VmPort, mac: str | None = None, ip: int | None = None) -> Endpoint:
    # VmPort keeps its socket private; the benchmark needs the raw socket for
    # non-blocking, select()-driven I/O over several ports.
    return Endpoint(vm._sock, mac, ip)  # noqa: SLF001


def _mac_entries(cloud: Cloud, network_id: uuid.UUID, entries: dict[str, uuid.UUID]) -> None:
    """Persistent MAC-table entries: what a MAC table holds after learning,
    without one learning write per benchmark packet."""
    table = StateTables(cloud.client, cloud.store.paths).bridge_mac_table(network_id, 0)
    try:
        for mac, port_id in entries.items():
            table.add_persistent(mac, port_id)
    finally:
        table.stop()


def _static_arp(cloud: Cloud, router_id: uuid.UUID, entries: dict[int, str]) -> None:
    """The router's ARP entries for the destination VMs, persistent and fresh
    for a day: the router still reads its ARP table on every simulation, but
    no entry goes stale during the run. A stale entry makes every simulation
    emit an ARP request (the agent does not rate-limit them), which under
    overload drowns the replies that would refresh it; that is reported in
    the results file, and kept out of the setup figures."""
    now_ms = int(time.time() * 1000)
    day = 86_400_000
    table = StateTables(cloud.client, cloud.store.paths).router_arp_table(router_id)
    try:
        for ip, mac in entries.items():
            table.add_persistent(ipaddress.IPv4Address(ip),
                                 NsdbArpEntry(mac, now_ms + 2 * day, now_ms + day, now_ms))
    finally:
        table.stop()


def build_l2(cloud: Cloud, hv: Hypervisor) -> tuple[AgentL2Path, dict]:
    net = cloud.network("bench-l2")
    extra: dict[str, Any] = {"net": net}
    srcs = [cloud.vm(hv, net, f"la{i}") for i in range(K)]
    dsts = [cloud.vm(hv, net, f"lb{j}") for j in range(K)]
    entries = {L2Frames.src_mac(i, s): srcs[i][0].id for i in range(K)
               for s in range(SRC_MACS)}
    entries.update({L2Frames.dst_mac(d): dsts[d % K][0].id for d in range(DST_MACS)})
    # the 1,000-connection pair and the invalidation target
    conn_src, conn_dst = _mac(0x02, 0xC0, 0, 0, 0, 1), _mac(0x02, 0xC0, 0, 0, 0, 2)
    entries[conn_src], entries[conn_dst] = srcs[0][0].id, dsts[0][0].id
    chain = cloud.store.create(Chain(id=uuid.uuid4(), name="bench-inval"))
    rules = [cloud.store.create(Rule(id=uuid.uuid4(), chain_id=chain.id, action=act,
                                     condition=cond))
             for act, cond in ((RuleAction.DROP, Condition(nw_proto=1)),
                               (RuleAction.DROP, Condition(nw_proto=6, tp_dst=PortRange(22, 22))),
                               (RuleAction.ACCEPT, Condition()))]
    inval_port, inval_vm = cloud.vm(hv, net, "lc0", outbound_filter_id=chain.id)
    inval_macs = [_mac(0x02, 0xC1, 0, 0, n >> 8, n) for n in range(64)]
    entries.update({m: inval_port.id for m in inval_macs})
    _mac_entries(cloud, net.id, entries)
    for port, _ in srcs + dsts + [(inval_port, inval_vm)]:
        cloud.wait_bound(hv, port)
    path = AgentL2Path([_endpoint(vm) for _, vm in srcs], [_endpoint(vm) for _, vm in dsts], hv)
    extra.update(conn_src=conn_src, conn_dst=conn_dst, srcs=srcs, dsts=dsts, chain=chain,
                 rules=rules, inval_port=inval_port, inval_vm=inval_vm, inval_macs=inval_macs)
    return path, extra


def _chain(cloud: Cloud, name: str, rules: Sequence[tuple[RuleAction, Condition]],
           **rule_fields: Any) -> Chain:
    chain = cloud.store.create(Chain(id=uuid.uuid4(), name=name))
    for action, cond in rules:
        cloud.store.create(Rule(id=uuid.uuid4(), chain_id=chain.id, action=action,
                                condition=cond, **rule_fields))
    return chain


def build_stateful(cloud: Cloud, hv: Hypervisor, dynamic_snat: bool = True
                   ) -> tuple[StatefulPath, dict]:
    """a_i -- net A 10.0.1.0/24 -- router -- net B 10.0.2.0/24 -- b_j, as
    ``benchmarks/simulation.py``'s stateful scenario, in the NSDB."""
    store = cloud.store
    net_a, net_b = cloud.network("bench-a"), cloud.network("bench-b")
    router = store.create(Router(id=uuid.uuid4(), name="bench-r"))
    rmacs = {"a": _mac(0x02, 0xD0, 0, 0, 0, 1), "b": _mac(0x02, 0xD0, 0, 0, 0, 2)}
    rports = {}
    for side, net, addr in (("a", net_a, "10.0.1.1"), ("b", net_b, "10.0.2.1")):
        rp = store.create(Port(id=uuid.uuid4(), router_id=router.id, port_address=addr,
                               port_subnet=addr.rsplit(".", 1)[0] + ".0/24",
                               port_mac=rmacs[side]))
        bp = store.create(Port(id=uuid.uuid4(), network_id=net.id))
        store.update(store.get(Port, bp.id).replace(peer_id=rp.id))
        rports[side] = store.get(Port, rp.id)
    ACCEPT, DROP = RuleAction.ACCEPT, RuleAction.DROP
    clients = store.create(IPAddrGroup(id=uuid.uuid4(), ip_addr_ports=tuple(
        IPAddrPorts(f"10.0.{n}.{i}") for n in (1, 2) for i in range(1, 200))))
    others = store.create(IPAddrGroup(id=uuid.uuid4(),
                                      ip_addr_ports=(IPAddrPorts("10.9.9.9"),)))
    # Return flows, ARP (as Neutron security groups on MidoNet accept it; the
    # router resolves the VMs through this chain), 47 rules that do not match
    # this traffic, web from the client group (which holds the SNAT address),
    # drop: 51 rules.
    sg = [(ACCEPT, Condition(match_return_flow=True)), (ACCEPT, Condition(dl_type=0x0806))]
    sg += [(ACCEPT, Condition(nw_proto=6, tp_dst=PortRange(1000 + i, 1000 + i),
                              ip_addr_group_id_src=others.id)) for i in range(24)]
    sg += [(ACCEPT, Condition(nw_proto=17, tp_dst=PortRange(2000 + i, 2000 + i)))
           for i in range(23)]
    sg += [(ACCEPT, Condition(nw_proto=6, tp_dst=PortRange(80, 80),
                              ip_addr_group_id_src=clients.id)), (DROP, Condition())]
    sg_chain = _chain(cloud, "bench-sg", sg)
    egress = _chain(cloud, "bench-egress", [(ACCEPT, Condition(match_return_flow=True)),
                                            (ACCEPT, Condition())])
    snat_target = NatTarget("10.0.2.1", "10.0.2.1", 1024, 65535) if dynamic_snat else \
        NatTarget("10.0.2.1", "10.0.2.1", 0, 0)
    snat_chain = _chain(cloud, "bench-snat", [(ACCEPT, Condition(
        out_port_ids=(rports["b"].id,)))], type=RuleType.NAT_RULE,
        nat_rule_data=NatRuleData(nat_targets=(snat_target,)))
    store.update(store.get(Router, router.id).replace(outbound_filter_id=snat_chain.id))
    srcs, dsts = [], []
    a_entries, b_entries = {}, {}
    for i in range(K):
        mac = _mac(0x02, 0xE0, 0, 0, 1, i)
        port, vm = cloud.vm(hv, net_a, f"sa{i}", mac=mac, inbound_filter_id=egress.id)
        srcs.append((port, vm, mac, _ip(f"10.0.1.{10 + i}")))
        a_entries[mac] = port.id
    for j in range(K):
        mac = _mac(0x02, 0xE0, 0, 0, 2, j)
        port, vm = cloud.vm(hv, net_b, f"sb{j}", mac=mac, outbound_filter_id=sg_chain.id)
        dsts.append((port, vm, mac, _ip(f"10.0.2.{10 + j}")))
        b_entries[mac] = port.id
    _mac_entries(cloud, net_a.id, a_entries)
    _mac_entries(cloud, net_b.id, b_entries)
    _static_arp(cloud, router.id, {ip: mac for _, _, mac, ip in dsts})
    for port, *_ in srcs + dsts:
        cloud.wait_bound(hv, port)
    path = StatefulPath([_endpoint(vm) for _, vm, _, _ in srcs],
                        [_endpoint(vm, mac, ip) for _, vm, mac, ip in dsts], hv,
                        rmacs["a"], [(mac, ip) for _, _, mac, ip in srcs],
                        [ip for *_, ip in dsts])
    return path, {"snat_chain": snat_chain, "router": router}


# -- measurements ---------------------------------------------------------------------


def warm_up(path: Path, tries: int = 40, per_try: int = 2 * K * K) -> dict:
    """Send until a whole round arrives exactly once: the agent has loaded the
    MAC tables (no flooding) and resolved the router's next hops."""
    arp = 0
    for _ in range(tries):
        out, _ = path.run_new(per_try, 200, 0.3)
        arp += out.arp_answered
        if out.delivered == out.sent and out.duplicates == 0:
            return {"ok": True, "arp": arp}
        time.sleep(0.2)
    return {"ok": False, "arp": arp, "last": dataclasses.asdict(out) | {"latencies_ms": None}}


def _r(x: float | None, nd: int = 3) -> float | None:
    return None if x is None else round(x, nd)


def latency(path: Path, cfg: Config) -> dict:
    """First-packet latency at a low rate, then the same frames on their
    installed flows, and how many packet-ins that replay caused."""
    path.drain()
    first, batch = path.run_new(cfg.latency_n, cfg.latency_rate, cfg.settle_s)
    time.sleep(0.2)
    before = path.packet_ins()
    again = path.replay(*batch, cfg.latency_rate, cfg.settle_s)
    after = path.packet_ins()
    return {
        "p50_ms": _r(first.percentile(50)), "p99_ms": _r(first.percentile(99)),
        "lost": first.lost, "installed_p50_ms": _r(again.percentile(50)),
        "installed_p99_ms": _r(again.percentile(99)), "installed_lost": again.lost,
        "packet_ins_established": None if before is None else after - before,
    }


def sweep(paths: Sequence[Path], cfg: Config, log: Callable[[str], None]) -> dict:
    steps: dict[str, list[dict]] = {p.name: [] for p in paths}
    agents = [p for p in paths if p.packet_ins() is not None]
    # The floor and the L2 path alternate at each rate; the stateful path has
    # its own pass afterwards: its agent keeps working (SNAT block leases in
    # ZooKeeper) long after its packets stop, which would slow whatever came
    # next on this machine.
    passes = [[p for p in paths if p.name != "stateful"], [p for p in paths
                                                           if p.name == "stateful"]]
    for rate, path in [(r, p) for group in passes for r in cfg.rates for p in group]:
        # An overloaded step leaves a backlog in its agent and switch that
        # would steal the CPU from the next path's step: start each step
        # from a quiet machine (bounded).
        wait_quiet(agents, quiet_s=0.3, timeout=cfg.step_quiet_s)
        path.drain()
        batch = path.new_frames(max(1, int(rate * cfg.step_s)))
        out = drive(path.txs, path.rxs, *batch[:2], rate, cfg.settle_s,
                    tx_index=batch[2], max_drain=cfg.max_drain_s)
        step = {"offered": rate, "sent": out.sent, "lost": out.lost,
                "delivered_per_s": round(out.delivered_per_s),
                "p50_ms": _r(out.percentile(50), 2), "p99_ms": _r(out.percentile(99), 2),
                "duplicates": out.duplicates, "arp_answered": out.arp_answered}
        steps[path.name].append(step)
        log(f"{path.name:9s} {rate:6.0f}/s: lost {out.lost:5d}, delivered "
            f"{out.delivered_per_s:7.0f}/s, p50 {step['p50_ms']} ms p99 {step['p99_ms']} ms")
        time.sleep(cfg.pause_s)
    summary = {}
    for name, rows in steps.items():
        # sustained: the highest rate up to which every step delivered
        # everything and kept up (a later lucky step does not count)
        sustained = 0
        for r in rows:
            if r["lost"] or r["duplicates"] or r["delivered_per_s"] < 0.9 * r["offered"]:
                break
            sustained = r["offered"]
        peak = max((r["delivered_per_s"] for r in rows), default=0)
        summary[name] = {
            "sustained": sustained, "peak": peak,
            "lost_below_saturation": sum(r["lost"] for r in rows if r["offered"] < peak),
            "steps": rows,
        }
    return summary


def _aggregate(ovs: OvsInstance, spec: str) -> int:
    out = ovs.ofctl("dump-aggregate", "br-int", spec)
    m = re.search(r"flow_count=(\d+)", out)
    return int(m.group(1)) if m else -1


def wait_quiet(paths: Sequence[Path], quiet_s: float = 1.0, timeout: float = 30.0) -> float:
    """Wait until no agent counter moves for ``quiet_s``: an overloaded
    sweep leaves a backlog in the switch and the agent that would otherwise
    be counted by the next measurement. Returns the seconds waited."""
    start = time.monotonic()
    last = [p.activity() for p in paths]
    since = time.monotonic()
    while time.monotonic() - start < timeout:
        time.sleep(0.1)
        for p in paths:
            p.drain()
        now = [p.activity() for p in paths]
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            break
    return round(time.monotonic() - start, 1)


def flows_for_conns(l2: AgentL2Path, extra: dict, n: int) -> dict:
    """``n`` UDP connections (distinct source ports) between two VMs on the L2
    path: how many flows they leave in table 1 and how many packet-ins."""
    src_ep, dst_ep = l2.txs[0], l2.rxs[0]
    ids = [0x7F000000 + k for k in range(n)]
    frames = [udp_tagged(extra["conn_src"], extra["conn_dst"], 0x0A000001, 0x0A000002,
                         10000 + k, 5001, pid) for k, pid in enumerate(ids)]
    before = l2.packet_ins()
    out = drive([src_ep], [dst_ep], frames, ids, 500, 0.5)
    after = l2.packet_ins()
    flows = _aggregate(l2.hv.ovs, f"table=1,cookie={SIM_COOKIE},dl_src={extra['conn_src']}")
    return {"flows": flows, "packet_ins": after - before, "delivered": out.delivered,
            "sent": out.sent}


def invalidation(l2: AgentL2Path, extra: dict, cloud: Cloud, n: int,
                 log: Callable[[str], None]) -> dict:
    """Install ``n`` flows through a port whose outbound chain is
    ``extra['chain']``, update one of its rules, time their removal."""
    hv = l2.hv
    ovs = hv.ovs
    target = extra["inval_vm"].ofport
    spec = f"table=1,cookie={SIM_COOKIE},out_port={target}"
    macs = extra["inval_macs"]
    frames, ids, ports = [], [], []
    for k in range(n):
        port, rest = k % K, k // K
        s, d = rest % SRC_MACS, rest // SRC_MACS
        if d >= len(macs):
            raise RuntimeError("not enough invalidation MACs for that many flows")
        pid = 0x7E000000 + k
        frames.append(udp_tagged(L2Frames.src_mac(port, s), macs[d], 0x0A000001, 0x0A000002,
                                 1000, 2000, pid))
        ids.append(pid)
        ports.append(port)
    rx = [_endpoint(extra["inval_vm"])]
    installed = 0
    for _ in range(6):
        drive(l2.txs, rx, frames, ids, 2500, 0.3, tx_index=ports)
        installed = _aggregate(ovs, spec)
        if installed >= n:
            break
    rx[0].drain(0.0)
    if installed < n:
        log(f"invalidation: only {installed} of {n} flows installed")
    counters = hv.agent.ctl("counters")
    base = int(counters.get("flows_invalidated", 0))
    rule = extra["rules"][1]
    changed = rule.replace(condition=Condition(nw_proto=6, tp_dst=PortRange(23, 23)))
    t0 = time.perf_counter()
    cloud.store.update(changed)
    t_agent = t_ovs = None
    deadline = t0 + 60
    while time.perf_counter() < deadline and (t_agent is None or t_ovs is None):
        if t_agent is None:
            done = int(hv.agent.ctl("counters").get("flows_invalidated", 0)) - base
            if done >= installed:
                t_agent = time.perf_counter()
        if t_ovs is None and _aggregate(ovs, spec) == 0:
            t_ovs = time.perf_counter()
        time.sleep(0.002)
    return {"flows": installed,
            "ovs_ms": None if t_ovs is None else round((t_ovs - t0) * 1e3, 1),
            "agent_ms": None if t_agent is None else round((t_agent - t0) * 1e3, 1)}


# -- the run ----------------------------------------------------------------------------


class Profiler:
    """py-spy on the controllers during the sweep (``FLOW_SETUP_PROFILE_DIR``)."""

    def __init__(self, outdir: str | None, pids: dict[str, int | None]) -> None:
        self.outdir = outdir
        self.pids = {k: v for k, v in pids.items() if v}
        self.procs: list[subprocess.Popen] = []
        self.pyspy = os.environ.get("FLOW_SETUP_PYSPY") or shutil.which("py-spy")

    def start(self) -> None:
        if not self.outdir:
            return
        if not self.pyspy:
            raise RuntimeError("FLOW_SETUP_PROFILE_DIR is set but py-spy is not found")
        os.makedirs(self.outdir, exist_ok=True)
        for name, pid in self.pids.items():
            self.procs.append(subprocess.Popen(
                [self.pyspy, "record", "--nonblocking", "-r", "200", "--format", "raw",
                 "-o", os.path.join(self.outdir, f"{name}.txt"), "-p", str(pid)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

    def stop(self) -> None:
        for proc in self.procs:
            end_popen(proc, sig=signal.SIGINT, timeout=20)
        self.procs.clear()



def _agent_conf(text: str) -> dict[str, dict[str, str]]:
    """``"agent.packet_in_rate_limit=0,agent.flow_idle_timeout=30"`` -> config
    sections for the agents (``FLOW_SETUP_AGENT_CONF``, for diagnostic runs)."""
    out: dict[str, dict[str, str]] = {}
    for item in filter(None, (i.strip() for i in text.split(","))):
        key, value = item.split("=", 1)
        section, option = key.split(".", 1)
        out.setdefault(section, {})[option] = value
    return out


def overload_ratio(path: dict) -> float | None:
    """Delivered per second at the first step offering at least twice the
    sustained rate, over the sustained rate (issue 12's degradation figure:
    >= 0.8 means overload degrades instead of collapsing); None when the
    sweep did not go that high."""
    sustained = path["sustained"]
    if not sustained:
        return None
    for step in sorted(path["steps"], key=lambda s: s["offered"]):
        if step["offered"] >= 2 * sustained:
            return round(step["delivered_per_s"] / sustained, 3)
    return None


def run_config(cfg: Config, log: Callable[[str], None] | None = None) -> dict:
    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    agent_conf = _agent_conf(os.environ.get("FLOW_SETUP_AGENT_CONF", ""))
    figures: dict[str, Any] = {"load_avg_start": round(os.getloadavg()[0], 2),
                               "agent_conf": agent_conf}
    if cfg.stage_costs:
        from benchmarks._flow_costs import stage_costs

        figures["inproc_us"] = stage_costs(1000)
    # Nothing before this line starts a process or leaves a file behind.
    workdir = tempfile.mkdtemp(prefix="mr-fs-", dir=os.environ.get("MR_LAB_TMP", "/tmp"))
    cloud = Cloud(2, workdir=os.path.join(workdir, "c"), agent_extra=agent_conf)
    floor = FloorApp(workdir)
    t_start = time.monotonic()
    try:
        cloud.start()
        floor.start()
        hv1, hv2 = cloud.hosts
        l2, l2_extra = build_l2(cloud, hv1)
        stateful, _ = build_stateful(cloud, hv2)
        floor_path = FloorPath([_endpoint(v) for v in floor.vms],
                               [_endpoint(v) for v in floor.dsts], floor)
        paths: list[Path] = [floor_path, l2, stateful]
        for p in paths:
            w = warm_up(p)
            if not w["ok"]:
                raise RuntimeError(f"{p.name} path does not deliver: {w}")
        figures["setup_s"] = round(time.monotonic() - t_start, 1)
        lat = {p.name: latency(p, cfg) for p in paths}
        for name, row in lat.items():
            log(f"latency {name}: {row}")
        profiler = Profiler(os.environ.get("FLOW_SETUP_PROFILE_DIR"),
                            {"agent-l2": hv1.agent.pid, "agent-stateful": hv2.agent.pid,
                             "floor": floor.proc.pid if floor.proc else None})
        profiler.start()
        only = os.environ.get("FLOW_SETUP_SWEEP_PATHS")  # diagnostic: e.g. "floor,l2"
        try:
            sw = sweep([p for p in paths if not only or p.name in only.split(",")], cfg, log)
            for p in paths:
                sw.setdefault(p.name, {"sustained": 0, "peak": 0, "lost_below_saturation": 0,
                                       "steps": []})
        finally:
            profiler.stop()
        figures["quiesce_s"] = wait_quiet([l2, stateful], timeout=cfg.quiet_timeout_s)
        conns = flows_for_conns(l2, l2_extra, cfg.conns)
        log(f"{cfg.conns} connections: {conns}")
        inval = invalidation(l2, l2_extra, cloud, cfg.invalidation_flows, log)
        log(f"invalidation: {inval}")
        counters = {hv.name: hv.agent.ctl("counters") for hv in cloud.hosts}
    finally:
        floor.stop()
        cloud.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    f = sw["floor"]["sustained"]
    figures["stateful_overload_ratio"] = overload_ratio(sw["stateful"])
    figures.update({
        "floor_flows_per_s": f,
        "l2_flows_per_s": sw["l2"]["sustained"],
        "stateful_flows_per_s": sw["stateful"]["sustained"],
        "l2_ratio": round(sw["l2"]["sustained"] / f, 3) if f else None,
        "stateful_ratio": round(sw["stateful"]["sustained"] / f, 3) if f else None,
        "floor_peak_flows_per_s": sw["floor"]["peak"],
        "l2_peak_flows_per_s": sw["l2"]["peak"],
        "stateful_peak_flows_per_s": sw["stateful"]["peak"],
        "floor_p50_ms": lat["floor"]["p50_ms"], "floor_p99_ms": lat["floor"]["p99_ms"],
        "l2_p50_ms": lat["l2"]["p50_ms"], "l2_p99_ms": lat["l2"]["p99_ms"],
        "stateful_p50_ms": lat["stateful"]["p50_ms"],
        "stateful_p99_ms": lat["stateful"]["p99_ms"],
        "floor_installed_p50_ms": lat["floor"]["installed_p50_ms"],
        "l2_installed_p50_ms": lat["l2"]["installed_p50_ms"],
        "stateful_installed_p50_ms": lat["stateful"]["installed_p50_ms"],
        "l2_p50_vs_floor": round(lat["l2"]["p50_ms"] / lat["floor"]["p50_ms"], 2)
        if lat["floor"]["p50_ms"] else None,
        "stateful_p50_vs_floor": round(lat["stateful"]["p50_ms"] / lat["floor"]["p50_ms"], 2)
        if lat["floor"]["p50_ms"] else None,
        "l2_packet_ins_established": lat["l2"]["packet_ins_established"],
        "stateful_packet_ins_established": lat["stateful"]["packet_ins_established"],
        "lost_below_saturation": {n: sw[n]["lost_below_saturation"] for n in sw},
        "flows_for_1000_conns": conns["flows"],
        "conns": cfg.conns,
        "conns_packet_ins": conns["packet_ins"],
        "invalidation_ms_10k": inval["ovs_ms"],
        "invalidation_agent_ms": inval["agent_ms"],
        "invalidation_flows": inval["flows"],
        "sweep": {n: sw[n]["steps"] for n in sw},
        "latency": lat,
        "agent_counters": counters,
        "config": dataclasses.asdict(cfg),
        "ports_per_side": K,
    })
    return figures


def run(quick: bool) -> dict:
    return run_config(QUICK if quick else FULL)
