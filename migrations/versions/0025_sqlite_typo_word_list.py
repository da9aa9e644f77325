"""typos on SQLite: the word list of titles and brand names, with an FTS5 trigram index

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-02 15:00:00.000000

"""

from alembic import op

from campaign.models.search_index import downgrade_search_index_0025, upgrade_search_index_0025

# revision identifiers, used by Alembic.
revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade():
    # Nothing on PostgreSQL: its word list (with pg_trgm) came with 0022.
    upgrade_search_index_0025(op.get_bind())


def downgrade():
    downgrade_search_index_0025(op.get_bind())
