"""privacy

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 19:18:00.907632

"""

import sqlalchemy as sa
from alembic import op

import campaign.models.base

# revision identifiers, used by Alembic.
revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("anonymised_at", campaign.models.base.UTCDateTime(timezone=True), nullable=True)
        )

    with op.batch_alter_table("supports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("consent_text", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("anonymised_at", campaign.models.base.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade():
    with op.batch_alter_table("supports", schema=None) as batch_op:
        batch_op.drop_column("anonymised_at")
        batch_op.drop_column("consent_text")

    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_column("anonymised_at")
