"""supports: a partial index of the reasons anyone may read

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-03 13:15:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

# As campaign.models.support's REASON_IS_PUBLIC renders today, on each engine (a
# migration keeps its own copy; SQLite uses a partial index only for a query whose
# conditions are written the same way).
_CONDITION = (
    "is_public IS {true} AND comment IS NOT NULL AND confirmed_at IS NOT NULL AND withdrawn_at IS NULL"
    " AND anonymised_at IS NULL AND reason_hidden_at IS NULL"
)


def upgrade():
    op.create_index(
        "ix_supports_public_reasons",
        "supports",
        ["campaign_id", "confirmed_at", "id"],
        unique=False,
        sqlite_where=sa.text(_CONDITION.format(true="1")),
        postgresql_where=sa.text(_CONDITION.format(true="true")),
    )


def downgrade():
    op.drop_index("ix_supports_public_reasons", table_name="supports")
