"""indexes for momentum and trending

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23 19:34:35.759840

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("supports", schema=None) as batch_op:
        batch_op.create_index(
            "ix_supports_campaign_id_confirmed_at", ["campaign_id", "confirmed_at"], unique=False
        )
        batch_op.create_index("ix_supports_confirmed_at", ["confirmed_at"], unique=False)


def downgrade():
    with op.batch_alter_table("supports", schema=None) as batch_op:
        batch_op.drop_index("ix_supports_confirmed_at")
        batch_op.drop_index("ix_supports_campaign_id_confirmed_at")
