"""What a Prometheus scrape of a real midonet-cluster shows about State Proxy traffic.

Real ZooKeeper, a real ``midonet-cluster`` process and raw State API clients
over loopback; ``/metrics`` is fetched over HTTP and parsed with
prometheus-client's own parser, as Prometheus would read it.
"""
import uuid

import pytest
from sp_helpers import RawStateClient, wait_for

from midonet_ryu.nsdb.state_catalogue import MAC_TABLE
from midonet_ryu.nsdb.state_table import StateTable
from midonet_ryu.stateproxy import state_api as m
from tools.lab.cluster import ClusterProcess
from tools.lab.procs import wait_until
from tools.lab.zookeeper import TemporaryZooKeeper

pytestmark = pytest.mark.functional

P = "midonet_cluster_"


def value(families, name, **labels):
    """One sample of a scrape: counters by their family name (without ``_total``)."""
    family = families[P + name]
    for sample in family.samples:
        if sample.name in (family.name, family.name + "_total") and sample.labels == labels:
            return sample.value
    raise KeyError(f"{name}{labels} not in the scrape")


def histogram(families, name, suffix):
    family = families[P + name]
    return next(s.value for s in family.samples if s.name == family.name + suffix)


def test_scrape_counts_clients_subscriptions_and_timed_updates(
        new_client, paths, cluster_factory):
    proxy = cluster_factory(root=paths.root)
    # the State Proxy listens before its start() returns and the node marks it running
    wait_until(lambda: value(proxy.scrape(), "service_running", service="state_proxy") == 1,
               10, what="the cluster to report its State Proxy running")
    first = proxy.scrape()
    assert value(first, "zookeeper_connected") == 1
    # The lab's readiness probe is a connection too: count from here.
    accepted = value(first, "state_proxy_connections_accepted")

    net = uuid.uuid4()
    writer = StateTable(new_client(), paths, MAC_TABLE, net, ("0",))
    clients = [RawStateClient(proxy.port) for _ in range(3)]
    for client in clients:
        client.subscribe(MAC_TABLE, net, ("0",))
        assert isinstance(client.recv().body, m.Acknowledge)
        kind, _, _ = client.recv_update()
        assert kind == m.UpdateType.SNAPSHOT
    updates = 4
    for i in range(updates):
        writer.add(f"aa:00:00:00:00:{i:02x}", uuid.uuid4())
        for client in clients:  # every update reaches every client before the next write
            kind, _, entries = client.recv_update()
            assert kind == m.UpdateType.RELATIVE and len(entries) == 1

    scrape = proxy.scrape()
    assert value(scrape, "state_proxy_connections_accepted") == accepted + 3
    assert value(scrape, "state_proxy_connections") == 3  # the probe has long gone
    assert value(scrape, "state_proxy_subscriptions") == 3
    assert value(scrape, "state_proxy_cached_tables") == 1
    assert value(scrape, "state_proxy_catch_ups", kind="snapshot") == 3
    assert value(scrape, "state_proxy_changes") >= updates
    # One observation per update handed to the subscribers, each one a separate round.
    assert histogram(scrape, "state_proxy_update_seconds", "_count") == updates
    assert histogram(scrape, "state_proxy_update_seconds", "_sum") > 0

    clients.pop().close()
    wait_for(lambda: value(proxy.scrape(), "state_proxy_connections") == 2, timeout=10,
             interval=0.1, what="the closed client to leave the connections gauge")
    clients[0].send_raw(b"\xff" * 16)  # not a frame: the connection is cut and counted
    wait_for(lambda: value(proxy.scrape(), "state_proxy_bad_frames") == 1, timeout=10,
             interval=0.1, what="the bad frame to be counted")
    for client in clients:
        client.close()
    # The health report carries the same numbers for nodes without a reachable endpoint.
    assert proxy.health()["metrics"]["state_proxy.connections_accepted"] == accepted + 3


def test_zookeeper_gauge_drops_while_the_endpoint_keeps_serving():
    zookeeper = TemporaryZooKeeper(min_session_timeout_ms=1000).start()
    proxy = ClusterProcess(zookeeper.hosts, root=f"/test-{uuid.uuid4().hex[:8]}")
    try:
        proxy.start()
        assert value(proxy.scrape(), "zookeeper_connected") == 1
        zookeeper.stop()
        wait_for(lambda: value(proxy.scrape(), "zookeeper_connected") == 0, timeout=20,
                 interval=0.2, what="the ZooKeeper gauge to drop")
    finally:
        proxy.cleanup()
        zookeeper.stop()


def test_metrics_port_zero_serves_nothing(zookeeper, paths, cluster_factory):
    proxy = cluster_factory(root=paths.root, metrics_port=0)
    assert proxy.listening()
    assert "serving metrics" not in proxy.tail(200)
