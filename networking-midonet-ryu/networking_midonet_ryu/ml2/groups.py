"""Journal hooks for security groups, their rules, and address groups.

Security groups and rules (Neutron's ``SecurityGroupDbMixin``) publish
PRECOMMIT_CREATE / PRECOMMIT_UPDATE / PRECOMMIT_DELETE inside their
transactions; the row is recorded there. The cluster rebuilds a group's
chains from its whole rule list, so a rule created or deleted is journaled
as an upsert of its group, re-read in that same session (a rule's delete
precommit runs before the row is gone, so that rule is left out).

Address groups (``AddressGroupDbMixin`` in Neutron 29) publish no PRECOMMIT
event, and no transaction encloses the events they do publish: each OVO
create/update commits on its own and AFTER_CREATE / AFTER_UPDATE /
AFTER_DELETE follow. Those AFTER events are the closest point, so the row is
recorded there in a transaction of its own (or in the caller's, when there
is one). A crash between Neutron's commit and that one loses the row; the
periodic full sync repairs it.
"""

from __future__ import annotations

from typing import Any

from neutron_lib.callbacks import events, priority_group, registry, resources

from networking_midonet_ryu import snapshots
from networking_midonet_ryu.db import journal
from networking_midonet_ryu.db.models import DELETE, UPSERT
from networking_midonet_ryu.journal.worker import notify

# After every other subscriber: they may still change the resource.
LATE = priority_group.PRIORITY_DEFAULT + 1000


def _record_group(context: Any, sg_id: str, without_rule: str | None = None) -> None:
    group = snapshots.security_group(context, sg_id, without_rule=without_rule)
    if group is None:
        return
    journal.record(context, snapshots.SECURITY_GROUPS, sg_id, UPSERT, group)


def security_group_changed(resource: str, event: str, trigger: Any, payload: Any) -> None:
    _record_group(payload.context, payload.resource_id)


def security_group_deleted(resource: str, event: str, trigger: Any, payload: Any) -> None:
    journal.record(payload.context, snapshots.SECURITY_GROUPS, payload.resource_id, DELETE)


def rule_created(resource: str, event: str, trigger: Any, payload: Any) -> None:
    rule = payload.latest_state
    _record_group(payload.context, rule['security_group_id'])


def rule_deleted(resource: str, event: str, trigger: Any, payload: Any) -> None:
    _record_group(payload.context, payload.metadata['security_group_id'],
                  without_rule=payload.resource_id)


def address_group_changed(resource: str, event: str, trigger: Any, payload: Any) -> None:
    group = snapshots.address_group(payload.context, payload.resource_id)
    if group is not None:
        journal.record(payload.context, snapshots.ADDRESS_GROUPS, payload.resource_id,
                       UPSERT, group)
        notify()


def address_group_deleted(resource: str, event: str, trigger: Any, payload: Any) -> None:
    journal.record(payload.context, snapshots.ADDRESS_GROUPS, payload.resource_id, DELETE)
    notify()


def committed(resource: str, event: str, trigger: Any, payload: Any = None) -> None:
    notify()


def subscribe() -> None:
    sg, rule, ag = (resources.SECURITY_GROUP, resources.SECURITY_GROUP_RULE,
                    resources.ADDRESS_GROUP)
    registry.subscribe(security_group_changed, sg, events.PRECOMMIT_CREATE, priority=LATE)
    registry.subscribe(security_group_changed, sg, events.PRECOMMIT_UPDATE, priority=LATE)
    registry.subscribe(security_group_deleted, sg, events.PRECOMMIT_DELETE, priority=LATE)
    registry.subscribe(rule_created, rule, events.PRECOMMIT_CREATE, priority=LATE)
    registry.subscribe(rule_deleted, rule, events.PRECOMMIT_DELETE, priority=LATE)
    for res in (sg, rule):
        for event in (events.AFTER_CREATE, events.AFTER_UPDATE, events.AFTER_DELETE):
            registry.subscribe(committed, res, event, priority=LATE)
    registry.subscribe(address_group_changed, ag, events.AFTER_CREATE, priority=LATE)
    registry.subscribe(address_group_changed, ag, events.AFTER_UPDATE, priority=LATE)
    registry.subscribe(address_group_deleted, ag, events.AFTER_DELETE, priority=LATE)
