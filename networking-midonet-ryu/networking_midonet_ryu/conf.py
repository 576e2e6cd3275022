"""The ``[midonet_ryu]`` options of neutron-server.

Registered when the mechanism driver module is imported (Neutron loads it by
entry point before reading the group), and listed for oslo-config-generator
through the ``oslo.config.opts`` entry point.
"""

from __future__ import annotations

from oslo_config import cfg

GROUP = 'midonet_ryu'

OPTS = [
    cfg.StrOpt('cluster_url',
               default='http://127.0.0.1:8181/midonet-api',
               help='Base URL of the midonet-ryu cluster REST API.'),
    cfg.StrOpt('username', default='admin',
               help='User the driver logs in to the cluster as; it needs '
                    'the admin role there.'),
    cfg.StrOpt('password', default='', secret=True,
               help='Password of that user.'),
    cfg.StrOpt('project_id',
               help='Project sent as X-Auth-Project when logging in.'),
    cfg.FloatOpt('request_timeout', default=10.0, min=0.1,
                 help='Seconds to wait for an answer of the cluster.'),
    cfg.FloatOpt('journal_poll_interval', default=0.02, min=0.001,
                 help='Seconds between two looks at the journal table when '
                      'nothing woke the journal worker; a commit in the '
                      'worker process itself wakes it at once.'),
    cfg.FloatOpt('retry_interval', default=0.5, min=0.01,
                 help='First wait after the cluster was unreachable; it '
                      'doubles on each further failure.'),
    cfg.FloatOpt('max_retry_interval', default=10.0, min=0.01,
                 help='Longest wait between two attempts while the cluster '
                      'is unreachable.'),
    cfg.FloatOpt('sync_interval', default=600.0, min=0,
                 help='Seconds between two full syncs of every Neutron '
                      'resource to the cluster; 0 disables them.'),
    cfg.FloatOpt('status_timeout', default=20.0, min=0,
                 help='Seconds the port status long poll may wait at the '
                      'cluster (which caps it at 30).'),
    cfg.FloatOpt('hosts_cache_time', default=10.0, min=0,
                 help='Seconds the list of hosts running a midonet-ryu '
                      'agent is trusted when binding ports.'),
    cfg.IntOpt('journal_keep_done', default=1000, min=0,
               help='Done journal rows kept for inspection (the newest).'),
    cfg.IntOpt('journal_done_max_age', default=86400, min=0,
               help='Seconds after which a done journal row is deleted.'),
]


def register_opts(conf: cfg.ConfigOpts = cfg.CONF) -> None:
    """Register the group on ``conf``; safe to call more than once."""
    conf.register_opts(OPTS, group=GROUP)


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    return [(GROUP, list(OPTS))]


def options(conf: cfg.ConfigOpts = cfg.CONF) -> cfg.ConfigOpts.GroupAttr:
    """The registered group, registering it first when needed."""
    try:
        return getattr(conf, GROUP)
    except cfg.NoSuchOptError:
        register_opts(conf)
        return getattr(conf, GROUP)
