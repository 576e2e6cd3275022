"""The journal table: what Neutron committed and the cluster must be told.

A row is written in the same database transaction as the change it records,
so a change the database kept is never lost on the way to the cluster, and a
change rolled back never reaches it.
"""

from __future__ import annotations

import datetime

import sqlalchemy as sa
from neutron_lib.db import model_base
from sqlalchemy import orm
from sqlalchemy.dialects import mysql

TABLE = 'midonet_ryu_journal'

UPSERT = 'upsert'
DELETE = 'delete'
OPERATIONS = (UPSERT, DELETE)

PENDING = 'pending'
DONE = 'done'
FAILED = 'failed'
STATES = (PENDING, DONE, FAILED)

# SQLite makes only an INTEGER PRIMARY KEY autoincrement.
_ROW_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
# A security group with its rules can outgrow MySQL's 64 KiB TEXT.
_LARGE_TEXT = sa.Text().with_variant(mysql.MEDIUMTEXT(), 'mysql', 'mariadb')


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


class MidonetRyuJournal(model_base.BASEV2):
    """One change to send: a whole resource to upsert, or a delete."""

    __tablename__ = TABLE
    __table_args__ = (
        sa.Index('ix_midonet_ryu_journal_state_id', 'state', 'id'),
        model_base.BASEV2.__table_args__,
    )

    id: orm.Mapped[int] = orm.mapped_column(_ROW_ID, primary_key=True, autoincrement=True)
    resource: orm.Mapped[str] = orm.mapped_column(sa.String(64), nullable=False)
    resource_id: orm.Mapped[str] = orm.mapped_column(sa.String(64), nullable=False)
    operation: orm.Mapped[str] = orm.mapped_column(sa.String(16), nullable=False)
    data: orm.Mapped[str | None] = orm.mapped_column(_LARGE_TEXT, nullable=True)
    state: orm.Mapped[str] = orm.mapped_column(sa.String(16), nullable=False, default=PENDING)
    attempts: orm.Mapped[int] = orm.mapped_column(sa.Integer, nullable=False, default=0)
    last_error: orm.Mapped[str | None] = orm.mapped_column(sa.Text, nullable=True)
    created_at: orm.Mapped[datetime.datetime] = orm.mapped_column(
        sa.DateTime, nullable=False, default=_utcnow)
    updated_at: orm.Mapped[datetime.datetime] = orm.mapped_column(
        sa.DateTime, nullable=False, default=_utcnow, onupdate=_utcnow)


def ensure_table_in_memory_db(engine: sa.engine.Engine) -> None:
    """Create the table in an in-memory SQLite database that lacks it.

    Neutron's unit tests build their database once per process from the
    models imported by then; a test that names the driver only by its entry
    point imports this module later. Real databases get the table from
    ``neutron-db-manage``, never from here.
    """
    if engine.dialect.name == 'sqlite' and engine.url.database in (None, '', ':memory:'):
        MidonetRyuJournal.__table__.create(engine, checkfirst=True)
