"""The declared metrics of both daemons, and the endpoint that serves them.

Every metric is declared once in ``midonet_ryu.metrics``; these tests hold the
declarations to what a scraper sees: each one exported with help text, no
name used twice, and the cluster's health keys derived from the same names.
"""
import collections
import logging
import socket
import uuid

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from midonet_ryu.metrics import (
    AGENT_PREFIX,
    CLUSTER_PREFIX,
    AgentCounter,
    AgentMetrics,
    ClusterCounter,
    ClusterMetrics,
)


def families(registry):
    text = generate_latest(registry).decode()
    return list(text_string_to_metric_families(text))


@pytest.mark.parametrize("make, prefix", [(AgentMetrics, AGENT_PREFIX),
                                          (ClusterMetrics, CLUSTER_PREFIX)])
def test_every_declared_metric_is_exported_once_with_help_and_the_daemons_prefix(make, prefix):
    found = families(make().registry)
    names = [f.name for f in found]
    assert len(names) == len(set(names))
    for family in found:
        assert family.name.startswith(prefix + "_"), family.name
        assert family.documentation.strip(), f"{family.name} has no help text"
        if family.name != f"{CLUSTER_PREFIX}_service_running":  # labelled per service
            assert family.samples, f"{family.name} exports no sample before its first event"


def test_every_agent_counter_is_exported():
    names = {f.name for f in families(AgentMetrics().registry)}
    assert {f"{AGENT_PREFIX}_{c.metric_name}" for c in AgentCounter} <= names


def test_every_cluster_metric_is_exported_under_its_declared_name():
    names = {f.name for f in families(ClusterMetrics().registry)}
    counters = {f"{CLUSTER_PREFIX}_{c.metric_name}" for c in ClusterCounter}
    assert counters <= names
    assert {f"{CLUSTER_PREFIX}_{n}" for n in (
        "state_proxy_catch_ups", "gc_collections", "state_proxy_update_seconds",
        "gc_max_pause_seconds", "state_proxy_connections", "state_proxy_subscriptions",
        "state_proxy_cached_tables", "zookeeper_connected")} <= names
    # service_running has a required label: its series appear as services start.
    assert f"{CLUSTER_PREFIX}_service_running" in names


def test_cluster_metrics_get_a_fresh_registry_each():
    """Two in one process (tests, benchmarks) must not share or clash."""
    a, b = ClusterMetrics(), ClusterMetrics()
    a.inc(ClusterCounter.BAD_FRAMES)
    assert a.registry is not b.registry
    assert b.snapshot()["state_proxy.bad_frames"] == 0


def test_cluster_counters_labelled_series_and_snapshot_keys():
    m = ClusterMetrics()
    m.inc(ClusterCounter.CONNECTIONS_ACCEPTED, 2)
    m.catch_ups.inc("diff")
    m.observe_gc_pause(2, 0.030)
    m.observe_gc_pause(0, 0.001)
    m.state_proxy_update_seconds.observe(0.004)
    m.service_running.labels("state_proxy").set(1)
    snap = m.snapshot()
    assert snap["state_proxy.connections_accepted"] == 2
    assert snap["state_proxy.catch_ups{kind=diff}"] == 1
    assert snap["state_proxy.catch_ups{kind=snapshot}"] == 0
    assert snap["gc.collections{generation=2}"] == 1
    assert snap["gc.max_pause_seconds"] == pytest.approx(0.030)
    assert snap["state_proxy.update_seconds_count"] == 1
    assert snap["service.running{service=state_proxy}"] == 1
    assert not any("_bucket" in key for key in snap)
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in families(m.registry) for s in f.samples}
    assert samples[(f"{CLUSTER_PREFIX}_state_proxy_catch_ups_total", (("kind", "diff"),))] == 1
    assert samples[(f"{CLUSTER_PREFIX}_state_proxy_update_seconds_bucket",
                    (("le", "0.005"),))] == 1
    assert samples[(f"{CLUSTER_PREFIX}_state_proxy_update_seconds_bucket",
                    (("le", "0.0025"),))] == 0


def test_an_undeclared_label_value_is_an_error_not_a_new_series():
    with pytest.raises(KeyError):
        ClusterMetrics().catch_ups.inc("full")


def test_table_cache_times_an_update_from_the_watch_to_the_subscribers(monkeypatch):
    """One observation per published round, from the oldest change in the round."""
    from cluster_proxy.state_proxy import cache as cache_mod
    from midonet_ryu.nsdb import state_catalogue as catalogue
    from midonet_ryu.nsdb import state_node_names as node_names
    from midonet_ryu.nsdb.persistent_watch import CREATED

    clock = [100.0]
    monkeypatch.setattr(cache_mod.time, "monotonic", lambda: clock[0])
    metrics = ClusterMetrics()
    cache = cache_mod.TableCache(
        cache_mod.TableKey(catalogue.MAC_TABLE, uuid.UUID(int=1), ("0",)), "/t", 64, 100,
        lambda c: None, metrics)

    class Sub:
        sent_version = None
        lagging = False

        def push(self, fields):
            pass

        def need_catch_up(self):
            pass

    Stat = collections.namedtuple("Stat", "cversion")
    cache.sink(("snapshot", [], Stat(0)))
    cache.process(clock[0])
    sub = Sub()
    sub.sent_version = cache.version
    cache.subscribers.add(sub)

    def name(i):
        return node_names.encode_name(catalogue.MAC_TABLE, f"aa:00:00:00:00:0{i}",
                                      uuid.UUID(int=i), i)

    cache.sink(("child", CREATED, name(1)))
    clock[0] += 0.002
    cache.sink(("child", CREATED, name(2)))  # same round: not re-stamped
    clock[0] += 0.001
    cache.process(clock[0])
    h = metrics.state_proxy_update_seconds
    assert h.n == 1 and h.total == pytest.approx(0.003)
    snap = metrics.snapshot()
    assert snap["state_proxy.changes"] == 2 and snap["state_proxy.zk_child_reads"] == 1


# -- the endpoint ---------------------------------------------------------------------------

def _get(url):
    from eventlet.green.urllib import error, request

    try:
        with request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except error.HTTPError as e:
        return e.code, ""


def test_endpoint_serves_the_registry_at_metrics_only():
    from apps.metrics_endpoint import serve

    m = ClusterMetrics()
    m.inc(ClusterCounter.BAD_REQUESTS, 3)
    server = serve(m.registry, port=0)
    try:
        assert server.host == "127.0.0.1"
        status, text = _get(server.url)
        assert status == 200
        by_name = {f.name: f for f in text_string_to_metric_families(text)}
        assert by_name[f"{CLUSTER_PREFIX}_state_proxy_bad_requests"].samples[0].value == 3
        assert _get(server.url.replace("/metrics", "/"))[0] == 404
    finally:
        server.stop()


def test_endpoint_on_a_taken_port_logs_and_returns_none(caplog):
    from apps.metrics_endpoint import serve

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with caplog.at_level(logging.ERROR, logger="apps.metrics_endpoint"):
            assert serve(ClusterMetrics().registry, port=port) is None
    assert f"cannot listen on 127.0.0.1:{port}" in caplog.text
