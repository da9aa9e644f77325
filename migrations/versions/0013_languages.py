"""languages: the language a member and a supporter read, for the emails sent to them

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 21:30:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade():
    # Nullable: rows from before languages existed are emailed in the default, English.
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("locale", sa.String(length=8), nullable=True))
    with op.batch_alter_table("supports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("locale", sa.String(length=8), nullable=True))


def downgrade():
    with op.batch_alter_table("supports", schema=None) as batch_op:
        batch_op.drop_column("locale")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("locale")
