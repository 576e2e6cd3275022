"""Start of the contract branch: nothing to remove yet.

Revision ID: f382d99ea9a6
Revises: start_networking_midonet_ryu
Create Date: 2026-06-01 00:00:00
"""

from neutron.db.migration import cli

# revision identifiers, used by Alembic.
revision = 'f382d99ea9a6'
down_revision = 'start_networking_midonet_ryu'
branch_labels = (cli.CONTRACT_BRANCH,)


def upgrade():
    pass
