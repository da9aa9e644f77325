"""brands answer: deliveries, responses, verdicts, claims

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 18:39:21.789891

"""

import sqlalchemy as sa
from alembic import op

import campaign.models.base

# revision identifiers, used by Alembic.
revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "queued",
                "sent",
                "failed",
                "opened",
                "answered",
                name="deliverystate",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("after_support_id", sa.Integer(), nullable=False),
        sa.Column("up_to_support_id", sa.Integer(), nullable=False),
        sa.Column("support_count", sa.Integer(), nullable=True),
        sa.Column("total_count", sa.Integer(), nullable=True),
        sa.Column("csv_sha256", sa.String(length=64), nullable=True),
        sa.Column("pdf_sha256", sa.String(length=64), nullable=True),
        sa.Column("digest", sa.String(length=64), nullable=True),
        sa.Column("seal", sa.String(length=64), nullable=True),
        sa.Column("automatic", sa.Boolean(), nullable=False),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("created_at", campaign.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", campaign.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("failed_at", campaign.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("opened_at", campaign.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("answered_at", campaign.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["brand_id"], ["brands.id"], name=op.f("fk_deliveries_brand_id_brands")),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_deliveries_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
        sa.UniqueConstraint("campaign_id", "round", name=op.f("uq_deliveries_campaign_id_round")),
        sa.UniqueConstraint("digest", name=op.f("uq_deliveries_digest")),
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deliveries_brand_id"), ["brand_id"], unique=False)

    op.create_table(
        "responses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=True),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("author_name", sa.String(length=120), nullable=False),
        sa.Column(
            "stance",
            sa.Enum(
                "committed", "partly", "declined", "discussing", name="stance", native_enum=False, length=20
            ),
            nullable=False,
        ),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("commitment", sa.Text(), nullable=True),
        sa.Column("commitment_due", sa.Date(), nullable=True),
        sa.Column("created_at", campaign.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["author_id"], ["users.id"], name=op.f("fk_responses_author_id_users")),
        sa.ForeignKeyConstraint(["brand_id"], ["brands.id"], name=op.f("fk_responses_brand_id_brands")),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_responses_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["delivery_id"], ["deliveries.id"], name=op.f("fk_responses_delivery_id_deliveries")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_responses")),
    )
    with op.batch_alter_table("responses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_responses_brand_id"), ["brand_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_responses_campaign_id"), ["campaign_id"], unique=False)

    op.create_table(
        "verdicts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("response_id", sa.Integer(), nullable=False),
        sa.Column("support_id", sa.Integer(), nullable=False),
        sa.Column(
            "choice",
            sa.Enum("meets", "partly", "does_not", name="verdictchoice", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("created_at", campaign.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["response_id"],
            ["responses.id"],
            name=op.f("fk_verdicts_response_id_responses"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["support_id"], ["supports.id"], name=op.f("fk_verdicts_support_id_supports"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verdicts")),
        sa.UniqueConstraint("response_id", "support_id", name=op.f("uq_verdicts_response_id_support_id")),
    )
    with op.batch_alter_table("brand_members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claim_email", sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column("approved_by_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_brand_members_approved_by_id_users"), "users", ["approved_by_id"], ["id"]
        )

    with op.batch_alter_table("brands", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("email_domains", sa.String(length=300), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("approved_at", campaign.models.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("suggested_by_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_brands_suggested_by_id_users"), "users", ["suggested_by_id"], ["id"]
        )

    # Brands that existed before suggestions were possible were all added by moderators.
    op.execute(sa.text("UPDATE brands SET approved_at = created_at WHERE approved_at IS NULL"))


def downgrade():
    with op.batch_alter_table("brands", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_brands_suggested_by_id_users"), type_="foreignkey")
        batch_op.drop_column("suggested_by_id")
        batch_op.drop_column("approved_at")
        batch_op.drop_column("email_domains")

    with op.batch_alter_table("brand_members", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_brand_members_approved_by_id_users"), type_="foreignkey")
        batch_op.drop_column("approved_by_id")
        batch_op.drop_column("claim_email")

    op.drop_table("verdicts")
    with op.batch_alter_table("responses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_responses_campaign_id"))
        batch_op.drop_index(batch_op.f("ix_responses_brand_id"))

    op.drop_table("responses")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deliveries_brand_id"))

    op.drop_table("deliveries")
