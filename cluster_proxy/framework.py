"""A thin framework that runs cluster services found through entry points.

Why a framework at all: MidoNet's cluster hosts heterogeneous services (State
Proxy, REST API, VTEP sync, ...) that share plumbing but each decide their own
redundancy. Services are classes registered under the
``midonet_ryu.cluster.services`` entry-point group, so add-ons ship their own;
each is switched by ``[cluster] <name>_enabled`` (on when the option is not
registered). The framework gives every service the same context (config, the
process's one kazoo client, paths, the declared metrics) and starts/stops them in order.
Any number of cluster nodes may run the same services.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from importlib import metadata
from typing import Any

from kazoo.client import KazooClient
from oslo_config import cfg

from midonet_ryu.metrics import ClusterMetrics
from midonet_ryu.nsdb.paths import Paths

LOG = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "midonet_ryu.cluster.services"


def watch_gc_pauses(metrics: ClusterMetrics, log_over: float = 0.02) -> None:
    """Record Python GC pauses (a full collection of a big cache stalls every table)."""
    import gc

    started: list[float] = []

    def callback(phase: str, info: dict) -> None:
        if phase == "start":
            started[:] = [time.perf_counter()]
            return
        if not started:
            return
        pause = time.perf_counter() - started[0]
        metrics.observe_gc_pause(info["generation"], pause)
        if pause >= log_over:
            LOG.info("gc generation %d paused %.1f ms", info["generation"], pause * 1000)

    gc.callbacks.append(callback)


class ClusterContext:
    """What every service receives: shared plumbing, owned by the node."""

    def __init__(self, conf: cfg.ConfigOpts, zk: KazooClient, paths: Paths,
                 metrics: ClusterMetrics | None = None) -> None:
        self.conf = conf
        self.zk = zk
        self.paths = paths
        self.metrics = metrics if metrics is not None else ClusterMetrics()


class ClusterService:
    """Base class of cluster services. ``start`` must return once the service runs."""

    name = "unnamed"

    def __init__(self, context: ClusterContext) -> None:
        self.context = context

    def start(self) -> None:
        raise NotImplementedError

    def stop(self, timeout: float) -> None:
        raise NotImplementedError

    def health(self) -> dict[str, Any]:
        return {"running": True}


def discover_services(group: str = ENTRY_POINT_GROUP) -> dict[str, type[ClusterService]]:
    """Service classes by entry-point name; a broken add-on is logged, not fatal."""
    found: dict[str, type[ClusterService]] = {}
    for ep in metadata.entry_points(group=group):
        try:
            cls = ep.load()
        except Exception:  # noqa: BLE001 - one bad add-on must not stop the node
            LOG.exception("cluster service %s (%s) failed to load", ep.name, ep.value)
            continue
        if not (isinstance(cls, type) and issubclass(cls, ClusterService)):
            LOG.error("cluster service %s is not a ClusterService: %r", ep.name, cls)
            continue
        found[ep.name] = cls
    return found


def service_enabled(conf: cfg.ConfigOpts, name: str) -> bool:
    try:
        return bool(getattr(conf.cluster, f"{name}_enabled"))
    except (cfg.NoSuchOptError, cfg.NoSuchGroupError, AttributeError):
        return True


class ClusterNode:
    """Starts the enabled services and stops them in reverse order."""

    def __init__(self, context: ClusterContext,
                 services: dict[str, type[ClusterService]] | None = None) -> None:
        self.context = context
        self.available = services if services is not None else discover_services()
        self.running: list[ClusterService] = []

    def start(self, only: Iterable[str] | None = None) -> None:
        wanted = set(only) if only is not None else None
        for name, cls in sorted(self.available.items()):
            if (wanted is not None and name not in wanted) or \
                    not service_enabled(self.context.conf, name):
                LOG.info("cluster service %s disabled", name)
                continue
            service = cls(self.context)
            service.name = name
            LOG.info("starting cluster service %s", name)
            running = self.context.metrics.service_running.labels(name)
            try:
                service.start()
            except Exception:
                LOG.exception("cluster service %s failed to start; stopping the others", name)
                running.set(0)
                self.stop()
                raise
            running.set(1)
            self.running.append(service)
        if not self.running:
            LOG.warning("no cluster service enabled")

    def stop(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        for service in reversed(self.running):
            LOG.info("stopping cluster service %s", service.name)
            try:
                service.stop(max(0.0, deadline - time.monotonic()))
            except Exception:  # noqa: BLE001 - stop the others regardless
                LOG.exception("cluster service %s failed to stop", service.name)
            self.context.metrics.service_running.labels(service.name).set(0)
        self.running.clear()

    def health(self) -> dict[str, Any]:
        """The services' own reports, the ZooKeeper state and every metric.

        The metrics are the registry's samples keyed ``<subsystem>.<name>``
        (:meth:`ClusterMetrics.snapshot`): the same numbers ``/metrics`` serves,
        for a node whose endpoint is disabled or not reachable.
        """
        return {
            "services": {s.name: s.health() for s in self.running},
            "nsdb": self.context.zk.state,
            "metrics": self.context.metrics.snapshot(),
        }
