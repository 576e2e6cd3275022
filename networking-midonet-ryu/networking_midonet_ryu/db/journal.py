"""Writing and reading the journal table.

``record`` is called from inside Neutron's own transactions (ML2 precommit,
the precommit callbacks of security groups, routers and floating IPs); the
other functions are the worker's, each in its own short transaction.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from neutron_lib.db import api as db_api

from networking_midonet_ryu.db import models
from networking_midonet_ryu.db.models import MidonetRyuJournal

# Where record() remembers the row it added last in the current transaction.
_LAST_ROW = 'midonet_ryu_journal_last'


@dataclass(frozen=True)
class Entry:
    """A journal row as the sender sees it: detached from any session."""

    id: int
    resource: str
    resource_id: str
    operation: str
    data: str | None
    attempts: int = 0
    state: str = models.PENDING
    last_error: str | None = None
    updated_at: datetime.datetime | None = None


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    if isinstance(value, uuid.UUID | ipaddress.IPv4Address | ipaddress.IPv6Address):
        return str(value)
    # netaddr's IPAddress/IPNetwork and Neutron's AuthenticIPNetwork print
    # the way the API shows them.
    return str(value)


def encode(resource: Mapping[str, Any]) -> str:
    return json.dumps(resource, default=_json_default, sort_keys=True)


def _to_entry(row: MidonetRyuJournal) -> Entry:
    return Entry(id=row.id, resource=row.resource, resource_id=row.resource_id,
                 operation=row.operation, data=row.data, attempts=row.attempts,
                 state=row.state, last_error=row.last_error, updated_at=row.updated_at)


def record(context: Any, resource: str, resource_id: str, operation: str,
           data: Mapping[str, Any] | None = None) -> None:
    """Add a row to the caller's transaction (or to a new one when there is none).

    Two upserts of the same resource in a row within one transaction (each
    rule of a bulk security group rule create re-sends its group) become one
    row holding the later state; anything recorded in between keeps them
    apart, so the order the cluster sees never changes.
    """
    if operation not in models.OPERATIONS:
        raise ValueError(f'unknown journal operation {operation!r}')
    text = None if data is None else encode(data)
    with db_api.CONTEXT_WRITER.using(context):
        session = context.session
        root = session.get_transaction()
        last = session.info.get(_LAST_ROW)
        if (last is not None and last[0] is root and operation == models.UPSERT
                and last[1].operation == models.UPSERT
                and (last[1].resource, last[1].resource_id) == (resource, resource_id)):
            last[1].data = text
            return
        row = MidonetRyuJournal(resource=resource, resource_id=resource_id,
                                operation=operation, data=text, state=models.PENDING,
                                attempts=0)
        session.add(row)
        session.info[_LAST_ROW] = (root, row)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


class DbJournalStore:
    """The journal as the sender uses it; every call is its own transaction."""

    def pending(self, context: Any, limit: int) -> list[Entry]:
        with db_api.CONTEXT_READER.using(context):
            rows = (context.session.query(MidonetRyuJournal)
                    .filter(MidonetRyuJournal.state == models.PENDING)
                    .order_by(MidonetRyuJournal.id).limit(limit).all())
            return [_to_entry(row) for row in rows]

    def count_pending(self, context: Any) -> int:
        with db_api.CONTEXT_READER.using(context):
            return int(context.session.query(sa.func.count(MidonetRyuJournal.id))
                       .filter(MidonetRyuJournal.state == models.PENDING).scalar() or 0)

    def _update(self, context: Any, row_id: int, values: dict[str, Any]) -> None:
        values['updated_at'] = _now()
        with db_api.CONTEXT_WRITER.using(context):
            (context.session.query(MidonetRyuJournal)
             .filter(MidonetRyuJournal.id == row_id)
             .update(values, synchronize_session=False))

    def mark_done(self, context: Any, entry: Entry) -> None:
        self._update(context, entry.id, {'state': models.DONE, 'attempts': entry.attempts + 1,
                                         'last_error': None})

    def mark_failed(self, context: Any, entry: Entry, error: str) -> None:
        self._update(context, entry.id, {'state': models.FAILED,
                                         'attempts': entry.attempts + 1,
                                         'last_error': error})

    def mark_retry(self, context: Any, entry: Entry, error: str) -> None:
        self._update(context, entry.id, {'attempts': entry.attempts + 1,
                                         'last_error': error})

    def failed(self, context: Any, limit: int = 1000) -> list[Entry]:
        with db_api.CONTEXT_READER.using(context):
            rows = (context.session.query(MidonetRyuJournal)
                    .filter(MidonetRyuJournal.state == models.FAILED)
                    .order_by(MidonetRyuJournal.id).limit(limit).all())
            return [_to_entry(row) for row in rows]

    def purge_done(self, context: Any, keep: int, max_age: float) -> int:
        """Delete done rows older than ``max_age`` seconds or beyond the newest ``keep``.

        Failed rows stay until an operator looks at them.
        """
        table = MidonetRyuJournal
        cutoff = _now() - datetime.timedelta(seconds=max_age)
        with db_api.CONTEXT_WRITER.using(context):
            session = context.session
            done = table.state == models.DONE
            boundary = (session.query(table.id).filter(done).order_by(table.id.desc())
                        .offset(keep).limit(1).scalar())
            condition = table.updated_at < cutoff
            if boundary is not None:
                condition = sa.or_(condition, table.id <= boundary)
            return int(session.query(table).filter(done, condition)
                       .delete(synchronize_session=False))
