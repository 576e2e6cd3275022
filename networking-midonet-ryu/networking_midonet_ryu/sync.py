"""Full sync: every Neutron resource to ``POST /neutron/sync``.

The journal carries each change once; the full sync is the repair for what
the journal cannot see: a cluster that lost or changed state on its own, a
gap between a Neutron commit and a journal row written after it (address
groups, whose changes Neutron publishes only after committing), a row that
failed and was fixed by hand. The cluster compares and repairs; this side
only reads and sends.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from neutron_lib import context as n_context

from networking_midonet_ryu import snapshots
from networking_midonet_ryu.client import ClusterClient

REPORT_KEYS = ('created', 'updated', 'deleted', 'failed')


def full_sync(client: ClusterClient, context: Any = None, dry_run: bool = False) -> Any:
    """Send every resource; answer the cluster's report."""
    context = context or n_context.get_admin_context()
    return client.sync(snapshots.everything(context), dry_run=dry_run)


def format_report(report: Any, dry_run: bool = False) -> str:
    """The report as lines an operator reads: a count per kind, then each item."""
    if not isinstance(report, Mapping):
        return f'unexpected answer: {report!r}'
    lines = []
    verb = 'would be ' if dry_run else ''
    for key in REPORT_KEYS:
        items = report.get(key) or []
        lines.append(f'{verb}{key}: {len(items)}')
        lines.extend(f'  {_item(item)}' for item in items)
    return '\n'.join(lines)


def _item(item: Any) -> str:
    if isinstance(item, Mapping):
        name = item.get('resource') or item.get('id') or ''
        reason = item.get('reason') or item.get('message')
        return f'{name}: {reason}' if reason else str(name or dict(item))
    return str(item)
