"""Simulation engine throughput: ``python -m benchmarks simulation [--quick] [--json]``.

Each scenario simulates pre-parsed packets of many distinct flows through a
scenario topology on one core (the process runs single-threaded) and
reports simulations per second and microseconds per simulation (best of a
few rounds). Only ``simulate`` is timed: parsing is reported separately
(``parse_us``) and writing results back to the state (what the agent does
after each simulation) is reported as ``stateful_apply_us``.

Scenarios:
* l2: unicast between learned MACs on a bridge of 10 ports, and of 10,000
  ports (``l2_ports_10k_vs_10_ratio`` should stay near 1).
* routed: bridge -> router -> bridge, next hops in the ARP table.
* stateful: the same, plus a 50-rule security-group chain with IP address
  groups on the destination port, conntrack rules on the source port, and
  masquerading SNAT on the router; every packet is a *new* connection, so
  each simulation allocates a port and creates conntrack and NAT keys.
* routes_1k: the routed path through a router with 1,000 more routes
  (``routes_1k_vs_10_ratio``).
* memory: bytes allocated for a 10,000-port topology with its compiled
  bridge and a full MAC table (tracemalloc).
"""
from __future__ import annotations

import gc
import resource
import time
import tracemalloc
import uuid
from collections.abc import Callable
from typing import Any

from midonet_ryu.simulation import packet_builders
from midonet_ryu.simulation.addr import ip_to_int
from midonet_ryu.simulation.engine import simulate
from midonet_ryu.simulation.packet import FlowMatch, parse_frame
from midonet_ryu.simulation.result import ResultKind
from midonet_ryu.topology.model import Port
from midonet_ryu.topology.router import Router
from midonet_ryu.topology.rules import (
    IPAddrGroup,
    IPAddrPorts,
    NatRuleData,
    NatTarget,
    PortRange,
    RuleAction,
    RuleType,
)
from tools.scenario import Scenario, build_routed, rule

FLOWS = 512


def _measure(sim: Callable[[FlowMatch], Any], matches: list[FlowMatch], n: int,
             rounds: int) -> float:
    """Best microseconds per call of ``sim`` over ``rounds`` runs of ``n`` calls."""
    best = float("inf")
    k = len(matches)
    for _ in range(rounds):
        gc.collect()
        start = time.perf_counter()
        for i in range(n):
            sim(matches[i % k])
        best = min(best, (time.perf_counter() - start) / n)
    return best * 1e6


def _runner(s: Scenario) -> Callable[[FlowMatch], Any]:
    topo, state, now = s.topology, s.state, s.now
    return lambda m: simulate(m, topo, state, now)


def _l2(ports: int) -> tuple[Scenario, list[FlowMatch]]:
    s = Scenario()
    net = s.network()
    vms = [s.vm_port(net) for _ in range(ports)]
    for vm in vms:
        s.learn(net, vm)
    matches = []
    for i in range(FLOWS):
        src, dst = vms[i % 10], vms[(i + 1) % 10]
        matches.append(s.udp(src, dst.mac, 0x0A000002, sport=1000 + i))
    return s, matches


def _check(s: Scenario, m: FlowMatch, kind: ResultKind = ResultKind.FORWARD) -> None:
    res = simulate(m, s.topology, s.state, s.now)
    if res.kind is not kind:
        raise RuntimeError(f"benchmark scenario broken: {res!r}")


def _routed(extra_routes: int = 0) -> tuple[Scenario, list[FlowMatch]]:
    r = build_routed()
    s = r.s
    if extra_routes:
        rb = s.get(Port, r.rport_b.id)
        for i in range(extra_routes):
            s.route(r.router, f"172.{16 + i // 256}.{i % 256}.0/24", rb, gateway="10.0.2.10")
    matches = [s.tcp(r.a1 if i % 2 else r.a2, r.rport_a.port_mac, r.b1.ip if i % 3 else r.b2.ip,
                     sport=10000 + i, dport=80)
               for i in range(FLOWS)]
    return s, matches


def _stateful(flows: int) -> tuple[Scenario, list[FlowMatch], Any]:
    r = build_routed()
    s = r.s
    ACCEPT, DROP = RuleAction.ACCEPT, RuleAction.DROP
    # Security group on the destination ports: 48 rules that do not match
    # this traffic (other ports, other groups), return flows, then web from
    # the client group (which holds the router's SNAT address), then drop.
    clients = s.put(IPAddrGroup(id=uuid.uuid4(), ip_addr_ports=tuple(
        IPAddrPorts(f"10.0.{net}.{i}") for net in (1, 2) for i in range(1, 200))))
    others = s.put(IPAddrGroup(id=uuid.uuid4(), ip_addr_ports=(IPAddrPorts("10.9.9.9"),)))
    sg_rules = [rule(ACCEPT, nw_proto=6, tp_dst=PortRange(1000 + i, 1000 + i),
                     ip_addr_group_id_src=others.id) for i in range(24)]
    sg_rules += [rule(ACCEPT, nw_proto=17, tp_dst=PortRange(2000 + i, 2000 + i))
                 for i in range(24)]
    sg_rules.insert(0, rule(ACCEPT, match_return_flow=True))
    sg_rules += [rule(ACCEPT, nw_proto=6, tp_dst=PortRange(80, 80),
                      ip_addr_group_id_src=clients.id), rule(DROP)]
    assert len(sg_rules) == 51
    sg = s.chain(*sg_rules)
    egress = s.chain(rule(ACCEPT, match_return_flow=True), rule(ACCEPT))
    for vm in (r.b1, r.b2):
        s.update(s.get(Port, vm.port_id), outbound_filter_id=sg.id)
    for vm in (r.a1, r.a2):
        s.update(s.get(Port, vm.port_id), inbound_filter_id=egress.id)
    snat = rule(ACCEPT, out_port_ids=(r.rport_b.id,)).replace(
        type=RuleType.NAT_RULE,
        nat_rule_data=NatRuleData(nat_targets=(NatTarget("10.0.2.1", "10.0.2.1", 1024, 65535),)))
    s.update(s.get(Router, r.router.id), outbound_filter_id=s.chain(snat).id)
    for block in range(16, 1024):
        s.state.lease_snat_block(r.router.id, ip_to_int("10.0.2.1"), block)
    matches = [s.tcp(r.a1 if i % 2 else r.a2, r.rport_a.port_mac, r.b1.ip if i % 3 else r.b2.ip,
                     sport=1024 + i % 60000, dport=80) for i in range(flows)]
    return s, matches, r


def _memory(ports: int) -> int:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    s, matches = _l2(ports)
    simulate(matches[0], s.topology, s.state, s.now)  # compiles the bridge
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    size = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    del s, matches
    return size


def run(quick: bool) -> dict:
    n = 20_000 if quick else 200_000
    rounds = 2 if quick else 3
    out: dict[str, Any] = {}

    def rate(name: str, us: float) -> None:
        out[f"{name}_us_per_sim"] = round(us, 2)
        out[f"{name}_sims_per_s"] = int(1e6 / us)

    s10, m10 = _l2(10)
    _check(s10, m10[0])
    rate("l2", _measure(_runner(s10), m10, n, rounds))
    s10k, m10k = _l2(10_000)
    _check(s10k, m10k[0])
    us10k = _measure(_runner(s10k), m10k, n, rounds)
    out["l2_ports_10k_us_per_sim"] = round(us10k, 2)
    out["l2_ports_10k_vs_10_ratio"] = round(us10k / out["l2_us_per_sim"], 3)
    del s10k, m10k

    sr, mr = _routed()
    _check(sr, mr[0])
    rate("routed", _measure(_runner(sr), mr, n, rounds))
    s1k, m1k = _routed(extra_routes=1000)
    _check(s1k, m1k[0])
    rate("routes_1k", _measure(_runner(s1k), m1k, n,
                               rounds))
    out["routes_1k_vs_10_ratio"] = round(out["routes_1k_us_per_sim"] / out["routed_us_per_sim"],
                                         3)

    # Stateful: every simulation is a new connection; results are applied to
    # the state between simulations (not timed), as the agent would.
    flows = n // 4 if quick else 50_000
    best = float("inf")
    clock = time.perf_counter
    for _ in range(rounds):
        ss, ms, _r = _stateful(flows)
        _check(ss, ms[0])
        gc.collect()
        spent = 0.0
        topo, state, now = ss.topology, ss.state, ss.now
        for m in ms:
            t0 = clock()
            res = simulate(m, topo, state, now)
            spent += clock() - t0
            state.apply(res, now)
            if res.kind is not ResultKind.FORWARD:
                raise RuntimeError(f"stateful benchmark: a connection was refused: {res!r}")
        best = min(best, spent / len(ms))
        del ss, ms, topo, state
    # What writing a result back costs the agent (not part of the simulation).
    sa, ma, _r = _stateful(5000)
    results = [simulate(m, sa.topology, sa.state, sa.now) for m in ma]
    fresh = _stateful(1)[0].state
    t0 = clock()
    for res in results:
        fresh.apply(res, sa.now)
    apply_us = (clock() - t0) / len(results) * 1e6
    del sa, ma, results, fresh
    rate("stateful", best * 1e6)
    out["stateful_rules_in_chain"] = 51
    out["stateful_apply_us"] = round(apply_us, 2)

    frame = packet_builders.tcp_frame("02:00:00:00:00:01", "02:00:00:00:00:02", 1, 2, 1, 80)
    out["parse_us"] = round(_measure(lambda f: parse_frame(f, None), [frame], n, rounds), 2)

    out["memory_10k_ports_bytes"] = _memory(10_000)
    out["memory_10k_ports_mb"] = round(out["memory_10k_ports_bytes"] / 2**20, 1)
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    out["targets"] = "l2 >= 50000/s, stateful routed >= 15000/s"
    return out
