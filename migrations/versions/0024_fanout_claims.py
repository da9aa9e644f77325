"""fan-out claims: a mail receipt can be claimed (by a batch about to send) before it is sent

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-02 14:30:00.000000

"""

import sqlalchemy as sa
from alembic import op

import campaign.models.base

# revision identifiers, used by Alembic.
revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("mail_receipts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("claimed_at", campaign.models.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.alter_column(
            "sent_at", existing_type=campaign.models.base.UTCDateTime(timezone=True), nullable=True
        )


def downgrade():
    # A claim never confirmed sent is dropped: the batch that owns it sends it again.
    op.execute("DELETE FROM mail_receipts WHERE sent_at IS NULL")
    with op.batch_alter_table("mail_receipts", schema=None) as batch_op:
        batch_op.alter_column(
            "sent_at", existing_type=campaign.models.base.UTCDateTime(timezone=True), nullable=False
        )
        batch_op.drop_column("claimed_at")
