"""oslo.config options, one module per group.

Every module exposes ``OPTS``, ``GROUP`` and ``register_opts(conf)``;
``midonet_ryu.conf.opts.list_opts`` feeds ``oslo-config-generator``.
"""
from oslo_config import cfg

CONF = cfg.CONF


def register_all(conf: cfg.ConfigOpts = CONF) -> cfg.ConfigOpts:
    """Register every group on ``conf`` (idempotent) and return it."""
    from midonet_ryu.conf import opts

    for group, options in opts.list_opts():
        conf.register_opts(options, group=group)
    return conf
