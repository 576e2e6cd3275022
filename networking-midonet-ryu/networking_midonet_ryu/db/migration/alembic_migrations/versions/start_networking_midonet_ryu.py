"""The root of the subproject's history: both branches start here.

Revision ID: start_networking_midonet_ryu
Revises: None
"""

# revision identifiers, used by Alembic.
revision = 'start_networking_midonet_ryu'
down_revision = None


def upgrade():
    pass
