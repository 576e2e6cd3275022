"""``midonet-ryu-neutron-sync``: one full sync now, or the journal's failures.

It reads Neutron's configuration as neutron-db-manage does (``neutron.conf``
where oslo.config finds it, ``/etc/neutron/plugins/ml2/ml2_conf.ini`` too,
unless ``--config-file`` names the files), loads the plugins, sends every resource to the
cluster and prints its report. Exit status 0 when the cluster applied (or,
with ``--dry-run``, would apply) everything, 1 otherwise.

``--journal`` instead lists the journal rows the cluster refused, with its
reasons, for an operator to fix and then sync.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence

from oslo_config import cfg

CLI_OPTS = [
    cfg.BoolOpt('dry-run', default=False,
                help='Ask the cluster what it would change, change nothing.'),
    cfg.BoolOpt('journal', default=False,
                help='List the failed journal rows instead of syncing.'),
]


ML2_CONF = '/etc/neutron/plugins/ml2/ml2_conf.ini'


def _default_config_files() -> list[str]:
    """neutron.conf where oslo.config looks for it, and ML2's file beside it."""
    files = list(cfg.find_config_files(project='neutron'))
    if os.path.exists(ML2_CONF):
        files.append(ML2_CONF)
    return files


def _load_config(argv: Sequence[str]) -> cfg.ConfigOpts:
    from neutron.common import config as neutron_config

    from networking_midonet_ryu import conf

    cfg.CONF.register_cli_opts(CLI_OPTS)
    conf.register_opts(cfg.CONF)
    neutron_config.register_common_config_options()
    neutron_config.init(list(argv), default_config_files=_default_config_files())
    neutron_config.setup_logging()
    neutron_config.set_config_defaults()
    return cfg.CONF


def list_failed() -> int:
    from neutron_lib import context as n_context

    from networking_midonet_ryu.db.journal import DbJournalStore

    rows = DbJournalStore().failed(n_context.get_admin_context())
    for row in rows:
        print(f'{row.id}\t{row.updated_at:%Y-%m-%d %H:%M:%S}\t{row.operation} '
              f'{row.resource}/{row.resource_id}\tattempts={row.attempts}\t{row.last_error}')
    print(f'{len(rows)} failed journal rows')
    return 0


def run_sync(dry_run: bool) -> int:
    from neutron import manager

    from networking_midonet_ryu import conf
    from networking_midonet_ryu import sync as full_sync
    from networking_midonet_ryu.client import ClusterClient, ClusterError

    manager.init()
    client = ClusterClient.from_conf(conf.options())
    try:
        report = full_sync.full_sync(client, dry_run=dry_run)
    except ClusterError as exc:
        print(f'full sync failed: {exc}', file=sys.stderr)
        return 1
    print(full_sync.format_report(report, dry_run))
    if not isinstance(report, Mapping) or report.get('failed'):
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    config = _load_config(sys.argv[1:] if argv is None else argv)
    if config.journal:
        return list_failed()
    return run_sync(config.dry_run)


if __name__ == '__main__':
    sys.exit(main())
