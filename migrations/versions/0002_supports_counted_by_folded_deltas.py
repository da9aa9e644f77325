"""supports counted by folded deltas

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 18:29:06.767513

"""

import sqlalchemy as sa
from alembic import op

import campaign.models.base

# revision identifiers, used by Alembic.
revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "count_deltas",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("delta", sa.SmallInteger(), nullable=False),
        sa.Column("spend", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_count_deltas_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_count_deltas")),
    )
    op.create_table(
        "country_counts",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_country_counts_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("campaign_id", "country", name=op.f("pk_country_counts")),
    )
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("monthly_spend_total", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column(
                "last_update_emailed_at", campaign.models.base.UTCDateTime(timezone=True), nullable=True
            )
        )

    with op.batch_alter_table("milestones", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("notified_at", campaign.models.base.UTCDateTime(timezone=True), nullable=True)
        )

    with op.batch_alter_table("supports", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("confirmation_sends", sa.SmallInteger(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("ip_address", sa.String(length=45), nullable=True))

    with op.batch_alter_table("updates", schema=None) as batch_op:
        batch_op.add_column(sa.Column("emailed", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade():
    with op.batch_alter_table("updates", schema=None) as batch_op:
        batch_op.drop_column("emailed")

    with op.batch_alter_table("supports", schema=None) as batch_op:
        batch_op.drop_column("ip_address")
        batch_op.drop_column("confirmation_sends")

    with op.batch_alter_table("milestones", schema=None) as batch_op:
        batch_op.drop_column("notified_at")

    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_column("last_update_emailed_at")
        batch_op.drop_column("monthly_spend_total")

    op.drop_table("country_counts")
    op.drop_table("count_deltas")
