"""``midonet-cluster``: the cluster daemon (eventlet).

Monkey-patching must precede every other import that touches sockets or
threads, so it happens first in :func:`main`, before this module imports
anything of the project.
"""
from __future__ import annotations

import sys
import warnings
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported for real only after monkey-patching
    from kazoo.client import KazooClient
    from prometheus_client import Gauge


def _patch() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import eventlet
    try:
        from eventlet.support import EventletDeprecationWarning  # type: ignore[attr-defined]
        warnings.filterwarnings("ignore", category=EventletDeprecationWarning)
    except ImportError:
        warnings.filterwarnings("ignore", message=".*eventlet.*")
    eventlet.monkey_patch()


def _eventlet_client(hosts: str, session_timeout_ms: int) -> KazooClient:
    """The process's kazoo client, on the eventlet handler."""
    from kazoo.handlers.eventlet import SequentialEventletHandler

    from midonet_ryu.nsdb.client import make_client

    return make_client(hosts, session_timeout_ms, handler=SequentialEventletHandler())


def _watch_session(zk: KazooClient, gauge: Gauge) -> None:
    """Keep ``gauge`` at 1 while the session is connected (kazoo listeners must not block)."""
    from kazoo.protocol.states import KazooState

    def listener(state: str) -> None:
        gauge.set(1 if state == KazooState.CONNECTED else 0)

    zk.add_listener(listener)


def main(argv: list[str] | None = None) -> int:
    _patch()
    import json
    import logging
    import signal
    import threading

    from apps import metrics_endpoint
    from cluster_proxy.framework import ClusterContext, ClusterNode, watch_gc_pauses
    from midonet_ryu.conf import CONF, register_all
    from midonet_ryu.metrics import ClusterMetrics
    from midonet_ryu.nsdb.client import start_with_retry
    from midonet_ryu.nsdb.paths import Paths

    register_all(CONF)
    CONF(args=sys.argv[1:] if argv is None else argv, project="midonet-ryu",
         prog="midonet-cluster", default_config_files=[])
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s")
    logging.getLogger("kazoo.client").setLevel(logging.WARNING)
    log = logging.getLogger("midonet-cluster")

    metrics = ClusterMetrics()
    endpoint = None
    if CONF.cluster.metrics_port:
        # Before ZooKeeper: a node that cannot reach it is exactly one to scrape.
        endpoint = metrics_endpoint.serve(metrics.registry, CONF.cluster.metrics_listen_address,
                                          CONF.cluster.metrics_port)
    zk = _eventlet_client(CONF.zookeeper.zookeeper_hosts, CONF.zookeeper.session_timeout)
    _watch_session(zk, metrics.zookeeper_connected)
    start_with_retry(zk, retry_interval=CONF.zookeeper.connect_retry_interval)
    metrics.zookeeper_connected.set(1 if zk.connected else 0)
    context = ClusterContext(CONF, zk, Paths(CONF.zookeeper.root_key), metrics)
    watch_gc_pauses(metrics)
    node = ClusterNode(context)
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        log.info("signal %d: stopping", signum)
        stop.set()

    def on_usr1(signum: int, frame: object) -> None:
        log.info("health %s", json.dumps(node.health(), sort_keys=True, default=str))

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGUSR1, on_usr1)
    node.start()
    log.info("midonet-cluster running: %s", ", ".join(s.name for s in node.running) or "idle")
    while not stop.wait(1.0):
        pass
    node.stop(CONF.cluster.state_proxy_server_shutdown_timeout)
    zk.stop()
    zk.close()
    if endpoint is not None:
        endpoint.stop()
    log.info("midonet-cluster stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
