"""The journal table.

Revision ID: e1ea33c2c29d
Revises: start_networking_midonet_ryu
Create Date: 2026-06-01 00:00:00
"""

import sqlalchemy as sa
from alembic import op
from neutron.db.migration import cli
from sqlalchemy.dialects import mysql

# revision identifiers, used by Alembic.
revision = 'e1ea33c2c29d'
down_revision = 'start_networking_midonet_ryu'
branch_labels = (cli.EXPAND_BRANCH,)


def upgrade():
    op.create_table(
        'midonet_ryu_journal',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                  primary_key=True, autoincrement=True),
        sa.Column('resource', sa.String(64), nullable=False),
        sa.Column('resource_id', sa.String(64), nullable=False),
        sa.Column('operation', sa.String(16), nullable=False),
        sa.Column('data', sa.Text().with_variant(mysql.MEDIUMTEXT(), 'mysql', 'mariadb'),
                  nullable=True),
        sa.Column('state', sa.String(16), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        mysql_engine='InnoDB',
    )
    op.create_index('ix_midonet_ryu_journal_state_id', 'midonet_ryu_journal',
                    ['state', 'id'])
