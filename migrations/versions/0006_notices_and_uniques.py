"""notices, one escalation, one answer, bounced mail

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 19:07:34.322018

"""

import sqlalchemy as sa
from alembic import op

import campaign.models.base

# revision identifiers, used by Alembic.
revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("topic", sa.String(length=30), nullable=False),
        sa.Column("object_id", sa.Integer(), nullable=False),
        sa.Column("created_at", campaign.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("done_at", campaign.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notices")),
        sa.UniqueConstraint("topic", "object_id", name=op.f("uq_notices_topic_object_id")),
    )
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notices_done_at"), ["done_at"], unique=False)

    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("thanks_for_id", sa.Integer(), nullable=True))
        batch_op.drop_index(batch_op.f("ix_campaigns_escalated_from_id"))
        batch_op.create_unique_constraint(batch_op.f("uq_campaigns_escalated_from_id"), ["escalated_from_id"])
        batch_op.create_unique_constraint(batch_op.f("uq_campaigns_thanks_for_id"), ["thanks_for_id"])
        batch_op.create_foreign_key(
            batch_op.f("fk_campaigns_thanks_for_id_campaigns"), "campaigns", ["thanks_for_id"], ["id"]
        )

    with op.batch_alter_table("mail_receipts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("error", sa.String(length=300), nullable=True))

    with op.batch_alter_table("responses", schema=None) as batch_op:
        batch_op.add_column(sa.Column("digest", sa.String(length=64), nullable=True))
    # Answers from before the digest existed keep distinct values.
    op.execute(sa.text("UPDATE responses SET digest = 'legacy-' || id"))
    with op.batch_alter_table("responses", schema=None) as batch_op:
        batch_op.alter_column("digest", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(
            batch_op.f("uq_responses_campaign_id_brand_id_digest"), ["campaign_id", "brand_id", "digest"]
        )


def downgrade():
    with op.batch_alter_table("responses", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_responses_campaign_id_brand_id_digest"), type_="unique")
        batch_op.drop_column("digest")

    with op.batch_alter_table("mail_receipts", schema=None) as batch_op:
        batch_op.drop_column("error")

    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_campaigns_thanks_for_id_campaigns"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("uq_campaigns_thanks_for_id"), type_="unique")
        batch_op.drop_constraint(batch_op.f("uq_campaigns_escalated_from_id"), type_="unique")
        batch_op.create_index(
            batch_op.f("ix_campaigns_escalated_from_id"), ["escalated_from_id"], unique=False
        )
        batch_op.drop_column("thanks_for_id")

    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notices_done_at"))

    op.drop_table("notices")
