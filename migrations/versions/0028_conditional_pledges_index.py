"""supports: a partial index of conditional pledges

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-05 09:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None

# As campaign.models.support's CONDITIONAL renders, on both engines (a migration keeps its
# own copy; SQLite uses a partial index only for a query whose conditions say the same).
_CONDITION = "condition_threshold IS NOT NULL"


def upgrade():
    op.create_index(
        "ix_supports_conditional",
        "supports",
        ["campaign_id", "condition_threshold"],
        unique=False,
        sqlite_where=sa.text(_CONDITION),
        postgresql_where=sa.text(_CONDITION),
    )


def downgrade():
    op.drop_index("ix_supports_conditional", table_name="supports")
