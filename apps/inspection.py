"""What ``midonet-agent-ctl`` shows: the agent's beliefs, described for operators.

Read-only: status (switch, ZooKeeper, State Proxy, generation), ports (local
bindings and remote locations), topology (what is loaded and watched),
flows (each installed flow's cookie, match,
tags and the simulation that made it) and counters (the same registry the
Prometheus endpoint serves). Descriptions are built only when asked.
"""
from __future__ import annotations

import ipaddress
import time
from typing import Any

from midonet_ryu.datapath.nsdb_grace import DEGRADED

_IP_FIELDS = frozenset({"ipv4_src", "ipv4_dst", "arp_spa", "arp_tpa"})


def answer(agent: Any, request: dict[str, Any]) -> Any:
    cmd = request.get("cmd")
    core = agent.core
    if cmd == "status":
        svc = agent.services
        zk = svc.zk.state if svc is not None else None
        nsdb = agent.grace.report(time.time())
        if agent.nsdb is not None:
            nsdb["put_aside"] = agent.nsdb.deferred  # waiting for ZooKeeper
        return {"host_id": agent.host_id, "ready": agent.ready,
                "switch_connected": agent.switch is not None,
                # degraded: ZooKeeper gone for longer than session_gracetime
                "zookeeper": zk, "nsdb": nsdb, "degraded": nsdb["state"] == DEGRADED,
                "learned": core.ageing.counts() if core else {},
                # pool members this host probes for their health monitors
                "health_probes": core.health.status() if core else [],
                "state_proxy": agent.state_proxy_state(),
                "generation": core.generation if core else None,
                "flows": len(core.flows) if core else 0,
                "local_ports": len(core.ports.bindings) if core else 0,
                "remote_hosts_down": sorted(map(str, core.ports.down_hosts)) if core else []}
    if cmd == "ports":
        ports = core.ports if core else None
        return {
            "local": {str(p): {"interface": b.interface, "ofport": b.ofport,
                               "tunnel_key": b.tunnel_key}
                      for p, b in (ports.bindings.items() if ports else [])},
            "remote": {str(p): {"host_id": str(h), "tunnel_key": k,
                                "host_down": h in ports.down_hosts,
                                "reachable": ports.locate(p) is not None}
                       for p, (h, k) in ports.remote_active.items()} if ports else {},
            # bound elsewhere, loaded here, location not read yet
            "unlocated": sorted(str(p) for p in ports.remote_hosts
                                if p not in ports.remote_active) if ports else [],
            "on_demand": agent.services is not None and agent.services.demand is not None,
        }
    if cmd == "flows":
        return [{"cookie": hex(r.cookie), "match": describe_match(r.match),
                 "tags": sorted(map(str, r.tags)), "simulation": describe_result(r.summary)}
                for r in (core.flows.records() if core else [])]
    if cmd == "counters":
        return agent.metrics.snapshot()
    if cmd == "topology":
        return topology(agent)
    raise ValueError(f"unknown command {cmd!r}; try status, ports, flows, counters, topology")


def topology(agent: Any) -> dict[str, Any]:
    """What of the topology this agent holds and watches, and its ZooKeeper
    session (to find its watches on the server: ``wchc``)."""
    svc = agent.services
    if svc is None:
        return {"on_demand": agent.conf.agent.topology_on_demand}
    cache, demand = svc.cache, svc.demand
    status = demand.status() if demand is not None else {
        "loaded": {cls.kind: cache.count(cls) for cls in cache.classes if cache.count(cls)}}
    client_id = svc.zk.client_id
    status.update(on_demand=demand is not None,
                  session_id=f"0x{client_id[0]:x}" if client_id else None,
                  waiting_packets=len(agent.core.waits) if agent.core is not None else 0)
    return status


def describe_match(fields: Any) -> str:
    """``in_port=3,eth_dst=...,ipv4_dst=203.0.113.1`` (as ovs-ofctl would name them)."""
    parts = []
    for name, value in fields:
        if name in _IP_FIELDS:
            value = ipaddress.IPv4Address(value)
        parts.append(f"{name}={value}")
    return ",".join(parts)


def describe_result(summary: Any) -> str:
    """A flow's simulation outcome."""
    kind, actions, reason = summary
    text = f"{kind.name}: " + ", ".join(
        f"{type(a).__name__}({', '.join(map(str, a))})" for a in actions)
    return f"{text} ({reason})" if reason else text
