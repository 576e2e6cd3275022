"""[zookeeper]: how every process reaches the NSDB.

Names and defaults are MidoNet's, so operators can carry their settings over.
"""
from oslo_config import cfg

GROUP = "zookeeper"

OPTS = [
    cfg.StrOpt(
        "zookeeper_hosts",
        default="127.0.0.1:2181",
        help="Comma-separated host:port list of the ZooKeeper ensemble.",
    ),
    cfg.IntOpt(
        "session_timeout",
        default=30000,
        min=1000,
        help="ZooKeeper session timeout in milliseconds.",
    ),
    cfg.IntOpt(
        "session_gracetime",
        default=30000,
        min=0,
        help="Milliseconds a process keeps working on cached state after losing its "
        "ZooKeeper connection before it reports itself degraded. Unlike MidoNet, the "
        "agent never shuts down when this expires: it keeps forwarding and re-creates "
        "its session.",
    ),
    cfg.StrOpt(
        "root_key",
        default="/midonet",
        help="ZooKeeper path under which all midonet-ryu data lives.",
    ),
    cfg.FloatOpt(
        "connect_retry_interval",
        default=2.0,
        min=0.1,
        help="Seconds between attempts to reach ZooKeeper at start-up.",
    ),
]
