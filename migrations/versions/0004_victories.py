"""victories

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 18:44:59.296253

"""

import sqlalchemy as sa
from alembic import op

import campaign.models.base

# revision identifiers, used by Alembic.
revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("won_at", campaign.models.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("victory_story", sa.Text(), nullable=True))
        batch_op.create_index(batch_op.f("ix_campaigns_won_at"), ["won_at"], unique=False)


def downgrade():
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_campaigns_won_at"))
        batch_op.drop_column("victory_story")
        batch_op.drop_column("won_at")
