"""The agent's port sync on a big bridge: ``python -m benchmarks port_sync [--quick] [--json]``.

The agent syncs its ports every second and after every port event. Before,
each sync walked every port of the topology to find the remote ones (and
re-diffed all their watches); now it looks at the ports the topology
changed since the last sync. Both paths are still in ``PortMap.sync``
(``changed_ports=None`` is the walk, kept for the first sync and after a
lost session), so this measures them side by side on the same topology:

* ``idle_sync_ms_N``: one periodic sync with nothing changed, N remote
  ports, 20 local ones (``walk_idle_sync_ms_N`` the old walk).
* ``bring_up_sync_s_N``: the syncs of a bring-up in which N ports appear
  one event at a time (the walk: N walks of a growing bridge, quadratic).
* ``idle_cpu_percent_N``: a sync a second, as a share of one core.
Pure core, no I/O: the watches themselves are not included.
"""
from __future__ import annotations

import time
import uuid
from typing import Any

from midonet_ryu.datapath.local_ports import Interface
from midonet_ryu.datapath.port_map import PortMap
from midonet_ryu.topology.model import Host, Network, Port, TunnelZone
from midonet_ryu.topology.snapshot import TopologySnapshot

HERE, OTHER = uuid.UUID(int=1), uuid.UUID(int=2)
LOCAL = 20


def _topology(n_remote: int) -> tuple[TopologySnapshot, list[Interface]]:
    net = Network(id=uuid.uuid4())
    local = [Port(id=uuid.uuid4(), network_id=net.id, host_id=HERE, interface_name=f"tap{i}")
             for i in range(LOCAL)]
    remote = [Port(id=uuid.uuid4(), network_id=net.id, host_id=OTHER) for _ in range(n_remote)]
    ports = local + remote
    view = TopologySnapshot([
        net.replace(port_ids=tuple(p.id for p in ports)),
        Host(id=HERE, port_ids=tuple(p.id for p in local)),
        Host(id=OTHER, port_ids=tuple(p.id for p in remote)),
        TunnelZone(id=uuid.uuid4(), host_ids=(HERE, OTHER)), *ports])
    ifaces = [Interface(f"tap{i}", i + 1) for i in range(LOCAL)]
    return view, ifaces


def _best(fn: Any, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def _idle(n: int, rounds: int) -> tuple[float, float]:
    view, ifaces = _topology(n)
    ports = PortMap(HERE, view, {})
    ports.sync(ifaces)
    new = _best(lambda: ports.sync(ifaces, changed_ports=()), rounds)
    walk = _best(lambda: ports.sync(ifaces, changed_ports=None), rounds)
    return new, walk


def _bring_up(n: int, walk: bool) -> float:
    """N remote ports appear one at a time; a sync after each."""
    view, ifaces = _topology(0)
    ports = PortMap(HERE, view, {})
    ports.sync(ifaces)
    net = next(iter(view.objects(Network)))
    started = time.perf_counter()
    for _ in range(n):
        port = Port(id=uuid.uuid4(), network_id=net.id, host_id=OTHER)
        view.put(port)
        ports.sync(ifaces, changed_ports=None if walk else (port.id,))
    return time.perf_counter() - started


def run(quick: bool = False) -> dict[str, Any]:
    sizes = (1_000, 10_000) if quick else (1_000, 10_000, 50_000)
    out: dict[str, Any] = {}
    for n in sizes:
        label = f"{n // 1000}k"
        new, walk = _idle(n, 5 if quick else 20)
        out[f"idle_sync_ms_{label}"] = round(new * 1e3, 4)
        out[f"walk_idle_sync_ms_{label}"] = round(walk * 1e3, 3)
        out[f"idle_cpu_percent_{label}"] = round(new * 100, 4)
        out[f"walk_idle_cpu_percent_{label}"] = round(walk * 100, 3)
    for n in ((1_000,) if quick else (1_000, 5_000)):
        label = f"{n // 1000}k"
        out[f"bring_up_sync_s_{label}"] = round(_bring_up(n, walk=False), 3)
        out[f"walk_bring_up_sync_s_{label}"] = round(_bring_up(n, walk=True), 3)
    return out
