"""[cluster]: the midonet-cluster daemon and its services.

Each service found through the ``midonet_ryu.cluster.services`` entry points is
switched by ``<name>_enabled`` (MidoNet's ``cluster.<name>.enabled``). The State
Proxy service's options are MidoNet's ``state_proxy.cluster.*`` flattened with
a ``state_proxy_`` prefix, e.g. ``state_proxy.cluster.server.port`` ->
``state_proxy_server_port``.
"""
from oslo_config import cfg

GROUP = "cluster"

OPTS = [
    cfg.BoolOpt(
        "state_proxy_enabled",
        default=True,
        help="Run the State Proxy service on this cluster node "
        "(MidoNet: cluster.state_proxy.enabled).",
    ),
    cfg.IntOpt(
        "state_proxy_cache_threads",
        default=4,
        min=1,
        help="Workers that apply ZooKeeper changes to table caches and fan them out; "
        "tables are spread over them.",
    ),
    cfg.IntOpt(
        "state_proxy_notify_batch_size",
        default=64,
        min=1,
        help="Most entries in one notification message; larger updates are split "
        "into begin/end batches.",
    ),
    cfg.IntOpt(
        "state_proxy_initial_subscriber_queue_size",
        default=16,
        min=1,
        help="Initial capacity (messages) of a connection's outgoing queue; it doubles "
        "when full, up to state_proxy_max_subscriber_queue_size.",
    ),
    cfg.IntOpt(
        "state_proxy_max_subscriber_queue_size",
        default=1024,
        min=1,
        help="Cap of a connection's outgoing queue (messages of at most "
        "notify_batch_size entries). A subscriber that falls this far behind stops "
        "receiving individual updates and is resynchronised once it drains, with "
        "the changes since its last version or a snapshot.",
    ),
    cfg.IntOpt(
        "state_proxy_change_log_size",
        default=65536,
        min=0,
        help="Changes remembered per table for differential (re)subscription with "
        "last_version; older versions get a snapshot.",
    ),
    cfg.FloatOpt(
        "state_proxy_cache_linger",
        default=30.0,
        min=0.0,
        help="Seconds a table cache outlives its last subscriber, so clients that "
        "reconnect (to this proxy) resume with a diff instead of a snapshot.",
    ),
    cfg.FloatOpt(
        "state_proxy_nsdb_grace",
        default=5.0,
        min=0.0,
        help="Seconds a table cache waits for ZooKeeper to come back before it ends "
        "its subscriptions with Completed(NSDB_ERROR).",
    ),
    cfg.HostAddressOpt(
        "state_proxy_server_address",
        default="0.0.0.0",
        help="Local address the State Proxy listens on.",
    ),
    cfg.StrOpt(
        "state_proxy_advertise_address",
        help="Address registered for discovery (default: the listening address, or "
        "this host's name when listening on every address).",
    ),
    cfg.PortOpt("state_proxy_server_port", default=2346, help="State Proxy TCP port."),
    cfg.IntOpt(
        "state_proxy_server_supervisor_threads",
        default=1,
        min=1,
        help="Threads accepting inbound connections.",
    ),
    cfg.IntOpt(
        "state_proxy_server_worker_threads",
        default=4,
        min=1,
        help="Threads handling client requests (connections are spread over them).",
    ),
    cfg.IntOpt(
        "state_proxy_server_max_pending_connections",
        default=1024,
        min=1,
        help="Listen backlog: half-open incoming connections.",
    ),
    cfg.FloatOpt(
        "state_proxy_server_bind_retry_interval",
        default=60.0,
        min=0.0,
        help="Seconds between bind attempts while the port is in use; 0 disables retries.",
    ),
    cfg.FloatOpt(
        "state_proxy_server_channel_timeout",
        default=15.0,
        min=0.1,
        help="Timeout of a channel operation: a write blocked this long (a subscriber "
        "that stopped reading) closes the connection.",
    ),
    cfg.FloatOpt(
        "state_proxy_server_shutdown_quiet_period",
        default=0.0,
        min=0.0,
        help="Seconds during shutdown in which new connections and requests are still "
        "served; each one restarts the period.",
    ),
    cfg.FloatOpt(
        "state_proxy_server_shutdown_timeout",
        default=15.0,
        min=0.0,
        help="Seconds, after the quiet period, given to in-flight work before the "
        "server closes.",
    ),
    cfg.IntOpt(
        "state_proxy_max_subscriptions_per_connection",
        default=100000,
        min=1,
        help="Subscriptions one connection may hold; more get INVALID_ARGUMENT.",
    ),
    cfg.BoolOpt(
        "rest_api_enabled",
        default=True,
        help="Run the REST API service on this cluster node (MidoNet: "
        "cluster.rest_api.enabled).",
    ),
    cfg.HostAddressOpt(
        "rest_api_listen_address",
        default="0.0.0.0",
        help="Address the REST API listens on.",
    ),
    cfg.PortOpt(
        "rest_api_port",
        default=8181,
        help="REST API TCP port (MidoNet: cluster.rest_api.http_port); 0 takes any free "
        "port (tests), registered for discovery.",
    ),
    cfg.StrOpt(
        "rest_api_base_path",
        default="/midonet-api",
        help="Path under which the API is served (MidoNet: cluster.rest_api.root_uri).",
    ),
    cfg.IntOpt(
        "rest_api_max_body_size",
        default=1048576,
        min=1024,
        help="Largest request body accepted, in bytes; larger ones are answered 413.",
    ),
    cfg.IntOpt(
        "rest_api_max_connections",
        default=256,
        min=1,
        help="Requests served at once; more wait in the listen backlog.",
    ),
    cfg.FloatOpt(
        "rest_api_socket_timeout",
        default=30.0,
        min=0.1,
        help="Seconds a client may stall a request before its connection is dropped.",
    ),
    cfg.HostAddressOpt(
        "metrics_listen_address",
        default="127.0.0.1",
        help="Address the cluster daemon serves Prometheus metrics on (GET /metrics); "
        "loopback by default, so exposing them is a choice.",
    ),
    cfg.PortOpt(
        "metrics_port",
        default=7301,
        help="Port of the cluster daemon's Prometheus endpoint; 0 disables it.",
    ),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_opts(OPTS, group=GROUP)
