"""[state_proxy]: how NSDB clients (the agent) read state tables.

Names and defaults are MidoNet's ``state_proxy.*`` (nsdb.conf), so operators
can carry their settings over. Writes always go straight to ZooKeeper.
"""
from oslo_config import cfg

GROUP = "state_proxy"

OPTS = [
    cfg.BoolOpt(
        "enabled",
        default=True,
        help="Read state tables through the State Proxy service of the cluster. "
        "False: read them straight from ZooKeeper (each change re-reads the table).",
    ),
    cfg.FloatOpt(
        "soft_reconnect_delay",
        default=1.0,
        min=0.01,
        help="Seconds between reconnection attempts in the soft phase, while "
        "subscriptions are kept and other proxies are tried.",
    ),
    cfg.IntOpt(
        "max_soft_reconnect_attempts",
        default=30,
        min=0,
        help="Failed attempts after which the proxy is deemed unavailable: the client "
        "falls back to reading ZooKeeper directly (hard phase).",
    ),
    cfg.FloatOpt(
        "hard_reconnect_delay",
        default=30.0,
        min=0.01,
        help="Seconds between attempts to return to a proxy while reading ZooKeeper "
        "directly.",
    ),
    cfg.IntOpt(
        "network_threads",
        default=2,
        min=1,
        help="Threads that apply updates received from the State Proxy (tables are "
        "spread over them; each table's updates stay in order).",
    ),
    cfg.FloatOpt(
        "connect_timeout",
        default=5.0,
        min=0.1,
        help="Seconds to wait for a TCP connection to a proxy.",
    ),
    cfg.FloatOpt(
        "read_timeout",
        default=10.0,
        min=0.3,
        help="A proxy silent for this many seconds is deemed lost; the client pings "
        "every read_timeout/3 while idle.",
    ),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_opts(OPTS, group=GROUP)
