"""fan-out batches: an outbox row per batch of a notice to many, swept if its job is lost

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 21:50:00.000000

"""

import sqlalchemy as sa
from alembic import op

import campaign.models.base

# revision identifiers, used by Alembic.
revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "fanout_batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("topic", sa.String(length=30), nullable=False),
        sa.Column("object_id", sa.Integer(), nullable=False),
        sa.Column("first_id", sa.Integer(), nullable=False),
        sa.Column("last_id", sa.Integer(), nullable=False),
        sa.Column("created_at", campaign.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("done_at", campaign.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fanout_batches")),
        sa.UniqueConstraint(
            "topic", "object_id", "first_id", name=op.f("uq_fanout_batches_topic_object_id_first_id")
        ),
    )
    with op.batch_alter_table("fanout_batches", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_fanout_batches_done_at"), ["done_at"], unique=False)


def downgrade():
    with op.batch_alter_table("fanout_batches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fanout_batches_done_at"))

    op.drop_table("fanout_batches")
