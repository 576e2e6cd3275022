"""The cluster framework: services found by entry point, switched by config."""
from oslo_config import cfg

from cluster_proxy.framework import ClusterContext, ClusterNode, ClusterService, discover_services
from midonet_ryu.conf import cluster as cluster_conf
from midonet_ryu.conf import state_proxy as state_proxy_conf
from midonet_ryu.nsdb.paths import Paths


class Recording(ClusterService):
    log: list = []

    def start(self):
        self.log.append(("start", self.name))

    def stop(self, timeout):
        self.log.append(("stop", self.name))


class Broken(ClusterService):
    def start(self):
        raise RuntimeError("cannot start")

    def stop(self, timeout):
        pass


def make_conf(**overrides):
    conf = cfg.ConfigOpts()
    cluster_conf.register_opts(conf)
    state_proxy_conf.register_opts(conf)
    conf([], default_config_files=[])
    for name, value in overrides.items():
        conf.set_override(name, value, group="cluster")
    return conf


def test_state_proxy_is_registered_as_an_entry_point():
    from cluster_proxy.state_proxy import StateProxyService
    assert discover_services()["state_proxy"] is StateProxyService


def test_enabled_services_start_in_order_and_stop_in_reverse():
    Recording.log = []
    conf = make_conf(state_proxy_enabled=False)
    node = ClusterNode(ClusterContext(conf, zk=None, paths=Paths()),
                       {"b_addon": Recording, "a_addon": Recording, "state_proxy": Recording})
    node.start()
    node.stop()
    assert Recording.log == [("start", "a_addon"), ("start", "b_addon"),
                             ("stop", "b_addon"), ("stop", "a_addon")]


def test_options_have_midonets_defaults():
    conf = make_conf()
    c, s = conf.cluster, conf.state_proxy
    assert (c.state_proxy_cache_threads, c.state_proxy_notify_batch_size,
            c.state_proxy_initial_subscriber_queue_size, c.state_proxy_server_port,
            c.state_proxy_server_max_pending_connections) == (4, 64, 16, 2346, 1024)
    assert (c.state_proxy_server_bind_retry_interval, c.state_proxy_server_channel_timeout,
            c.state_proxy_server_shutdown_quiet_period,
            c.state_proxy_server_shutdown_timeout) == (60, 15, 0, 15)
    assert (s.enabled, s.soft_reconnect_delay, s.max_soft_reconnect_attempts,
            s.hard_reconnect_delay, s.network_threads) == (True, 1, 30, 30, 2)


def test_a_service_failing_to_start_stops_those_already_started():
    import pytest

    Recording.log = []
    node = ClusterNode(ClusterContext(make_conf(), zk=None, paths=Paths()),
                       {"a_addon": Recording, "b_broken": Broken})
    with pytest.raises(RuntimeError):
        node.start()
    assert Recording.log == [("start", "a_addon"), ("stop", "a_addon")]
    assert node.running == []


class FakeZk:
    state = "CONNECTED"


def test_services_running_gauge_follows_start_and_stop_and_health_embeds_the_metrics():
    from midonet_ryu.metrics import ClusterCounter, ClusterMetrics

    Recording.log = []
    metrics = ClusterMetrics()
    node = ClusterNode(ClusterContext(make_conf(), zk=FakeZk(), paths=Paths(), metrics=metrics),
                       {"a_addon": Recording})
    node.start()
    metrics.inc(ClusterCounter.SLOW_DISCONNECTS)
    health = node.health()
    assert health["nsdb"] == "CONNECTED"
    assert health["metrics"]["service.running{service=a_addon}"] == 1
    assert health["metrics"]["state_proxy.slow_disconnects"] == 1
    node.stop()
    assert metrics.snapshot()["service.running{service=a_addon}"] == 0


def test_a_service_that_fails_to_start_is_reported_not_running():
    import pytest

    from midonet_ryu.metrics import ClusterMetrics

    metrics = ClusterMetrics()
    node = ClusterNode(ClusterContext(make_conf(), zk=None, paths=Paths(), metrics=metrics),
                       {"a_addon": Recording, "b_broken": Broken})
    with pytest.raises(RuntimeError):
        node.start()
    snap = metrics.snapshot()
    assert snap["service.running{service=b_broken}"] == 0
    assert snap["service.running{service=a_addon}"] == 0


def test_gc_pauses_are_counted_by_generation():
    import gc

    from cluster_proxy.framework import watch_gc_pauses
    from midonet_ryu.metrics import ClusterMetrics

    metrics = ClusterMetrics()
    before = list(gc.callbacks)
    watch_gc_pauses(metrics)
    try:
        gc.collect(2)
    finally:
        gc.callbacks[:] = before
    assert metrics.gc_collections.counts["2"] >= 1
    assert metrics.gc_max_pause_seconds > 0
