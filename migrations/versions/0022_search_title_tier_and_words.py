"""search at any size: the title's own vector, and a word list for typos (PostgreSQL)

Revision ID: 0022
Revises: 0018
Create Date: 2026-12-02 07:00:00.000000

"""

from alembic import op

from campaign.models.search_index import downgrade_search_index_0022, upgrade_search_index_0022

# revision identifiers, used by Alembic.
revision = "0022"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade():
    # Nothing on SQLite: its FTS5 table already has the title and brands as columns.
    upgrade_search_index_0022(op.get_bind())


def downgrade():
    downgrade_search_index_0022(op.get_bind())
