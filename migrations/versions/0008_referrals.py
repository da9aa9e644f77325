"""referrals

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 19:29:35.112177

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("supports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("referral", sa.String(length=40), nullable=True))


def downgrade():
    with op.batch_alter_table("supports", schema=None) as batch_op:
        batch_op.drop_column("referral")
